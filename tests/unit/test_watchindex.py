"""watchindex.py: the Secret-users and connection-claims indexes, fed event by event as the watch stream is
read, swept after each listing, and `ready` once every watched namespace has been listed."""

from __future__ import annotations

from typing import Any

from tests.unit.fakes import apikey_spec
from wsconn.api.references import ObjectRef, SecretRef
from wsconn.core.ownership import Claimant
from wsconn.watchindex import TRIGGER_ANNOTATION, WatchIndex, connection_claims, secret_users

KEY = "00000000-0000-0000-0000-000000000001/rg/ws-main/conn"  # the connection apikey_spec() names
CREATED = "2026-01-01T00:00:00Z"


def event(
    kind: str | None,
    name: str,
    namespace: str = "team-a",
    *,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "object": {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{namespace}-{name}",
                "creationTimestamp": CREATED,
            },
            "spec": apikey_spec(**{"connectionName": "Conn", **spec}),
            "status": status or {},
        },
    }


def test_the_claims_key_the_connection_case_insensitively() -> None:
    ref = ObjectRef("team-a", "x")
    spec = apikey_spec(connectionName="Conn")
    got = connection_claims(ref, spec, {"appliedFingerprint": "sha256:1"}, CREATED)
    assert got == {KEY: Claimant("team-a", "x", CREATED, applied=True)}
    assert connection_claims(ref, {}, {}, "") == {}, "a spec that names no connection claims none"


def test_the_secret_users_are_keyed_by_the_resources_own_namespace() -> None:
    got = secret_users(
        ObjectRef("team-a", "conn"),
        apikey_spec(secret="openai"),
        {"secretVersions": {"openai": "7"}},
        "openai@7",
    )
    assert got == {
        SecretRef("team-a", "openai"): ("conn", "7", "openai@7"),
        SecretRef("team-a", "wsconn-azure-credentials"): ("conn", None, "openai@7"),
    }


def test_events_add_replace_and_drop_a_resources_entries() -> None:
    index = WatchIndex()
    added = event("ADDED", "x")
    added["object"]["metadata"]["annotations"] = {TRIGGER_ANNOTATION: "openai@3"}
    index.observe(None, added)
    assert index.claims.get(KEY) == (Claimant("team-a", "x", CREATED, applied=False),)
    assert index.secret_users.get(SecretRef("team-a", "openai")) == (("x", None, "openai@3"),)

    index.observe(None, event("MODIFIED", "x", secret="other", status={"appliedFingerprint": "sha256:1"}))
    assert index.claims.get(KEY) == (Claimant("team-a", "x", CREATED, applied=True),)
    assert SecretRef("team-a", "openai") not in index.secret_users, "a Secret no longer used is gone"
    assert index.secret_users.get(SecretRef("team-a", "other")) == (("x", None, None),)

    index.observe(None, event("ADDED", "y", "team-b"))
    assert [c.namespace for c in index.claims.get(KEY)] == ["team-a", "team-b"]
    index.observe(None, event("DELETED", "x"))
    assert [c.namespace for c in index.claims.get(KEY)] == ["team-b"]
    assert len(index) == 1
    index.observe(None, {"type": "ADDED", "object": {"metadata": {}}})
    assert len(index) == 1, "an object without a uid is not indexed"


def test_ready_once_every_watched_namespace_is_listed_and_a_relisting_sweeps_the_gone() -> None:
    index = WatchIndex(["team-a", "team-b"])
    for namespace in ("team-a", "team-b"):
        index.listing(namespace)
        index.observe(namespace, event(None, "x", namespace))
        index.observe(namespace, event(None, "y", namespace))
    index.listed("team-a")
    assert not index.ready.is_set(), "team-b is still listing"
    index.listed("team-b")
    assert index.ready.is_set()
    assert len(index.claims.get(KEY)) == 4

    # team-a's watch expired; while it was away, team-a/x was deleted.
    index.listing("team-a")
    index.observe("team-a", event(None, "y", "team-a"))
    index.listed("team-a")
    assert sorted(c.ref for c in index.claims.get(KEY)) == ["team-a/y", "team-b/x", "team-b/y"]
    assert index.ready.is_set(), "ready stays ready"


def test_the_whole_cluster_is_one_stream_and_patterns_wait_for_the_streams_started() -> None:
    cluster = WatchIndex()
    cluster.listing(None)
    cluster.listed(None)
    assert cluster.ready.is_set()

    patterns = WatchIndex(["team-*"])
    patterns.listing("team-a")
    patterns.listing("team-b")
    patterns.listed("team-a")
    assert not patterns.ready.is_set()
    patterns.listed("team-b")
    assert patterns.ready.is_set()
