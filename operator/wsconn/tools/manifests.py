"""Reading and writing manifests: files, directories (recursively) and stdin, multi-document YAML.

A document is addressed as `file:index`, the index counting every document of the file from 0 (empty ones
included), the way `yq 'select(document_index == N)'` counts, so a reported problem can be pulled out with yq.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import yaml

from wsconn.api.crd import GROUP, KIND, VERSION
from wsconn.api.spec import WorkspaceRef
from wsconn.core.credentials import FetchedSecret

API_VERSION: Final = f"{GROUP}/{VERSION}"
STDIN: Final = "-"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
SECRET_WARNING: Final = "holds credential values: keep it out of Git unless encrypted (Sealed Secrets, SOPS) and delete it once applied"  # noqa: S105


@dataclass(frozen=True)
class Document:
    """One YAML document of an input, as parsed (None for an empty document)."""

    source: str
    index: int
    body: Any

    @property
    def kind(self) -> str:
        """The document's kind ('' when it has none)."""
        return str(self.body.get("kind") or "") if isinstance(self.body, Mapping) else ""

    @property
    def is_connection(self) -> bool:
        """Whether this is a WorkspaceConnection of our group (any version of it)."""
        if not isinstance(self.body, Mapping):
            return False
        group = str(self.body.get("apiVersion") or "").split("/", 1)[0]
        return self.kind == KIND and group == GROUP

    @property
    def name(self) -> str:
        """metadata.name ('' when absent)."""
        meta = self.body.get("metadata") if isinstance(self.body, Mapping) else None
        return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""

    @property
    def namespace(self) -> str:
        """metadata.namespace ('' when absent)."""
        meta = self.body.get("metadata") if isinstance(self.body, Mapping) else None
        return str(meta.get("namespace") or "") if isinstance(meta, Mapping) else ""


@dataclass(frozen=True)
class ReadError:
    """An input that could not be read or parsed; `index` is the document that failed (0 when unknown)."""

    source: str
    index: int
    message: str


def expand(paths: Sequence[str]) -> Iterator[str]:
    """Each path, with directories replaced by the manifest files under them (sorted, recursively)."""
    for path in paths:
        p = Path(path)
        if path != STDIN and p.is_dir():
            yield from (
                str(f) for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in MANIFEST_SUFFIXES
            )
        else:
            yield path


class _Loader(yaml.SafeLoader):
    """YAML as the API server reads it: timestamps stay strings (kubectl sends them as JSON strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_all(text: str) -> Iterator[Any]:
    """The documents of a YAML stream."""
    return iter(yaml.load_all(text, Loader=_Loader))  # a SafeLoader subclass


def read_documents(
    paths: Sequence[str], stdin: TextIO | None = None
) -> tuple[list[Document], list[ReadError]]:
    """Every document of every input, and what could not be read."""
    documents: list[Document] = []
    errors: list[ReadError] = []
    for source in expand(paths):
        try:
            text = (
                (stdin or sys.stdin).read() if source == STDIN else Path(source).read_text(encoding="utf-8")
            )
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ReadError(source, 0, f"cannot read: {exc}"))
            continue
        try:
            for index, body in enumerate(load_all(text)):
                documents.append(Document(source, index, body))
        except yaml.YAMLError as exc:
            errors.append(ReadError(source, len([d for d in documents if d.source == source]), _yaml(exc)))
    return documents, errors


def _yaml(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML{where}: {problem}"


def secrets_in(documents: Sequence[Document]) -> dict[tuple[str, str], FetchedSecret]:
    """The Secrets among the documents, keyed by (namespace, name), with data decoded (stringData wins)."""
    found: dict[tuple[str, str], FetchedSecret] = {}
    for doc in documents:
        if doc.kind != "Secret" or str(doc.body.get("apiVersion")) != "v1" or not doc.name:
            continue
        data: dict[str, bytes] = {}
        for key, value in (doc.body.get("data") or {}).items():
            try:
                data[str(key)] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                data[str(key)] = b""
        for key, value in (doc.body.get("stringData") or {}).items():
            data[str(key)] = str(value if value is not None else "").encode()
        found[(doc.namespace, doc.name)] = FetchedSecret(name=doc.name, resource_version="", data=data)
    return found


class _Dumper(yaml.SafeDumper):
    """Block style, keys in insertion order, multi-line strings as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(objects: Sequence[Mapping[str, Any]], header: str = "") -> str:
    """Objects as a multi-document YAML stream, with an optional comment header."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) if header else ""
    docs = [
        yaml.dump(dict(o), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120) for o in objects
    ]
    return comment + "".join(f"---\n{d}" for d in docs)


def workspace_ref(text: str) -> WorkspaceRef:
    """`SUB/RG/NAME` (or a workspace's ARM ID) as a WorkspaceRef; ValueError when it is neither."""
    parts = [p for p in text.strip().split("/") if p]
    if len(parts) >= 8 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
        return WorkspaceRef(parts[1], parts[3], parts[7])
    if len(parts) != 3:
        raise ValueError(f"{text!r} is not SUBSCRIPTION/RESOURCE_GROUP/WORKSPACE nor a workspace's ARM ID")
    return WorkspaceRef(*parts)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds credential values): created 0600, never widened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
