"""Kubernetes label selectors (`--secret-selector`), parsed and matched as the API server does.

The grammar of `kubectl get -l` (k8s.io/apimachinery/pkg/labels/selector.go): requirements separated by
commas, each `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)` or `key notin (v1,v2)`;
every requirement must hold. `!=` and `notin` hold for a Secret without the key, as in Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Operator = Literal["exists", "absent", "in", "notin"]
# A label key: an optional DNS-subdomain prefix and a name of up to 63 characters; a value: up to 63.
_KEY: Final = r"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE: Final = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET: Final = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY: Final = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_EXISTS: Final = re.compile(rf"^(?P<not>!?)\s*(?P<key>{_KEY})$")


class SelectorError(ValueError):
    """The text is not a label selector."""


@dataclass(frozen=True)
class Requirement:
    """One requirement on one label."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` meet it."""
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "absent":
            return self.key not in labels
        if self.operator == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    """A label selector; `text` is how it was written (for messages)."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for `labels`."""
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return repr(self.text)


def parse_selector(text: str) -> Selector | None:
    """The selector `text` says; None for an empty text (no restriction). Raises SelectorError."""
    if not text.strip():
        return None
    return Selector(text.strip(), tuple(_requirement(part.strip()) for part in _split(text)))


def _split(text: str) -> list[str]:
    """Split on the commas that are not inside a set's parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            raise SelectorError(f"unbalanced parentheses in label selector {text!r}")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if depth:
        raise SelectorError(f"unbalanced parentheses in label selector {text!r}")
    return parts


def _requirement(part: str) -> Requirement:
    if found := _SET.match(part):
        values = frozenset(v.strip() for v in found["values"].split(","))
        if any(not re.fullmatch(_VALUE, v) for v in values) or values == {""}:
            raise SelectorError(f"bad values in label selector requirement {part!r}")
        return Requirement(found["key"], "in" if found["op"] == "in" else "notin", values)
    if found := _EQUALITY.match(part):
        operator: Operator = "notin" if found["op"] == "!=" else "in"
        return Requirement(found["key"], operator, frozenset({found["value"]}))
    if found := _EXISTS.match(part):
        return Requirement(found["key"], "absent" if found["not"] else "exists")
    raise SelectorError(f"not a label selector requirement: {part!r}")
