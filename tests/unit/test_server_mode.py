"""Server mode (``--chroma-url``): the store directory still holds the canonical data and the forecaster, and the
messages say so; the "server down" hint names what the user actually used, the flag or the variable (issue 15,
item 4)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interest_tools.adapters.cli import app
from interest_tools.adapters.cli._common import settings_from
from interest_tools.errors import StoreError
from interest_tools.settings import Settings
from interest_tools.store._backend import connect


@pytest.fixture
def closed_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_missing_store_in_server_mode_says_the_store_is_still_needed(
    tmp_path: Path, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default store, .interest_store, is not here
    monkeypatch.delenv("INTEREST_TOOLS_STORE_PATH", raising=False)
    result = CliRunner().invoke(app, ["recommend", "414", "--chroma-url", closed_url])
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert ".interest_store/data/events.parquet does not exist" in message or "no completed build" in message
    assert "the server holds only the vectors" in message and "pass --store" in message


def test_the_store_option_help_says_what_it_holds() -> None:
    text = " ".join(CliRunner().invoke(app, ["recommend", "--help"]).output.split())
    assert "Needed with --chroma-url too" in text and "the rest stays in --store" in text


def test_server_down_hint_names_the_flag(tmp_path: Path, closed_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTEREST_TOOLS_CHROMA_URL", raising=False)
    with pytest.raises(StoreError) as raised:
        connect(settings_from(tmp_path, closed_url))
    assert "leave out --chroma-url to use the embedded store" in str(raised.value)
    assert "INTEREST_TOOLS_CHROMA_URL" not in str(raised.value)


def test_server_down_hint_names_the_variable(tmp_path: Path, closed_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEREST_TOOLS_CHROMA_URL", closed_url)
    with pytest.raises(StoreError) as raised:
        connect(settings_from(tmp_path, None))
    assert "unset INTEREST_TOOLS_CHROMA_URL to use the embedded store" in str(raised.value)
    assert "--chroma-url" not in str(raised.value)
    monkeypatch.delenv("INTEREST_TOOLS_CHROMA_URL")
    with pytest.raises(StoreError) as raised:
        connect(Settings(store_path=tmp_path, chroma_url=closed_url))  # the Python API: neither
    assert "leave Settings.chroma_url unset" in str(raised.value)
