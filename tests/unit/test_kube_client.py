"""kube/: the operator's own Kubernetes client and its four uses (Secret reads, status patches, the trigger
annotation, Events), against httpx's in-memory transport standing in for the API server."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from typing import Any

import httpx
import pytest

from tests.unit.virtual import run
from wsconn.api.references import ObjectRef, SecretRef
from wsconn.handlers import Trigger
from wsconn.kube.client import Endpoint, KubeClient, KubeError
from wsconn.kube.events import EventPoster
from wsconn.kube.secrets import METADATA_ONLY, SecretReader, SecretReadError, SeenSecrets
from wsconn.kube.status import StatusPatcher
from wsconn.watchindex import TRIGGER_ANNOTATION

CONN = "/apis/azureml.dev/v1alpha1/namespaces/ns/workspaceconnections/conn"


class ApiServer:
    """Answers from a table of (method, path) -> (status, body); records every request with its token."""

    def __init__(self, answers: dict[tuple[str, str], list[tuple[int, Any]]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, str, str, Any]] = []
        self.accepts: list[str] = []
        self.logins = 0

    def login(self) -> Endpoint:
        self.logins += 1
        return Endpoint(
            "https://api.test", ssl.create_default_context(), {"Authorization": f"Bearer t{self.logins}"}
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append(
            (
                request.method,
                request.url.path,
                request.headers.get("Authorization", ""),
                request.headers.get("Content-Type", ""),
                body,
            )
        )
        self.accepts.append(request.headers.get("Accept", ""))
        status, answer = self.answers[(request.method, request.url.path)].pop(0)
        return httpx.Response(status, json=answer)

    def client(self) -> KubeClient:
        return KubeClient(self.login, transport=httpx.MockTransport(self.handle))


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


SECRET = {
    "metadata": {"name": "openai", "resourceVersion": "42", "uid": "u-1", "labels": {"team": "a"}},
    "data": {"key": b64("s3cret")},
}


def test_a_secret_is_read_from_its_own_namespace_and_decoded() -> None:
    api = ApiServer({("GET", "/api/v1/namespaces/ns/secrets/openai"): [(200, SECRET)]})
    found = run(SecretReader(api.client()).fetch([SecretRef("ns", "openai")]))
    secret = found[SecretRef("ns", "openai")]
    assert secret is not None
    assert (secret.resource_version, secret.uid, dict(secret.labels)) == ("42", "u-1", {"team": "a"})
    assert secret.data == {"key": b"s3cret"}


def test_a_missing_secret_is_none_and_a_failed_read_names_its_status() -> None:
    api = ApiServer(
        {
            ("GET", "/api/v1/namespaces/ns/secrets/gone"): [(404, {"reason": "NotFound"})],
            ("GET", "/api/v1/namespaces/ns/secrets/denied"): [(403, {"reason": "Forbidden"})],
        }
    )
    reader = SecretReader(api.client())
    assert run(reader.fetch([SecretRef("ns", "gone")])) == {SecretRef("ns", "gone"): None}
    with pytest.raises(SecretReadError) as failed:
        run(reader.fetch([SecretRef("ns", "denied")]))
    assert failed.value.status == 403
    assert "s3cret" not in str(failed.value)


def test_an_unreachable_api_server_is_status_0() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = KubeClient(ApiServer({}).login, transport=httpx.MockTransport(refuse))
    with pytest.raises(KubeError) as failed:
        run(client.request("GET", "/api/v1/namespaces/ns/secrets/x"))
    assert failed.value.status == 0


def test_a_401_logs_in_again_once_then_gives_up() -> None:
    path = "/api/v1/namespaces/ns/secrets/openai"
    api = ApiServer({("GET", path): [(401, {}), (200, SECRET), (401, {}), (401, {})]})
    client = api.client()
    assert run(client.request("GET", path)) == SECRET
    assert [r[2] for r in api.requests] == ["Bearer t1", "Bearer t2"], "the rotated token, read again"

    async def twice() -> None:
        await client.request("GET", path)

    with pytest.raises(KubeError) as failed:
        run(twice())
    assert failed.value.status == 401


def test_status_is_merge_patched_on_the_status_subresource_and_nothing_is_sent_for_no_change() -> None:
    api = ApiServer({("PATCH", f"{CONN}/status"): [(200, {})]})
    writer = StatusPatcher(api.client())
    run(writer.patch_status(ObjectRef("ns", "conn"), {}))
    run(writer.patch_status(ObjectRef("ns", "conn"), {"lastCheckedTime": "2026-12-02T00:00:00Z"}))
    assert api.requests == [
        (
            "PATCH",
            f"{CONN}/status",
            "Bearer t1",
            "application/merge-patch+json",
            {"status": {"lastCheckedTime": "2026-12-02T00:00:00Z"}},
        )
    ]


def test_the_trigger_patches_only_the_annotation_and_a_gone_resource_is_no_error() -> None:
    api = ApiServer({("PATCH", CONN): [(200, {}), (404, {})]})
    trigger = Trigger(api.client())
    run(trigger(ObjectRef("ns", "conn"), "openai@8"))
    run(trigger(ObjectRef("ns", "conn"), "openai@9"))
    assert [r[4] for r in api.requests] == [
        {"metadata": {"annotations": {TRIGGER_ANNOTATION: "openai@8"}}},
        {"metadata": {"annotations": {TRIGGER_ANNOTATION: "openai@9"}}},
    ]
    assert {r[3] for r in api.requests} == {"application/merge-patch+json"}


def test_an_event_names_the_object_and_a_failure_to_post_it_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = "/api/v1/namespaces/ns/events"
    api = ApiServer({("POST", path): [(201, {}), (403, {})]})
    events = EventPoster(api.client(), component="wsconn-operator", instance="pod-1")
    run(events.post(ObjectRef("ns", "conn"), "uid-1", type="Normal", reason="DriftCorrected", message="m"))
    run(events.post(ObjectRef("ns", "conn"), "uid-1", type="Normal", reason="Applied", message="m" * 5000))
    first, second = (r[4] for r in api.requests)
    assert first["involvedObject"] == {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "namespace": "ns",
        "name": "conn",
        "uid": "uid-1",
    }
    assert (first["reason"], first["type"], first["reportingComponent"]) == (
        "DriftCorrected",
        "Normal",
        "wsconn-operator",
    )
    assert len(second["message"]) == 1024
    assert "could not post the Applied event" in caplog.text


class Watch:
    """The Secret watch as a dict: a Secret's version, False where it is known absent, None unknown."""

    def __init__(self, known: dict[SecretRef, str | bool | None], default: bool | None) -> None:
        self.known, self.default = known, default

    def seen(self, ref: SecretRef) -> bool | None:
        value = self.known.get(ref, self.default)
        return value if value is None or isinstance(value, bool) else True

    def version(self, ref: SecretRef) -> str | None:
        value = self.known.get(ref)
        return value if isinstance(value, str) else None


