"""Result and configuration types of the forecasting stage, and the :class:`Forecaster` protocol."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import pandas as pd

    from interest_tools.windows import WindowTable


class NextWindow(BaseModel):
    """The period a forecast is about."""

    start: datetime = Field(description="Inclusive start (UTC): the end of the user's last window.")
    end: datetime = Field(
        description="Exclusive end (UTC): the next calendar period for calendar windows, else the start plus the "
        "user's median window length."
    )


class CategoryShift(BaseModel):
    """A category whose forecast share differs from the user's recent share."""

    category: str = Field(description="Category name.")
    before: float = Field(description="The user's recent share (mean of the last few windows).")
    after: float = Field(description="The forecast share in the next window.")


class Forecast(BaseModel):
    """A forecast of one user's next window.

    ``model_dump()`` (and :meth:`to_json`) give exactly ``user_id, next_window, category_weights, rising,
    falling, model``; the interest vector is an attribute for the recommender, excluded from that JSON.
    """

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(description="The user.")
    next_window: NextWindow = Field(description="The period forecast.")
    category_weights: dict[str, float] = Field(
        description="Forecast category shares of the next window, largest first (shares under 0.001 left out)."
    )
    rising: list[CategoryShift] = Field(description="Categories forecast above the recent share, largest rise first.")
    falling: list[CategoryShift] = Field(description="Categories forecast below the recent share, largest fall first.")
    model: str = Field(description="Name of the forecaster: lstm, pop, last_window or ema.")
    interest_vector: list[float] = Field(
        default_factory=list,
        exclude=True,
        description="Forecast interest in the item-embedding space (unit length); not part of the JSON.",
    )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form printed by ``interest-tools forecast USER --json``."""
        return self.model_dump(mode="json")


class ForecastConfig(BaseModel):
    """Hyperparameters of the LSTM forecaster and its training."""

    model_config = ConfigDict(extra="forbid")

    item_dim: int = Field(
        default=128,
        ge=4,
        le=1024,
        description="Size of the learned item tower vectors (128: MovieLens validation 0.0800 against 0.0725 at 64, "
        "with hidden_size 256).",
    )
    hidden_size: int = Field(
        default=256,
        ge=4,
        le=2048,
        description="LSTM hidden state size (256: MovieLens validation 0.0800 against 0.0736 at 128, with item_dim "
        "128).",
    )
    num_layers: int = Field(default=1, ge=1, le=4, description="Stacked LSTM layers.")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="Dropout on step inputs and LSTM outputs.")
    use_item_ids: bool = Field(
        default=True, description="Add a learned per-item id embedding to the projected text embedding."
    )
    negatives: int = Field(
        default=0,
        ge=0,
        description="Shared negatives per batch for sampled softmax (drawn by popularity**0.75, log-Q corrected); "
        "0 uses the full softmax over the catalog.",
    )
    full_softmax_max_items: int = Field(
        default=20_000,
        ge=1,
        description="With negatives 0, catalogs larger than this train with sampled softmax over 2,048 shared "
        "negatives instead of the full softmax (whose cost per step grows with the catalog).",
    )
    epochs: int = Field(
        default=12,
        ge=1,
        le=1000,
        description="Maximum training epochs (with patience, the whole training budget; the cosine schedule spans "
        "them). 12 (MovieLens validation 0.0850 against 0.0803 at 8) trains the default MovieLens model in "
        "about 3.5 minutes on 2 quiet cores (206 s).",
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="Sequences per training batch.")
    lr: float = Field(default=3e-3, gt=0.0, le=1.0, description="Adam learning rate (peak, after warmup).")
    weight_decay: float = Field(default=0.0, ge=0.0, description="Adam weight decay.")
    patience: int = Field(
        default=4,
        ge=1,
        description="Stop after this many epochs without validation gain (validation NDCG@10 on a few hundred users "
        "moves by +-0.01 between epochs while the learning rate is high: 3 stopped MovieLens at epoch 6 of 12).",
    )
    train_stride: int | None = Field(
        default=10,
        ge=1,
        description="Steps of each training chunk that carry a loss (chunk ends step back by this much): below "
        "max_seq_len, chunks overlap and every target is still trained once per epoch, but after at least "
        "max_seq_len - train_stride windows of context; None means max_seq_len (no overlap). The default 10 "
        "trains every target after 40 or more windows of context, as the forecaster reads them when serving.",
    )
    burn_in_grad: bool = Field(
        default=False,
        description="Backpropagate through the burn-in steps of overlapping chunks (those before a chunk's last "
        "train_stride steps). False (default) reads them without gradients (truncated backpropagation): the "
        "same forward pass, a backward pass over a fifth of the steps; on MovieLens a step takes 0.09 s instead "
        "of 0.16 s and validation NDCG@10 was 0.0803 against 0.0800 (8 epochs each).",
    )
    warmup_steps: int = Field(
        default=100,
        ge=0,
        description="Optimiser steps of linear learning-rate warmup from lr / 10 to lr (at most a tenth of all "
        "steps, so that a tiny log still trains at the full rate).",
    )
    lr_decay: Literal["none", "cosine"] = Field(
        default="cosine",
        description="Learning-rate schedule after warmup: 'cosine' decays to lr / 10 at the last of 'epochs'.",
    )
    layer_norm: bool = Field(default=True, description="Layer-normalise the LSTM outputs before the heads.")
    repeat_head: bool = Field(
        default=True,
        description="A head that reads each step's hidden state into one logit added to every item the user has "
        "already seen: the model learns how likely a repeat is (rare for films, common for groceries) instead "
        "of spending the user vector on it.",
    )
    summary_input: bool = Field(
        default=False,
        description="Feed each step the embedded summary of the user's latest finished summarised window (see "
        "interest_tools.forecast.summary_context): the seed's hypothesis that an LLM's reading of a window helps "
        "the forecast. The forecaster then needs that context for every table it reads (set_context).",
    )
    max_seq_len: int = Field(
        default=50, ge=2, le=4096, description="Windows per training chunk and the history read at forecast time."
    )
    category_loss_weight: float = Field(
        default=0.5, ge=0.0, description="Weight of the next-window category cross-entropy beside the item loss."
    )
    interest_loss_weight: float = Field(
        default=0.5, ge=0.0, description="Weight of the interest-vector cosine loss beside the item loss."
    )
    max_train_minutes: float | None = Field(
        default=None,
        gt=0.0,
        description="Opt-in wall-time cap on training (checked every step), keeping the best epoch; None (default) "
        "trains by epochs and patience only, so that results do not depend on machine load. Hitting it is "
        "reported (LSTMForecaster.stop_reason == 'time_cap').",
    )
    max_val_users: int = Field(
        default=5000, ge=1, description="Users whose held-out window validates each epoch (a seeded sample above it)."
    )
    seed: int = Field(default=2020, description="Seed for torch and numpy.")
    num_threads: int | None = Field(
        default=2,
        ge=1,
        description="Torch CPU threads while training (float sums depend on the thread count, so a fixed count "
        "keeps results reproducible across machines and loads); None keeps torch's default.",
    )
    device: str = Field(default="cpu", description="Torch device for training and scoring, e.g. 'cpu' or 'cuda'.")
    window_label: str = Field(
        default="events-1",
        description="Label of the WindowConfig the model is trained on (see WindowConfig.label), e.g. 'events-1', "
        "'month'; recorded in checkpoints and checked against the windows given at forecast time.",
    )
    choose_by_validation: bool = Field(
        default=True,
        description="After training, score pop, last_window and ema on the same held-out windows; when one beats "
        "the LSTM's validation NDCG@10 (tiny logs), serve it instead and name it in every answer's 'model'.",
    )
    recent_windows: int = Field(
        default=3, ge=1, description="Windows averaged into the 'before' share of rising and falling categories."
    )
    shift_threshold: float = Field(
        default=0.02, ge=0.0, description="Minimum share change for a category to be listed as rising or falling."
    )
    show_progress: bool | None = Field(
        default=None, description="Progress bar while training; None shows it only on a terminal."
    )


@runtime_checkable
class Forecaster(Protocol):
    """What every forecaster (LSTM and baselines) offers.

    Item scores are over the catalog given to ``fit`` (its row order, aligned with ``item_vectors``).
    ``windows`` arguments name the table to read the user's history from; ``None`` reads the fitted one.
    """

    name: str

    def fit(self, windows: WindowTable, items: pd.DataFrame, item_vectors: np.ndarray) -> Forecaster:
        """Learn from every user's windows; returns self."""
        ...

    def forecast(self, user_id: str, windows: WindowTable | None = None) -> Forecast:
        """Forecast the user's next window."""
        ...

    def score_items(
        self, user_id: str, windows: WindowTable | None = None, *, exclude_seen: bool = False
    ) -> np.ndarray:
        """Score every catalog item for the user's next window (higher is better)."""
        ...

    def score_users(self, user_ids: list[str], windows: WindowTable | None = None) -> np.ndarray:
        """Score every catalog item for many users at once: shape ``(len(user_ids), n_items)``."""
        ...
