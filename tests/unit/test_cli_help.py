"""CLI help and --json (issue 15, item 7): no ``<bool>`` placeholder on flags, and every command prints JSON with
--json except serve-mcp, whose stdout is the MCP protocol itself (the README says so)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import interest_tools.adapters.cli._data_commands as data_commands
from interest_tools.adapters.cli import app
from interest_tools.pipeline import BuildConfig
from tests.harness.stores import fixture_dataset, memory_engine

REPO = Path(__file__).resolve().parents[2]
#: Commands without --json, and why (the README's command line section says the same).
NO_JSON = {"serve-mcp"}


def _commands() -> dict[str, Any]:
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]  # a group of commands


@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_shows_no_bool_placeholder(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_every_command_but_serve_mcp_has_json() -> None:
    without = {name for name, cmd in _commands().items() if not any("--json" in p.opts for p in cmd.params)}
    assert without == NO_JSON
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "Every command except `serve-mcp` has `--json`" in readme


def test_demo_json_is_the_only_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``demo --json`` on the fixture data (the bundled data would train for minutes): JSON on stdout only."""
    import interest_tools.engine as engine_module

    engine = memory_engine(tmp_path / "store")
    monkeypatch.setattr(data_commands, "load_named", lambda name: fixture_dataset())
    monkeypatch.setattr(engine_module, "Engine", lambda settings: engine)
    tiny = BuildConfig.model_validate({"forecast": {"epochs": 1, "hidden_size": 8, "item_dim": 8}})
    real_validate = BuildConfig.model_validate

    def small(obj: Any, *args: Any, **kwargs: Any) -> BuildConfig:
        return real_validate({**tiny.model_dump(), "summary": obj.get("summary", {})}, *args, **kwargs)

    monkeypatch.setattr(BuildConfig, "model_validate", small)
    result = CliRunner().invoke(
        app, ["demo", "--user", "u1", "--store", str(tmp_path / "store"), "--out-dir", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["user_id"] == "u1" and data["build"]["n_users"] == 3
    assert data["forecast"]["user_id"] == "u1" and data["recommendations"]["items"]
    assert Path(data["report"][0]).is_file()
    assert "1. Data" in result.stderr  # the walk-through still shows, on stderr


def test_eval_models_and_summary_input_reach_run_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    """``eval --models`` chooses the rows and ``--summary-input`` turns on the ablation; bad names are exit 2."""
    import interest_tools.adapters.cli._store_commands as store_commands
    import interest_tools.evaluate as evaluate

    seen: dict[str, Any] = {}

    def fake_run_eval(data: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"n_users": 3, "metrics": {}, "metrics_unmasked": {}}

    monkeypatch.setattr(evaluate, "run_eval", fake_run_eval)
    monkeypatch.setattr(store_commands, "resolve_dataset", lambda *a, **k: fixture_dataset())
    result = CliRunner().invoke(app, ["eval", "--models", "lstm, pop", "--summary-input", "--json"])
    assert result.exit_code == 0, result.output
    assert seen["models"] == ("lstm", "pop") and seen["config"].summary_input is True
    result = CliRunner().invoke(app, ["eval", "--json"])
    assert seen["models"] == ("lstm", "sasrec", "pop", "last_window", "ema") and seen["config"].summary_input is False
    result = CliRunner().invoke(app, ["eval", "--models", "lstm,gru4rec"])
    assert result.exit_code == 2
    assert "gru4rec" in result.output and "last_window" in result.output
