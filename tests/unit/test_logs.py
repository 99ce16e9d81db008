"""The operator's log lines name the resource they are about, in both formats, including the lines of code
that knows no object (the ARM client) logged within a reconcile."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from wsconn import cli
from wsconn.logs import log_context, object_logger
from wsconn.settings import Settings


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit_both(namespace: str, name: str) -> None:
    kopf_logger = logging.LoggerAdapter(
        logging.getLogger("kopf.objects"), {"k8s_ref": {"namespace": namespace, "name": name}}
    )
    object_logger(kopf_logger).warning("from the resource's logger")
    with log_context(resource=f"{namespace}/{name}", correlation_id="c-1"):
        logging.getLogger("wsconn.arm").warning("from the ARM client")
    logging.getLogger("wsconn.arm").warning("outside any reconcile")


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_carry_the_resources_namespace_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    cli._configure_logging(Settings(log_format="text"))
    emit_both("team-a", "openai")
    own, arm, outside = capsys.readouterr().err.splitlines()
    assert "[team-a/openai] from the resource's logger" in own
    assert "[team-a/openai] from the ARM client" in arm
    assert "] outside any reconcile" in outside
    assert "[team-a/openai]" not in outside


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_name_the_resource_under_object_without_a_text_prefix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli._configure_logging(Settings(log_format="json"))
    emit_both("team-b", "search")
    own, arm, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    for record in (own, arm):
        assert record["object"] == {"namespace": "team-b", "name": "search"}
        assert not record["message"].startswith("[")
    assert arm["resource"] == "team-b/search"
    assert "object" not in outside
