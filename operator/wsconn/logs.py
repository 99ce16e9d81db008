"""Per-object loggers that keep Kopf's object reference (for its text prefix and JSON `object` key) while
logging under our own name, so Kopf's per-handler chatter can be quieter than the operator's own lines."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

Log = logging.Logger | logging.LoggerAdapter[Any]
OBJECTS = logging.getLogger("wsconn.objects")


class MergingAdapter(logging.LoggerAdapter[Any]):
    """A LoggerAdapter whose extras are merged with the call's extras instead of replacing them."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = dict(self.extra or {}) | dict(kwargs.get("extra") or {})
        return msg, kwargs


def object_logger(kopf_logger: Log) -> MergingAdapter:
    """Our logger for one object, carrying the object reference from Kopf's logger (not posted as Events)."""
    extra = dict(getattr(kopf_logger, "extra", None) or {})
    extra["k8s_skip"] = True
    return MergingAdapter(OBJECTS, extra)


def with_correlation(log: Log, correlation_id: str) -> logging.LoggerAdapter[Any]:
    """`log` with the reconcile's correlation id in every record (`correlation_id`) and text message."""
    return _CorrelationAdapter(log, {"correlation_id": correlation_id})


class _CorrelationAdapter(MergingAdapter):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        msg, kwargs = super().process(msg, kwargs)
        return f"{msg} [correlation {kwargs['extra']['correlation_id']}]", kwargs
