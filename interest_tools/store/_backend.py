"""Chroma connection (embedded, server or in-memory) and collections tagged with their embedding model.

Every collection this package creates records, in its metadata, the embedding model name and the vector
dimension; :func:`open_collection` refuses a collection built with another model before anything is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

import interest_tools.store._health as health
from interest_tools.errors import ConfigError, StoreError
from interest_tools.settings import Settings
from interest_tools.store._embed import EmbeddingsLike, SentenceTransformerEmbeddings
from interest_tools.store._records import CATEGORY_LIST_KEY

MODEL_KEY = "embedding_model"
DIM_KEY = "embedding_dim"
SCHEMA_KEY = "interest_tools_schema"
SCHEMA_VERSION = 1
SPACE = "cosine"

T = TypeVar("T")


def chroma_settings() -> ChromaSettings:
    """Chroma client settings: telemetry off (the store works offline)."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    return ChromaSettings(anonymized_telemetry=False)


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """Split ``http(s)://host[:port]`` into ``(host, port, ssl)``; the port defaults to 8000 (443 for https).

    Raises:
        ConfigError: Not an http(s) URL with a host, or it has a path, query or bad port.
    """
    fix = "give the server as http://HOST:PORT, e.g. http://localhost:8000"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"chroma_url {url!r} is not an http(s) URL with a host. Fix: {fix}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"chroma_url {url!r} has a path or query, which Chroma does not support. Fix: {fix}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"chroma_url {url!r} has an invalid port ({exc}). Fix: {fix}") from exc
    ssl = parts.scheme == "https"
    return parts.hostname, port or (443 if ssl else 8000), ssl


def connect(settings: Settings) -> tuple[ClientAPI, str]:
    """Open the Chroma client that ``settings`` names: a server when ``chroma_url`` is set, else embedded.

    Returns:
        The client and a human-readable location (URL or directory) for messages.

    Raises:
        ConfigError: Malformed ``chroma_url``.
        StoreError: The server cannot be reached, the directory cannot be opened, or it is no store (and not empty).
    """
    if settings.chroma_url:
        host, port, ssl = parse_chroma_url(settings.chroma_url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings())
        except Exception as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({exc}). Fix: start it with "
                f"`chroma run --path DIR --port PORT`, or {settings.how_to_unset('chroma_url')} to use the "
                f"embedded store at {settings.store_path}"
            ) from exc
        return client, settings.chroma_url
    path = settings.store_path / "chroma"
    from interest_tools.store import _marker as store_dir
    from interest_tools.store._compact import restore_interrupted

    if store_dir.inspect(settings.store_path) in ("absent", "empty"):  # a folder that is no store: refused
        settings.store_path.mkdir(parents=True, exist_ok=True)
        store_dir.mark(settings.store_path)  # Chroma's files make it a store: mark it first
    restore_interrupted(path)  # a compaction killed between its two fallback renames
    health.preflight(path)  # a damaged directory can crash Chroma: check it with plain Python first
    try:
        path.mkdir(parents=True, exist_ok=True)
        with health.chroma_errors(path, "opening the store"):
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"cannot open the embedded Chroma store at {path} ({exc}). Fix: check that the directory is "
            "writable and not used by another Chroma version, or choose another --store"
        ) from exc
    return client, str(path)


def ephemeral_client() -> ClientAPI:
    """In-memory client (tests). Chroma shares its memory between such clients within one process."""
    return chromadb.EphemeralClient(settings=chroma_settings())


def _mismatch(name: str, location: str, stored: str, stored_dim: Any, model: str, dim: int | None) -> StoreError:
    ours = f"'{model}'" + (f" (dimension {dim})" if dim is not None else "")
    return StoreError(
        f"collection '{name}' at {location} was built with embedding model '{stored}' (dimension {stored_dim}) "
        f"but this run uses {ours}; nothing was written. Fix: rebuild into a new store "
        f"(--store NEW_DIR, or another collection prefix on a server), or use the same model "
        f"(--embedding-model '{stored}' / INTEREST_TOOLS_EMBEDDING_MODEL)"
    )