def test_a_secret_the_watch_has_not_seen_is_absent_without_a_request_and_an_unknown_one_is_read() -> None:
    api = ApiServer({("GET", "/api/v1/namespaces/ns/secrets/openai"): [(200, SECRET), (200, SECRET)]})
    reader = SecretReader(api.client(), watch=Watch({SecretRef("ns", "openai"): "7"}, default=False))
    refs = [SecretRef("ns", "openai"), SecretRef("ns", "wsconn-azure-credentials")]
    found = run(reader.fetch(refs))
    assert found[SecretRef("ns", "wsconn-azure-credentials")] is None
    assert [r[1] for r in api.requests] == ["/api/v1/namespaces/ns/secrets/openai"], "one request, not two"
    unknown = SecretReader(api.client(), watch=Watch({}, default=None))
    assert run(unknown.fetch([SecretRef("ns", "openai")]))[SecretRef("ns", "openai")] is not None


def test_versions_come_from_the_watch_without_a_request_and_only_when_every_secret_is_known() -> None:
    api = ApiServer({})
    a, b = SecretRef("ns", "a"), SecretRef("ns", "b")
    watch = Watch({a: "7", b: "9"}, default=False)
    assert SecretReader(api.client(), watch=watch).versions([a, b]) == {a: "7", b: "9"}
    assert SecretReader(api.client(), watch=watch).versions([]) == {}
    assert SecretReader(api.client(), watch=watch).versions([a, SecretRef("ns", "c")]) is None, "c is absent"
    assert SecretReader(api.client(), watch=Watch({a: ""}, default=None)).versions([a]) is None, "no version"
    assert SecretReader(api.client()).versions([a]) is None, "without the watch (--secret-selector)"
    assert api.requests == []


CREDENTIALS = {
    "metadata": {"name": "wsconn-azure-credentials", "resourceVersion": "42", "uid": "u-2"},
    "data": {"AZURE_CLIENT_ID": b64("app"), "AZURE_CLIENT_SECRET": b64("s3cret"), "other": b64("x")},
}
CREDENTIALS_PATH = "/api/v1/namespaces/ns/secrets/wsconn-azure-credentials"
KEYS = frozenset({"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"})


