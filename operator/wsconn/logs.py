"""Per-object loggers that keep Kopf's object reference (for its text prefix and JSON `object` key) while
logging under our own name, so Kopf's per-handler chatter can be quieter than the operator's own lines; and a
log context, so that records from code that knows nothing of the object (the ARM client) still carry the
resource and the reconcile's correlation id as JSON fields."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

Log = logging.Logger | logging.LoggerAdapter[Any]
OBJECTS = logging.getLogger("wsconn.objects")
_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("wsconn_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Within the block (and the tasks it awaits), every record carries `fields` unless it sets them."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Adds the current log context to records; installed on the process's handlers.

    A record from code that knows no object (the ARM client) but is logged within a resource's context also
    gets Kopf's object reference, so the text format prefixes it with `[namespace/name]` and the JSON format
    names it under `object`, exactly like the records of the resource's own logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        for key, value in context.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        resource = context.get("resource")
        if resource and not hasattr(record, "k8s_ref"):
            namespace, _, name = resource.partition("/")
            record.k8s_ref = {"namespace": namespace, "name": name}
        return True


def install_context_filter() -> None:
    """Put the ContextFilter on every handler of the root logger (after Kopf configured them)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())


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


def ref_logger(namespace: str, name: str) -> MergingAdapter:
    """Our logger for one object known by name only (a pass no Kopf handler runs), with the object reference
    Kopf's own loggers carry, so its lines look alike."""
    return MergingAdapter(OBJECTS, {"k8s_skip": True, "k8s_ref": {"namespace": namespace, "name": name}})


def with_correlation(log: Log, correlation_id: str) -> logging.LoggerAdapter[Any]:
    """`log` with the reconcile's correlation id in every record (`correlation_id`) and text message."""
    return _CorrelationAdapter(log, {"correlation_id": correlation_id})


class _CorrelationAdapter(MergingAdapter):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        msg, kwargs = super().process(msg, kwargs)
        return f"{msg} [correlation {kwargs['extra']['correlation_id']}]", kwargs
