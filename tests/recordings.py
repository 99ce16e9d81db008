"""The real ARM recordings in `tests/fixtures/recordings/`, read as typed data for the replay tiers.

The files are evidence of what the real service did (their README lists the facts and the recorders'
sanitised placeholders); this module only reads them. Nothing here knows the emulator or the operator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDINGS_DIR = Path(__file__).parent / "fixtures" / "recordings"


@dataclass(frozen=True)
class Request:
    """A recorded request: the path has no host; headers are the recorder's kept subset."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Response:
    """A recorded response: status, the kept headers, and the body exactly as recorded (parsed JSON)."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Interaction:
    """One request and the service's answer, with its position in the file."""

    index: int
    request: Request
    response: Response

    @property
    def api_version(self) -> str:
        """The api-version the request asked for."""
        return self.request.query.get("api-version", "")


@dataclass(frozen=True)
class Recording:
    """One recording file: where it came from and its interactions in recorded order."""

    file: str
    source: dict[str, Any]
    recorded: str
    client: str
    interactions: tuple[Interaction, ...]


def load(path: Path) -> Recording:
    """Read one recording file."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    interactions = tuple(
        Interaction(
            index=i,
            request=Request(
                method=item["request"]["method"],
                path=item["request"]["path"],
                query=dict(item["request"].get("query") or {}),
                headers=dict(item["request"].get("headers") or {}),
                body=item["request"].get("body"),
            ),
            response=Response(
                status=int(item["response"]["status"]),
                headers=dict(item["response"].get("headers") or {}),
                body=item["response"].get("body"),
            ),
        )
        for i, item in enumerate(raw["interactions"])
    )
    return Recording(
        file=path.name,
        source=dict(raw["source"]),
        recorded=str(raw["recorded"]),
        client=str(raw.get("client", "")),
        interactions=interactions,
    )


def all_recordings() -> list[Recording]:
    """Every recording, in file-name order (the replay tiers' unit of work)."""
    return [load(path) for path in sorted(RECORDINGS_DIR.glob("*.json"))]
