"""The pure parts of the benchmark's large-N case (`bench/run --sizes 10000 --subscriptions 10 --identities 10
--arm-rate-scale F`): where each connection goes, the write buckets and ARM's floor at a scaled rate, the
identity Secrets, the emulator's and the operator's scaled rates, the audit-log reader, the submission's
retries and the report's rows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.cli import parse_args, plans
from bench.kube import AuditLog
from bench.phases import (
    NAMESPACES,
    SizePlan,
    _epoch,
    _limits,
    last_put_by_workspace,
    operator_rates,
    workload_examples,
)
from bench.report import _rows, column_name, markdown
from bench.workload import (
    NAMESPACE_IDENTITY_SECRET,
    OPERATOR_PRINCIPAL,
    Workspace,
    buckets,
    build,
    create,
    identity_secret,
    placement,
    team_namespaces,
)

REPO = Path(__file__).resolve().parents[2]
LATENCY = (0.1, 0.3)


def workspaces(count: int) -> list[Workspace]:
    return [Workspace(f"00000000-0000-0000-0000-{k:012d}", "rg-bench", f"ws-bench-{k}") for k in range(count)]


def test_without_teams_the_placement_is_the_one_every_earlier_result_used() -> None:
    # Example i mod 12, namespace (i // 12) mod 3, workspace i mod K: the 2026-12-01/02 results' workload.
    assert [placement(i, 12, 3, 10, teams=False) for i in (0, 1, 11, 12, 25, 36)] == [
        (0, 0, 0),
        (1, 0, 1),
        (11, 0, 1),
        (0, 1, 2),
        (1, 2, 5),
        (0, 0, 6),
    ]


def test_a_team_namespace_is_in_one_subscription_and_holds_every_auth_type() -> None:
    examples = workload_examples(REPO, "examples")
    namespaces = team_namespaces(10)
    items = build(examples, 2400, namespaces, workspaces(10), "run1", teams=True)
    subscriptions: dict[str, set[str]] = {}
    auth_types: dict[str, set[str]] = {}
    for item in items:
        subscriptions.setdefault(item.namespace, set()).add(
            item.connection["spec"]["workspace"]["subscriptionId"]
        )
        auth_types.setdefault(item.namespace, set()).add(item.auth_type)
    assert sorted(subscriptions) == namespaces
    assert all(len(s) == 1 for s in subscriptions.values())
    assert len({s for subs in subscriptions.values() for s in subs}) == 10  # one namespace per subscription
    every = {e.connection["spec"]["authType"] for e in examples}
    assert all(a == every for a in auth_types.values())
    assert Counter(i.namespace for i in items) == dict.fromkeys(namespaces, 240)
    assert len({i.name for i in items}) == 2400


def test_more_identities_than_subscriptions_share_the_subscriptions() -> None:
    # Three teams in one subscription: three principals, three buckets there.
    assert buckets(300, 3, 1, 3, teams=True) == {(0, "ns0"): 100, (0, "ns1"): 100, (0, "ns2"): 100}


def test_namespaces_without_an_identity_share_the_operator_principal_per_subscription() -> None:
    # 10 subscriptions, 8 identities: namespaces 8 and 9 act as the operator, each in its own subscription.
    counts = buckets(10_000, 10, 10, 8, teams=True)
    assert counts == {
        **{(k, f"ns{k}"): 1000 for k in range(8)},
        (8, OPERATOR_PRINCIPAL): 1000,
        (9, OPERATOR_PRINCIPAL): 1000,
    }
    # Without teams everything is the operator's, round-robin over the subscriptions.
    assert buckets(10, 3, 3, 0, teams=False) == {
        (0, OPERATOR_PRINCIPAL): 4,
        (1, OPERATOR_PRINCIPAL): 3,
        (2, OPERATOR_PRINCIPAL): 3,
    }


def test_the_ten_thousand_case_has_ten_team_namespaces_and_the_floor_of_one_subscription_at_the_scaled_rate() -> (
    None
):
    plan = SizePlan(10_000, 2, 0, 0.5, LATENCY, subscriptions=10, identities=10, arm_rate_scale=8)
    assert plan.namespaces == [f"team-{k:02d}" for k in range(10)]
    assert set(plan.bucket_counts().values()) == {1000}
    assert plan.write_rate() == 1.25
    # (1000 - 200) / (10 / 8) + 0.3 s of latency
    assert plan.arm_floor() == pytest.approx(640.3)
    # the operator keeps 5 tokens in hand: (1000 - 195) / 1.25; 16 in flight would need only 125 s
    assert plan.client_floor() == pytest.approx(644.3)
    assert plan.stall == 300.0
    assert plan.poll_interval() == 1.0


def test_without_scale_or_identities_the_floors_are_as_before() -> None:
    plan = SizePlan(1000, 20, 60, 0.5, LATENCY)
    assert plan.namespaces == NAMESPACES
    assert plan.arm_floor() == pytest.approx(80.3)
    assert plan.client_floor() == pytest.approx(0.3 + 805 / 10)
    assert plan.stall == 120.0
    assert plan.poll_interval() == 0.1
    # a second client of the operator's principal slows the first subscription's bucket only
    second = SizePlan(2000, 20, 60, 0.5, LATENCY, subscriptions=2, second_client_rate=2.0)
    assert second.arm_floor() == pytest.approx(0.3 + 800 / 8)


def test_a_second_client_does_not_slow_a_team_identitys_bucket() -> None:
    plan = SizePlan(2000, 20, 60, 0.5, LATENCY, subscriptions=2, identities=2, second_client_rate=2.0)
    assert plan.arm_floor() == pytest.approx(80.3)


def test_the_identity_secret_is_what_the_operator_reads_for_a_namespace() -> None:
    secret = identity_secret("team-03", "tenant", "client", "s3cret", "run1")
    assert secret["metadata"] == {
        "name": NAMESPACE_IDENTITY_SECRET,
        "namespace": "team-03",
        "labels": {"bench.wsconn.dev/run": "run1"},
    }
    assert NAMESPACE_IDENTITY_SECRET == "wsconn-azure-credentials"  # docs/configuration.md
    assert secret["stringData"] == {
        "AZURE_TENANT_ID": "tenant",
        "AZURE_CLIENT_ID": "client",
        "AZURE_CLIENT_SECRET": "s3cret",
    }


def test_the_emulator_and_the_operator_scale_the_same_rates() -> None:
    limits = _limits(1 / 8)
    assert limits["writes"] == {"capacity": 200, "rate": 1.25}
    assert limits["reads"] == {"capacity": 250, "rate": 25 / 8}
    # the subscription's limit over all principals: 15 times one principal's, scaled alike
    assert limits["global"]["writes"] == {"capacity": 3000, "rate": 150 / 8}
    assert limits["enabled"] is True
    assert operator_rates(1 / 8) == {
        "WSCONN_ARM_READ_RATE": "3.125",
        "WSCONN_ARM_WRITE_RATE": "1.25",
        "WSCONN_ARM_DELETE_RATE": "1.25",
    }
    # at scale 1 the defaults are restated, so a later phase does not inherit an earlier one's scale
    assert operator_rates(1)["WSCONN_ARM_WRITE_RATE"] == "10"


def test_the_command_line_carries_identities_and_the_rate_scale() -> None:
    [plan] = plans(
        parse_args(
            ["--sizes", "10000", "--subscriptions", "10", "--identities", "10", "--arm-rate-scale", "8"]
        )
    )
    assert (plan.size, plan.subscriptions, plan.identities, plan.arm_rate_scale, plan.scale) == (
        10_000,
        10,
        10,
        8,
        2,
    )
    [longer] = plans(parse_args(["--sizes", "10000", "--stall", "900"]))
    assert longer.stall == 900.0
    with pytest.raises(SystemExit):
        plans(parse_args(["--arm-rate-scale", "0"]))
    with pytest.raises(SystemExit):  # 2 writes/s would leave the operator nothing at 10/8 per s
        plans(parse_args(["--arm-rate-scale", "8", "--second-client", "2"]))


def audit_event(audit_id: str, stage: str, verb: str = "get", resource: str = "secrets") -> dict[str, Any]:
    return {
        "auditID": audit_id,
        "stage": stage,
        "verb": verb,
        "objectRef": {"resource": resource},
        "responseStatus": {"code": 200},
        "user": {"username": "system:serviceaccount:wsconn-system:wsconn-operator"},
    }


def test_the_audit_log_counts_each_request_once_and_reads_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    lines = [
        audit_event("a", "ResponseComplete"),
        audit_event("w", "ResponseStarted", "watch", "workspaceconnections"),
        audit_event("b", "ResponseComplete", "patch", "workspaceconnections"),
    ]
    path.write_text(
        "".join(json.dumps(e) + "\n" for e in lines) + json.dumps(audit_event("c", "ResponseComplete"))[:40]
    )
    log = AuditLog(path)
    first = log.mark()
    assert log.summary(0, first) == {
        "requests": 3,
        "writes": 1,
        "by_verb_resource": {
            "get secrets": 1,
            "watch workspaceconnections": 1,
            "patch workspaceconnections": 1,
        },
    }
    # the rest of the half-written line, and the watch's end: one more request, the watch not twice
    with path.open("a") as f:
        f.write(json.dumps(audit_event("c", "ResponseComplete"))[40:] + "\n")
        f.write(json.dumps(audit_event("w", "ResponseComplete", "watch", "workspaceconnections")) + "\n")
    second = log.mark()
    assert log.summary(first, second)["by_verb_resource"] == {"get secrets": 1}
    assert log.summary(0, second)["requests"] == 4


def answers(*statuses: int | str) -> tuple[httpx.Client, list[int]]:
    """A client whose POSTs are answered with `statuses` in turn ("drop": a transport error)."""
    seen: list[int] = []
    pending = list(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(len(seen))
        status = pending.pop(0)
        if status == "drop":
            raise httpx.ConnectError("dropped", request=request)
        return httpx.Response(int(status), json={})

    return httpx.Client(base_url="https://api", transport=httpx.MockTransport(handle)), seen


def test_a_submission_is_retried_when_the_api_server_is_overloaded() -> None:
    client, seen = answers(429, 503, "drop", 201)
    create(client, "/api/v1/namespaces/x/secrets", {}, pause=0)
    assert len(seen) == 4


def test_a_conflict_after_a_lost_answer_means_the_object_was_created() -> None:
    client, seen = answers(504, 409)
    create(client, "/p", {}, pause=0)
    assert len(seen) == 2


def test_a_first_conflict_or_an_invalid_object_fails_at_once() -> None:
    for status in (409, 422):
        client, seen = answers(status)
        with pytest.raises(RuntimeError, match=str(status)):
            create(client, "/p", {}, pause=0)
        assert len(seen) == 1


def test_an_api_server_that_stays_overloaded_fails_the_submission() -> None:
    client, seen = answers(*[503] * 3)
    with pytest.raises(RuntimeError, match="503"):
        create(client, "/p", {}, attempts=3, pause=0)
    assert len(seen) == 3


def size_result(**plan: Any) -> dict[str, Any]:
    return {
        "n": 10_000,
        "plan": {"subscriptions": 10, "identities": 10, "arm_rate_scale": 8, **plan},
        "workload": {
            "namespaces": {f"team-{k:02d}": 1000 for k in range(10)},
            "identities": 10,
            "operator_identity_namespaces": [],
        },
        "create": {
            "arm": {"clients": 10},
            "arm_floor_seconds": 640.3,
            "time_to_all_ready_seconds": 700.0,
            "first_arm_request_seconds": 3.5,
            "other_cpu_seconds": {
                "kube-apiserver": 250.0,
                "etcd": 40.5,
                "wsconn-emulator": 35.0,
                "harness": 20.5,
            },
        },
        "checks": {"all_ready": True},
    }


def results_page(size: dict[str, Any]) -> str:
    """The results page of one size, on a machine whose facts are all empty."""
    machine = (
        "nproc",
        "memory_gib",
        "cpu_model",
        "kernel",
        "python",
        "kopf",
        "operator",
        "kube_apiserver",
        "etcd",
    )
    results = {
        "date": "2026-12-02",
        "command": "bench/run",
        "wall_seconds": 1.0,
        "machine": dict.fromkeys(machine, ""),
        "settings": {"latency": [0.1, 0.3]},
        "sizes": [size],
    }
    return markdown(results, "x.json")


def test_the_report_says_how_many_identities_and_which_rate_scale() -> None:
    rows = dict(_rows(size_result()))
    label = (
        "Namespaces: with an Azure identity of their own / on the operator's; principals seen by ARM, create"
    )
    assert rows[label] == "10 / 0; 10"
    assert rows[
        "ARM's refill rates in create, restart and rotation divided by (writes per principal per s)"
    ] == ("8 (1.25)")
    assert (
        rows["CPU seconds beside it, create: API server / etcd / emulator / harness"]
        == "250.0 / 40.5 / 35.0 / 20.5"
    )
    assert rows["First ARM request of the operator at (s)"] == "3.5"
    page = results_page(size_result())
    assert "in team namespaces, each in one subscription" in page


def test_the_report_of_an_older_result_shows_three_namespaces_on_the_operator() -> None:
    old = {"n": 100, "plan": {"subscriptions": 1}, "workload": {"namespaces": {n: 1 for n in NAMESPACES}}}
    rows = dict(_rows(old))
    label = (
        "Namespaces: with an Azure identity of their own / on the operator's; principals seen by ARM, create"
    )
    assert rows[label] == "0 / 3; n/a"


def test_the_last_put_of_each_subscription_is_reported() -> None:
    ws = workspaces(3)
    since = _epoch("2026-12-02T17:00:00+00:00")
    puts = [
        {"path": f"{ws[0].id}/connections/a", "time": "2026-12-02T17:00:10+00:00"},
        {"path": f"{ws[0].id}/connections/b", "time": "2026-12-02T17:00:30.5+00:00"},
        {"path": f"{ws[1].id.upper()}/connections/c", "time": "2026-12-02T17:00:20+00:00"},
    ]
    # ws-bench-1's id is a prefix of ws-bench-10's: the trailing slash keeps them apart
    assert last_put_by_workspace(ws, puts, since) == {"ws-bench-0": 30.5, "ws-bench-1": 20.0}


def test_a_phase_that_failed_after_create_is_in_the_errors_with_the_create_figures_kept() -> None:
    failed = {**size_result(), "error": "RuntimeError: restart: 0 of 10000 resources re-examined"}
    page = results_page(failed)
    assert "| **Create** N: time until every resource is Ready (s) | 700.0 |" in page
    assert (
        "- N = 10000, after create (the figures above are those of the phases before): "
        "RuntimeError: restart: 0 of 10000 resources re-examined"
    ) in page


def test_a_column_with_a_second_client_says_so_beside_its_n() -> None:
    alone, shared = size_result(), size_result(second_client_rate=2.0)
    assert column_name(alone) == "N = 10,000"
    assert column_name(shared) == "N = 10,000, second client 2/s"
    header = next(line for line in results_page(shared).splitlines() if line.startswith("| Figure"))
    assert header == "| Figure | N = 10,000, second client 2/s |"
