"""`wsconn run`'s reading of the identity settings from the environment: click reads an empty variable as
unset, but an empty WSCONN_OPERATOR_IDENTITY_NAMESPACES means "no namespace" (docs/design.md §2), and the chart sets it
so. kopf.run is replaced by a recorder: only the parsing is under test."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from click.testing import CliRunner

from wsconn import cli, settings


def effective(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> settings.Settings:
    seen: list[settings.Settings] = []
    monkeypatch.setattr(kopf, "run", lambda **_: None)
    real = settings.Settings.__init__

    def record(self: settings.Settings, *a: Any, **kw: Any) -> None:
        real(self, *a, **kw)
        seen.append(self)

    monkeypatch.setattr(settings.Settings, "__init__", record)
    monkeypatch.setattr(cli, "_configure_logging", lambda cfg: None)
    for name in ("WSCONN_OPERATOR_IDENTITY_NAMESPACES", "WSCONN_SECRET_SELECTOR"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli.main, ["run", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[-1]


def test_unset_means_every_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    assert effective(monkeypatch).allowlist.allows("anything")


def test_empty_means_no_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = effective(monkeypatch, WSCONN_OPERATOR_IDENTITY_NAMESPACES="")
    assert not cfg.allowlist.allows("anything")


def test_a_flag_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = effective(
        monkeypatch, "--operator-identity-namespaces", "team-a", WSCONN_OPERATOR_IDENTITY_NAMESPACES=""
    )
    assert cfg.allowlist.allows("team-a")
    assert not cfg.allowlist.allows("team-b")


def test_a_bad_secret_selector_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kopf, "run", lambda **_: None)
    result = CliRunner().invoke(cli.main, ["run", "--secret-selector", "env in (prod"])
    assert result.exit_code == 2
    assert "secret selector" in result.output