def open_collection(client: ClientAPI, name: str, model: str, dim: int | None, location: str) -> Collection:
    """Get or create a cosine collection tagged with ``model``; refuse one built with another model.

    Raises:
        StoreError: The collection records another model or dimension, is not cosine, was not made by
            interest-tools and is not empty, or Chroma fails.
    """
    meta: dict[str, Any] = {SCHEMA_KEY: SCHEMA_VERSION, MODEL_KEY: model}
    if dim is not None:
        meta[DIM_KEY] = dim
    try:
        try:
            collection = client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return client.create_collection(
                name, configuration=cast(Any, {"hnsw": {"space": SPACE}}), metadata=meta, embedding_function=None
            )
        stored = dict(collection.metadata or {})
        if MODEL_KEY not in stored:
            count = collection.count()
            if count:
                raise StoreError(
                    f"collection '{name}' at {location} holds {count} records not written by interest-tools "
                    "(no embedding model recorded). Fix: use another store directory or collection prefix"
                )
            collection.modify(metadata={**stored, **meta})
            return collection
    except StoreError:
        raise
    except BaseException as exc:  # Chroma's Rust core panics (a BaseException) on some damaged files
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise StoreError(
            f"cannot open collection '{name}' at {location}: {exc}. {health.damaged_fix(location)}"
        ) from exc
    stored_dim = stored.get(DIM_KEY)
    if stored[MODEL_KEY] != model or (dim is not None and stored_dim is not None and stored_dim != dim):
        raise _mismatch(name, location, str(stored[MODEL_KEY]), stored_dim, model, dim)
    config = collection.configuration or {}
    space = (config.get("hnsw") or {}).get("space") or stored.get("hnsw:space")
    if space not in (None, SPACE):
        raise StoreError(
            f"collection '{name}' at {location} uses distance '{space}', not '{SPACE}'. "
            "Fix: rebuild into a new store directory or collection prefix"
        )
    return collection


def check_dimension(collection: Collection, model: str, dim: int, location: str) -> None:
    """Check ``dim`` against the collection's recorded dimension; record it when none is.

    Raises:
        StoreError: The collection records another dimension.
    """
    stored = dict(collection.metadata or {})
    stored_dim = stored.get(DIM_KEY)
    if stored_dim is None:
        collection.modify(metadata={**stored, DIM_KEY: dim})
    elif stored_dim != dim:
        raise _mismatch(collection.name, location, str(stored.get(MODEL_KEY)), stored_dim, model, dim)


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def all_of(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Chroma ``where`` that needs every clause (None when there is none)."""
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def any_of(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Chroma ``where`` that needs any clause (None when there is none)."""
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def items_where(
    exclude_ids: Iterable[str], categories_any: Iterable[str] | None, categories_none: Iterable[str] | None
) -> dict[str, Any] | None:
    """Chroma ``where`` for item queries: not excluded, any of ``categories_any``, none of ``categories_none``."""
    clauses: list[dict[str, Any]] = []
    excluded = sorted({str(i) for i in exclude_ids})
    if excluded:
        clauses.append({"item_id": {"$nin": excluded}})
    wanted = any_of([{CATEGORY_LIST_KEY: {"$contains": c}} for c in dict.fromkeys(categories_any or ())])
    if wanted:
        clauses.append(wanted)
    clauses += [{CATEGORY_LIST_KEY: {"$not_contains": c}} for c in dict.fromkeys(categories_none or ())]
    return all_of(clauses)


def known_dimension(embeddings: EmbeddingsLike) -> int | None:
    """The vector length when it is known without embedding anything (or loading a model)."""
    if isinstance(embeddings, SentenceTransformerEmbeddings):
        return embeddings.dimension if embeddings.loaded else None
    size = getattr(embeddings, "size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def normalised(matrix: np.ndarray, n_rows: int, what: str) -> np.ndarray:
    """L2-normalised float32 copy of an embedding matrix; refuses bad shapes, zero and non-finite rows."""
    if matrix.ndim != 2 or matrix.shape[0] != n_rows or matrix.shape[1] == 0:
        raise StoreError(f"embedding model returned shape {matrix.shape} for {n_rows} {what}; nothing was written")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0)
    if bad.any():
        raise StoreError(
            f"embedding model returned a zero or non-finite vector for {int(bad.sum())} of {n_rows} {what} "
            f"(first at position {int(np.argmax(bad))}); nothing of this batch was written"
        )
    return (matrix / norms).astype(np.float32)


def close_client(client: ClientAPI) -> None:
    """Close a Chroma client, ignoring errors (closing must never mask the error that made us close)."""
    close = getattr(client, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):  # closing must never mask the error that made us close
            close()