def test_a_credential_secret_is_read_once_per_version_the_watch_sees_and_keeps_only_its_keys() -> None:
    ref = SecretRef("ns", "wsconn-azure-credentials")
    rotated = {**CREDENTIALS, "metadata": {**CREDENTIALS["metadata"], "resourceVersion": "43"}}
    api = ApiServer({("GET", CREDENTIALS_PATH): [(200, CREDENTIALS), (200, rotated)]})
    watch = Watch({ref: "42"}, default=False)
    reader = SecretReader(api.client(), watch=watch)
    first = run(reader.credential(ref, KEYS))
    assert first is not None
    assert dict(first.data) == {
        "AZURE_CLIENT_ID": b"app",
        "AZURE_CLIENT_SECRET": b"s3cret",
    }
    assert run(reader.credential(ref, KEYS)) is first, "the watch still sees version 42: no request"
    assert len(api.requests) == 1
    watch.known[ref] = "43"
    second = run(reader.credential(ref, KEYS))
    assert second is not None
    assert second.resource_version == "43", "a new version is read"
    assert run(reader.credential(ref, KEYS)) is second
    assert len(api.requests) == 2
    del watch.known[ref]
    assert run(reader.credential(ref, KEYS)) is None, "deleted: absent without a request"
    assert len(api.requests) == 2


def test_without_the_watch_a_credential_secret_is_read_every_time() -> None:
    ref = SecretRef("ns", "wsconn-azure-credentials")
    api = ApiServer({("GET", CREDENTIALS_PATH): [(200, CREDENTIALS), (200, CREDENTIALS), (404, {})]})
    reader = SecretReader(api.client())
    assert run(reader.credential(ref, KEYS)) is not None
    assert run(reader.credential(ref, KEYS)) is not None
    assert run(reader.credential(ref, KEYS)) is None
    assert len(api.requests) == 3


def names_page(names: list[str], token: str = "") -> dict[str, Any]:
    items = [{"metadata": {"name": n, "resourceVersion": f"{n}1"}} for n in names]
    return {"metadata": {"continue": token}, "items": items}


def test_which_secrets_exist_is_listed_once_per_namespace_as_metadata_then_kept_by_events() -> None:
    path = "/api/v1/namespaces/ns/secrets"
    api = ApiServer({("GET", path): [(200, names_page(["a"], "next")), (200, names_page(["b", "c"]))]})
    seen = SeenSecrets(api.client())

    async def scenario() -> None:
        assert seen.seen(SecretRef("ns", "a")) is None, "not listed yet: unknown, and the list is asked for"
        assert seen.version(SecretRef("ns", "a")) is None
        seen.changed(SecretRef("ns", "d"), version="d1")  # while the list is on its way
        seen.changed(SecretRef("ns", "c"), version=None)
        assert seen.seen(SecretRef("ns", "a")) is None
        await asyncio.sleep(0.1)
        assert [seen.seen(SecretRef("ns", n)) for n in "abcde"] == [True, True, False, True, False]
        assert [seen.version(SecretRef("ns", n)) for n in "abcd"] == ["a1", "b1", None, "d1"]
        seen.changed(SecretRef("ns", "e"), version="e1")
        seen.changed(SecretRef("ns", "a"), version=None)
        seen.changed(SecretRef("ns", "b"), version="b2")
        assert [seen.seen(SecretRef("ns", n)) for n in "ae"] == [False, True]
        assert [seen.version(SecretRef("ns", n)) for n in "abe"] == [None, "b2", "e1"]
        await seen.close()

    run(scenario())
    assert [r[1] for r in api.requests] == [path, path], "two pages, one namespace listed once"
    assert set(api.accepts) == {METADATA_ONLY}, "names only: no Secret data travels for the list"


def test_a_namespace_that_cannot_be_listed_stays_unknown_and_is_listed_again_later() -> None:
    path = "/api/v1/namespaces/ns/secrets"
    api = ApiServer({("GET", path): [(403, {}), (200, names_page([]))]})
    seen = SeenSecrets(api.client())

    async def scenario() -> None:
        assert seen.seen(SecretRef("ns", "a")) is None
        await asyncio.sleep(0.1)
        assert seen.seen(SecretRef("ns", "a")) is None, "the failed list left it unknown, and asks again"
        await asyncio.sleep(0.1)
        assert seen.seen(SecretRef("ns", "a")) is False

    run(scenario())
