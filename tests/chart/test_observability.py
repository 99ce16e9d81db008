"""The chart's alerts and dashboard against the metrics the operator serves, and Prometheus's own checker.

promtool (built from the Prometheus Go module by hack/build-tools) parses the rendered PrometheusRule's
rules, every dashboard query (as recording rules: promtool parses PromQL only inside rule files), and runs
unit tests of the alerts over synthetic series. Every metric a query names must be in docs/metrics.md,
which is generated from the operator's metrics module, so a renamed metric breaks this test, not an SRE's
pager. The condition metric itself is checked on a live operator in tests/e2e/test_image.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.tools import CHART, RELEASE_NAMESPACE, ROOT, built, one, render
from tests.chart.value_sets import value_sets

OBSERVABILITY = value_sets()["observability"]
# PromQL words that look like metric names but are not.
PROMQL_WORDS = {"sum", "rate", "max", "by", "absent", "histogram_quantile", "le", "and", "or", "on"}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """promtool; fails the test on a non-zero exit."""
    binary = built("build-tools", "promtool", needs="Go >= 1.26.7 and the Go module proxy")
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def rule_groups() -> list[dict[str, Any]]:
    """The rendered PrometheusRule's groups."""
    groups: list[dict[str, Any]] = one(render(OBSERVABILITY), "PrometheusRule")["spec"]["groups"]
    return groups


def dashboard() -> dict[str, Any]:
    """The rendered dashboard."""
    cm = one(render(OBSERVABILITY), "ConfigMap")
    loaded: dict[str, Any] = json.loads(cm["data"]["wsconn-operator.json"])
    return loaded


def dashboard_queries() -> list[str]:
    """Every PromQL expression in the dashboard (panels and template variables)."""
    queries = [t["expr"] for panel in dashboard()["panels"] for t in panel.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            inner = re.fullmatch(r"label_values\((\w+), \w+\)", query["query"])
            assert inner, query
            queries.append(inner.group(1))
    return queries


def documented_metrics() -> set[str]:
    """The metric names in docs/metrics.md's generated table."""
    doc = (ROOT / "docs" / "metrics.md").read_text()
    table = re.search(r"<!-- BEGIN GENERATED: metrics -->\n(.*?)<!-- END GENERATED: metrics -->", doc, re.S)
    assert table
    return set(re.findall(r"`(wsconn_\w+)`", table.group(1)))


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (identifiers followed by a selector or a range)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return {
        name
        for name in re.findall(r"\b([a-zA-Z_:][\w:]*)\s*(?:\{|\[)", without_strings)
        if name not in PROMQL_WORDS
    }


def test_queries_name_metrics_that_exist() -> None:
    exprs = [r["expr"] for g in rule_groups() for r in g["rules"]] + dashboard_queries()
    named = set().union(*(metric_names(e) for e in exprs))
    assert named, "the pattern found no metric at all"
    assert named - {"up"} <= documented_metrics(), named - {"up"} - documented_metrics()
    # And every operator metric is on the dashboard (histograms by their buckets).
    on_dashboard = set().union(*(metric_names(q) for q in dashboard_queries()))
    assert {m for m in documented_metrics() if not m.endswith(("_sum", "_count"))} <= on_dashboard


def test_rules_and_dashboard_queries_parse(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups()}))
    out = promtool("check", "rules", str(rules)).stdout
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in out
    # Grafana's variables become plain label values so promtool can parse the queries.
    recorded = [
        {"record": f"dashboard:query_{i}", "expr": q.replace("$namespace", "wsconn-system")}
        for i, q in enumerate(dashboard_queries())
    ]
    queries = tmp_path / "dashboard-queries.yaml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}))
    promtool("check", "rules", str(queries))


def test_alerts_fire_on_their_signals(tmp_path: Path) -> None:
    """promtool's rule unit tests: each alert fires on the series that mean trouble, after its `for`."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    target = f'job="wsconn-operator-metrics", namespace="{RELEASE_NAMESPACE}"'
    condition = f'wsconn_workspaceconnection_condition{{{target}, resource_namespace="ml", resource_name="c"'
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{condition}, condition="Ready", status="False"}}', "values": "1x30"},
                    {"series": f'wsconn_arm_throttled_total{{{target}, method="PUT"}}', "values": "0+5x30"},
                    {
                        "series": f'wsconn_arm_requests_total{{{target}, method="PUT", status="503"}}',
                        "values": "0+5x30",
                    },
                    {
                        "series": f'wsconn_arm_requests_total{{{target}, method="PUT", status="200"}}',
                        "values": "0+5x30",
                    },
                    {
                        "series": f'wsconn_reconciles_total{{{target}, state="stalled", reason="AzureRejected"}}',
                        "values": "0+1x60",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "WsconnConnectionNotReady", "exp_alerts": []},
                    {
                        "eval_time": "16m",
                        "alertname": "WsconnConnectionNotReady",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "resource_namespace": "ml",
                                    "resource_name": "c",
                                },
                                "exp_annotations": {
                                    "summary": "WorkspaceConnection ml/c has not been Ready for 15m.",
                                    "description": "kubectl -n ml get amlconn c shows the reason.",
                                    "runbook": values_runbook("wsconnconnectionnotready"),
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "WsconnArmThrottled",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning"},
                                "exp_annotations": alert_annotations("WsconnArmThrottled"),
                            }
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "WsconnArmServerErrors",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning"},
                                "exp_annotations": alert_annotations("WsconnArmServerErrors"),
                            }
                        ],
                    },
                    {
                        "eval_time": "50m",
                        "alertname": "WsconnReconcileErrors",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "reason": "AzureRejected"},
                                "exp_annotations": {
                                    "summary": "Reconcile passes have ended in AzureRejected for 30 minutes.",
                                    "runbook": values_runbook("wsconnreconcileerrors"),
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "6m",
                        "alertname": "WsconnOperatorDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical"},
                                "exp_annotations": alert_annotations("WsconnOperatorDown"),
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    assert "SUCCESS" in promtool("test", "rules", "tests.yaml", cwd=tmp_path).stdout


def values_runbook(anchor: str) -> str:
    """The runbook annotation for an alert's anchor."""
    base = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["prometheusRule"]["runbookURL"]
    return f"{base}#{anchor}"


def alert_annotations(alert: str) -> dict[str, str]:
    """The rendered annotations of an alert (for alerts whose annotations hold no label templates)."""
    rule = next(r for g in rule_groups() for r in g["rules"] if r.get("alert") == alert)
    found: dict[str, str] = rule["annotations"]
    return found


@pytest.mark.parametrize(
    "alert",
    [
        "WsconnOperatorDown",
        "WsconnConnectionNotReady",
        "WsconnReconcileErrors",
        "WsconnArmThrottled",
        "WsconnArmServerErrors",
    ],
)
def test_each_alert_has_its_troubleshooting_section(alert: str) -> None:
    doc = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert f"\n## {alert}\n" in doc
    rule = next(r for g in rule_groups() for r in g["rules"] if r.get("alert") == alert)
    assert rule["annotations"]["runbook"] == values_runbook(alert.lower())
