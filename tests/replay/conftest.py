"""The replay tier's emulator: one `wsconn-emulator` process per session (per xdist worker), configured
through its ordinary config file with every workspace the recordings name (the recorders' placeholders
included, e.g. subscription `00000000-0000-0000-0000-000000000`, whose last group has 9 digits) in the location
the recordings' own answers name, and a user for the recorders, who signed in as users (their answers'
systemData says `User`). Tests reset it before each recording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.recordings import Recording, all_recordings
from wsconn_testbed.emulator.client import EmulatorClient, running_emulator

RECORDER = "recorder@replay.wsconn.test"
_WORKSPACE = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/[^/]+/workspaces/([^/]+)/")


def recorded_workspaces(recordings: list[Recording]) -> list[dict[str, str]]:
    """Every workspace the recordings address, with the location their answers name (the RP's 404 body
    carries it), as emulator config entries."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    for recording in recordings:
        for interaction in recording.interactions:
            match = _WORKSPACE.match(interaction.request.path)
            assert match, interaction.request.path
            sub, rg, ws = match.groups()
            entry = found.setdefault(
                (sub, rg, ws), {"subscription": sub, "resource_group": rg, "workspace": ws}
            )
            body = interaction.response.body
            if isinstance(body, dict) and isinstance(body.get("location"), str):
                entry["location"] = body["location"]
    return list(found.values())


@dataclass(frozen=True)
class Replayer:
    """The emulator and the recorder's bearer token."""

    client: EmulatorClient
    bearer: str


@pytest.fixture(scope="session")
def replayer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayer]:
    """The emulator configured for the recordings, and a token of the recorder."""
    work = tmp_path_factory.mktemp("replay")
    password = "replay-recorder-password"
    config = {
        "workspaces": recorded_workspaces(all_recordings()),
        "users": [{"username": RECORDER, "password": password}],
    }
    (work / "config.json").write_text(json.dumps(config))
    with running_emulator(work, "--config", str(work / "config.json")) as (_, client):
        yield Replayer(client, client.user_token(RECORDER, password))
