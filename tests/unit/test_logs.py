"""Log records about a resource name it, in text and JSON, also when they come from code that knows nothing
of the resource (the ARM client): Kopf's own formatters over our ContextFilter, no mock."""

from __future__ import annotations

import io
import json
import logging

import kopf
from kopf._core.actions.loggers import make_formatter  # what kopf.configure installs

from wsconn.logs import ContextFilter, log_context


def _logged(log_format: kopf.LogFormat, message: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format=log_format, log_prefix=None, log_refkey="object"))
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("wsconn.arm.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with log_context(resource="ml-team/team-openai", correlation_id="c-1"):
            logger.info(message)
        logger.info("outside any resource")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_text_lines_start_with_the_resource() -> None:
    first, second = _logged(kopf.LogFormat.FULL, "ARM answered 503").splitlines()
    assert "[ml-team/team-openai] ARM answered 503" in first
    assert "ml-team" not in second


def test_json_records_carry_the_resource() -> None:
    lines = _logged(kopf.LogFormat.JSON, "ARM answered 503").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["object"] == {"namespace": "ml-team", "name": "team-openai"}
    assert first["resource"] == "ml-team/team-openai"
    assert first["correlation_id"] == "c-1"
    assert "object" not in second
