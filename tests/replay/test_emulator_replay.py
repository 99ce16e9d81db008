"""The recordings as a contract: every recorded request of every file in tests/fixtures/recordings/ is sent to
the emulator, in recorded order, on a freshly reset emulator per file, and its answer is held against the
recorded one: the status, the recorded headers' presence, and every body value (compare.py).

Exempt from exact comparison, because they are times, request ids or the recorders' sanitised
placeholders (JSON paths; `value[].` prefixes them in a list answer):

- `systemData.createdAt`, `systemData.lastModifiedAt`: times; must have ARM's format
  (`2026-03-27T04:20:04.0059254Z`: up to 7 fractional digits) and correspond one to one with the recorded
  values within the file (a replace's new `createdAt`, `createdAt == lastModifiedAt` after a PUT);
- `time` of the RP's 404 body: a time, with `+00:00`;
- `systemData.createdBy`, `systemData.lastModifiedBy`: `Sanitized` (azure-sdk-assets' placeholder) or the
  recording account's e-mail address (Azure Service Operator's); must be a name, one to one;
- `correlation.operation`, `correlation.request` of the RP's 404 body: request ids; 32 and 16 hex digits.

Everything else compares exactly, member order included: ids (the recorded subscriptions, resource groups
and workspaces exist in the emulator, placeholders included), server-added properties, casing, metadata, the
404 body's message and location, `systemData.createdByType` (the recorders were users). A connection a
recording uses before it creates it existed before the recording started (the PowerShell Remove recording
deletes `test01`, which its New test had created): the replay creates it first, with a PUT that is not
compared and that the later requests overwrite or delete. A recording the
emulator cannot reproduce fails here; every file is replayed, none is skipped. Each file's counts (and the
interactions reproduced exactly) go to the run's summary line `replay (emulator): ...`.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.recordings import Interaction, Recording, all_recordings
from tests.replay import tally
from tests.replay.compare import Bindings, Tally, compare_body, compare_headers
from tests.replay.conftest import Replayer

RECORDINGS = all_recordings()
PRE_EXISTING = {
    "properties": {"authType": "None", "category": "ContainerRegistry", "target": "https://example.test"}
}


def _pre_existing(recording: Recording) -> list[Interaction]:
    """The first interaction on each connection that the recording uses (with success) before creating it."""
    seen: set[str] = set()
    found = []
    for interaction in recording.interactions:
        connection = interaction.request.path.removesuffix("/listsecrets").lower()
        if connection in seen or connection.endswith("/connections"):
            continue
        seen.add(connection)
        if interaction.request.method != "PUT" and interaction.response.status < 300:
            found.append(interaction)
    return found


def _send(replayer: Replayer, interaction: Interaction) -> httpx.Response:
    request = interaction.request
    content = None if request.body is None else json.dumps(request.body).encode()
    return replayer.client.arm(
        request.method,
        request.path,
        None,
        bearer=replayer.bearer,
        params=request.query,
        headers=request.headers,
        content=content,
    )


def compare_interaction(interaction: Interaction, answer: httpx.Response, bindings: Bindings) -> Tally:
    """One replayed answer against its recording."""
    recorded = interaction.response
    result = Tally(values=1)
    if answer.status_code != recorded.status:
        result.mismatches.append(f"status {answer.status_code} instead of {recorded.status}")
    result.add(compare_headers(recorded.headers, dict(answer.headers)))
    if recorded.body is None:
        result.values += 1
        if answer.content:
            result.mismatches.append(f"a body where the recording has none: {answer.text[:200]!r}")
    else:
        try:
            replayed = answer.json()
        except ValueError:
            result.mismatches.append(f"a body that is not JSON: {answer.text[:200]!r}")
        else:
            result.add(compare_body(recorded.body, replayed, bindings))
    return result


@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.file.removesuffix(".json") for r in RECORDINGS])
def test_recording_is_reproduced(replayer: Replayer, recording: Recording) -> None:
    replayer.client.admin("POST", "reset")
    for interaction in _pre_existing(recording):
        path = interaction.request.path.removesuffix("/listsecrets")
        created = replayer.client.arm(
            "PUT", path, interaction.api_version, bearer=replayer.bearer, json=PRE_EXISTING
        )
        assert created.status_code == 200, created.text
    bindings, total, exact, report = Bindings(), Tally(), 0, []
    for interaction in recording.interactions:
        result = compare_interaction(interaction, _send(replayer, interaction), bindings)
        total.add(result)
        exact += not result.mismatches
        request = interaction.request
        report += [f"#{interaction.index} {request.method} {request.path}: {m}" for m in result.mismatches]
    tally.record(
        "emulator",
        files=1,
        interactions=len(recording.interactions),
        exact=exact,
        values=total.values,
        exempt=total.exempt,
        headers=total.headers,
    )
    assert not report, f"{recording.file} ({recording.source['repo']}):\n" + "\n".join(report)
