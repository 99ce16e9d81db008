"""Answers whose body misbehaves (docs/design.md section 7: slow and malformed bodies), injected through the faults
admin API: a body trickled a few bytes at a time (an idle timeout never fires, a total deadline does), an
oversized 2xx body, a 2xx that is not JSON or is a proxy's HTML page, and a PUT answer that contradicts the
request. The operation itself takes effect; only the answer misbehaves, and only when it is a 2xx."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.emulator.support import body, conn, trust
from wsconn_testbed.emulator.client import EmulatorClient

SENT = body("ApiKey", {"key": "k"}, category="Git", target="https://sent.test/")


def _fault(emu: EmulatorClient, method: str, **effect: Any) -> None:
    emu.faults([{"methods": [method], "path_contains": "/connections/faulty", **effect}])


def _stored(emu: EmulatorClient) -> dict[str, Any]:
    emu.admin("DELETE", "faults")
    answer = emu.arm("GET", conn("faulty"))
    assert answer.status_code == 200
    return dict(answer.json())


def test_trickled_body_beats_an_idle_timeout(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("faulty"), json=SENT)
    expected = emu.arm("GET", conn("faulty")).json()
    _fault(emu, "GET", trickle={"bytes": 100, "every": 0.3})
    idle_only = httpx.Timeout(1.5)  # connect, read, write and pool each 1.5 s: no total deadline
    started = time.monotonic()
    answer = httpx.get(
        emu.info["arm_endpoint"] + conn("faulty"),
        params={"api-version": "2025-06-01"},
        headers={"Authorization": f"Bearer {emu.token()}"},
        verify=trust(emu.info),
        timeout=idle_only,
    )
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.json() == {**expected, "systemData": answer.json()["systemData"]}
    chunks = -(-len(answer.content) // 100)
    assert chunks >= 10
    assert elapsed >= 0.3 * (chunks - 1) > 1.5  # longer than the idle timeout, which never fired
    [entry] = [e for e in emu.requests() if e["fault"]]
    assert (entry["method"], entry["fault"]) == ("GET", "trickle")


def test_trickled_body_trips_a_total_deadline(emu: EmulatorClient) -> None:
    _fault(emu, "PUT", trickle={"bytes": 20, "every": 0.5})

    async def put_with_deadline() -> None:
        async with httpx.AsyncClient(verify=trust(emu.info), timeout=5) as client:
            await asyncio.wait_for(
                client.put(
                    emu.info["arm_endpoint"] + conn("faulty"),
                    params={"api-version": "2025-06-01"},
                    headers={"Authorization": f"Bearer {emu.token()}"},
                    json=SENT,
                ),
                timeout=0.5,
            )

    started = time.monotonic()
    try:
        asyncio.run(put_with_deadline())
    except TimeoutError:
        pass
    else:
        raise AssertionError("the trickled answer arrived within the deadline")
    assert time.monotonic() - started < 10  # the whole answer would take about 30 s
    assert _stored(emu)["properties"]["target"] == "https://sent.test/"  # the write took effect
    assert emu.arm("GET", conn("faulty")).status_code == 200  # the emulator shrugged off the lost client


def test_oversized_body(emu: EmulatorClient) -> None:
    _fault(emu, "PUT", oversize_mib=5)
    answer = emu.arm("PUT", conn("faulty"), json=SENT)
    assert answer.status_code == 200
    assert len(answer.content) == 5 * 1024 * 1024
    assert answer.headers["content-length"] == str(5 * 1024 * 1024)
    parsed = answer.json()
    assert len(parsed["padding"]) > 5_000_000
    assert parsed["name"] == "faulty"
    assert _stored(emu)["properties"]["target"] == "https://sent.test/"


def test_bodies_that_are_not_json(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("faulty"), json=SENT)
    _fault(emu, "GET", malformed="not-json")
    broken = emu.arm("GET", conn("faulty"))
    assert (broken.status_code, broken.content) == (200, b"{not json")
    assert broken.headers["content-type"] == "application/json; charset=utf-8"
    _fault(emu, "GET", malformed="html")
    page = emu.arm("GET", conn("faulty"))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>")
    assert emu.admin("GET", "counters")["injected"] == {"not-json": 1, "html": 1}


def test_contradicting_put_answer(emu: EmulatorClient) -> None:
    _fault(emu, "PUT", contradict=True)
    answer = emu.arm("PUT", conn("faulty"), json=SENT)
    assert answer.status_code == 200
    assert answer.json()["properties"]["target"] == "https://contradiction.invalid/"
    assert answer.json()["properties"]["authType"] == "None"
    assert "credentials" not in answer.json()["properties"]
    stored = _stored(emu)["properties"]
    assert (stored["target"], stored["authType"]) == ("https://sent.test/", "ApiKey")
    _fault(emu, "PUT", contradict={"category": "S3"})
    assert emu.arm("PUT", conn("faulty"), json=SENT).json()["properties"]["category"] == "S3"


def test_body_faults_leave_error_answers_alone(emu: EmulatorClient) -> None:
    _fault(emu, "GET", malformed="not-json")
    missing = emu.arm("GET", conn("faulty"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "UserError"
    _fault(emu, "DELETE", oversize_mib=1)
    assert emu.arm("DELETE", conn("faulty")).content == b""  # no body to grow
    assert [e["fault"] for e in emu.requests()] == ["", ""]
    assert emu.admin("GET", "counters")["injected"] == {}


def test_body_faults_count_and_expire(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("faulty"), json=SENT)
    emu.faults([{"methods": ["GET"], "malformed": "html", "count": 1}])
    assert emu.arm("GET", conn("faulty")).headers["content-type"].startswith("text/html")
    assert json.loads(emu.arm("GET", conn("faulty")).content)["name"] == "faulty"
