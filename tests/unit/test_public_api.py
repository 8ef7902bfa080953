"""Each package's ``__all__`` is its contract: pinned here, so a change to the public API is a decision.

Like langchain-chroma's ``test_imports.py``: adding or removing a public name means editing this file too. Every
pinned name must also resolve (the top-level package and ``adapters`` load their names lazily).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

EXPECTED: dict[str, list[str]] = {
    "interest_tools": [
        "BuildConfig",
        "BuildReport",
        "CheckpointError",
        "ConfigError",
        "DataValidationError",
        "Dataset",
        "DateRangeError",
        "EmbedConfig",
        "Engine",
        "ExplainConfig",
        "Explanation",
        "Forecast",
        "ForecastConfig",
        "HistoryAsOf",
        "InterestToolsError",
        "NotBuiltError",
        "RayConfig",
        "RecommendConfig",
        "RecommendedItem",
        "Recommendations",
        "ReportConfig",
        "Settings",
        "StoreConfig",
        "StoreError",
        "SummaryConfig",
        "UnknownUserError",
        "Window",
        "WindowConfig",
        "WindowHit",
        "WindowSummary",
        "WindowTable",
        "__version__",
        "compute_windows",
        "load_dataset",
        "load_events",
        "load_items",
        "load_movielens_small",
    ],
    "interest_tools.data": [
        "EVENT_OPTIONAL",
        "EVENT_REQUIRED",
        "ITEM_OPTIONAL",
        "ITEM_REQUIRED",
        "UNKNOWN_CATEGORY",
        "Catalog",
        "Dataset",
        "LoadReport",
        "attach_catalog",
        "canonicalize_events",
        "check_dataset",
        "load_dataset",
        "load_events",
        "load_items",
        "split_categories",
        "user_row_ranges",
        "utc_ns",
    ],
    "interest_tools.datasets": [
        "DATASETS",
        "MOVIELENS_DIR",
        "load_movielens_small",
        "load_named",
    ],
    "interest_tools.windows": [
        "MONTHS",
        "Period",
        "Window",
        "WindowConfig",
        "WindowTable",
        "compute_windows",
        "month_name",
        "percent",
        "period_name",
        "share_change",
        "user_windows",
        "window_period",
    ],
    "interest_tools.summaries": [
        "LLMSummarizer",
        "Summarizer",
        "SummaryCache",
        "SummaryConfig",
        "TemplateSummarizer",
        "WindowSummary",
        "display_title",
        "find_ungrounded",
        "make_chat_model",
        "make_summarizer",
        "resolve_chat_model",
        "sanitize_text",
        "summarize_windows",
        "summarizer_from_settings",
    ],
    "interest_tools.explain": [
        "CategoryChange",
        "ExplainConfig",
        "Explanation",
        "HistoryAsOf",
        "Shift",
        "StableInterest",
        "explain_user",
        "history_as_of",
        "recent_changes",
    ],
    "interest_tools.forecast": [
        "BASELINES",
        "METRIC_NAMES",
        "CategoryShift",
        "EMAForecaster",
        "Forecast",
        "ForecastConfig",
        "Forecaster",
        "InterestLSTM",
        "ItemSpace",
        "LSTMForecaster",
        "LastWindowForecaster",
        "NextWindow",
        "PopularityForecaster",
        "TableView",
        "catalog_coverage",
        "frame_forecast",
        "item_vocab_hash",
        "load_checkpoint",
        "per_user_metrics",
        "ranking_metrics",
        "save_checkpoint",
        "stored_fingerprint",
        "summary_context",
        "top_k",
        "train_forecaster",
        "training_fingerprint",
    ],
    "interest_tools.evaluate": [
        "MODELS",
        "SASRecConfig",
        "embed_items",
        "run_eval",
    ],
    "interest_tools.recommend": [
        "FEEDBACK_KINDS",
        "SOURCES",
        "Conflict",
        "FeedbackKind",
        "PreferenceTimeline",
        "Preferences",
        "RecommendConfig",
        "Recommendations",
        "RecommendedItem",
        "Statement",
        "StatementSource",
        "UserContext",
        "check_feedback",
        "conflict_json",
        "describe",
        "in_force_at",
        "parse_instant",
        "preferences_at",
        "preference_timeline",
        "preferences_from",
        "recommend",
        "shift_conflicts",
        "statement_conflicts",
        "statement_record",
        "timeline",
        "user_context",
    ],
    "interest_tools.report": [
        "REPORTS",
        "ReportConfig",
        "ReportData",
        "check_report_target",
        "forget_reports",
        "report_files",
        "report_path",
        "write_report",
    ],
    "interest_tools.store": [
        "HASH_KEY",
        "EmbedConfig",
        "EmbeddingsLike",
        "FeedbackLog",
        "InterestStore",
        "ItemHit",
        "ItemVectorMirror",
        "SentenceTransformerEmbeddings",
        "StoreConfig",
        "UpsertReport",
        "WindowDoc",
        "WindowHit",
        "compact_directory",
        "embed_matrix",
        "embeddings_name",
        "item_id_to_store",
        "item_records",
        "item_text",
        "parse_chroma_url",
        "resolve_model_path",
        "state",
        "window_id",
        "window_records",
    ],
    "interest_tools.pipeline": [
        "BuildConfig",
        "BuildReport",
        "Progress",
        "RayConfig",
        "Workspace",
        "build",
        "compact",
        "forget_user",
        "health_report",
        "ingest",
        "noun_for_dataset",
        "window_config_from_label",
    ],
    "interest_tools.adapters": [
        "OPERATIONS",
        "OPERATIONS_BY_NAME",
        "InterestTool",
        "InterestToolkit",
        "Operation",
        "ToolArgumentError",
        "ToolContext",
        "create_server",
        "make_tool",
        "serve",
    ],
    "interest_tools.adapters.cli": [
        "app",
        "main",
    ],
}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_all_is_pinned(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == sorted(EXPECTED[module])


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_every_public_name_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in EXPECTED[module] if getattr(mod, name, None) is None]
    assert missing == []


def test_importing_the_package_is_lazy() -> None:
    """``import interest_tools`` loads no stage, model library or framework until a name is used."""
    code = (
        "import sys, interest_tools; "
        "heavy = [m for m in ('torch', 'chromadb', 'langchain_core', 'fastmcp', 'interest_tools.engine') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_version_comes_from_the_distribution_metadata() -> None:
    from importlib.metadata import version

    import interest_tools

    assert interest_tools.__version__ == version("interest-tools")


def test_unknown_attribute_is_an_attribute_error() -> None:
    import interest_tools

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        interest_tools.Nope  # noqa: B018
