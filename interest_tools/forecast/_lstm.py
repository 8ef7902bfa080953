"""The LSTM forecaster: forecasts, item scores and interest vectors from a trained :class:`InterestLSTM`.

What the model consumes: the sequence of a user's windows (the last ``max_seq_len`` of them), each as its
category shares and its items (weighted by their share of the window's weight). It was trained on windows of
one cut (``config.window_label``, e.g. ``events-1``: one window per event, or ``month``) and must be given
windows of the same cut.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from interest_tools.errors import ConfigError, NotBuiltError
from interest_tools.forecast._batching import encode_batch, make_batch
from interest_tools.forecast._profile import ItemSpace, TableView, make_forecast, next_window, view_for
from interest_tools.forecast._types import Forecast, ForecastConfig, Forecaster
from interest_tools.threads import one_thread
from interest_tools.windows import WindowConfig, WindowTable

if TYPE_CHECKING:
    from interest_tools.forecast._model import InterestLSTM, StepOutput


#: Forecasts for at most this many users run on one torch thread (see :func:`one_thread`).
SERIAL_USERS = 8


class LSTMForecaster:
    """An LSTM over each user's windows that forecasts the next window's categories, interest and items.

    Attributes:
        config: Hyperparameters (``window_label`` set to the cut it was trained on).
        embedding_model: Name of the model that made the item text embeddings.
        training_log: Per epoch: loss, validation NDCG@10, seconds.
        best_epoch: The epoch whose weights were kept.
        stop_reason: Why training stopped: ``patience`` (no validation gain for ``patience`` epochs), ``epochs``
            (ran them all) or ``time_cap`` (hit the opt-in ``max_train_minutes``); ``""`` when not trained here.
        serving_model: What answers: ``lstm``, or the baseline (``pop``, ``last_window``, ``ema``) whose validation
            NDCG@10 beat the LSTM's on the same held-out windows (``config.choose_by_validation``; tiny logs).
        baseline_val: The baselines' validation NDCG@10 on those windows.
        training_fingerprint: Hash of what training read (see ``interest_tools.forecast._fingerprint``), saved
            in the checkpoint so that a build with unchanged inputs keeps the forecaster; None when unknown.
    """

    name = "lstm"

    def __init__(self, config: ForecastConfig | None = None, *, embedding_model: str = "unknown") -> None:
        self.config = config or ForecastConfig()
        self.embedding_model = embedding_model
        self.model: InterestLSTM | None = None
        self.space: ItemSpace | None = None
        self.window_config: WindowConfig | None = None
        self.training_log: list[dict[str, float]] = []
        self.best_epoch = 0
        self.best_val_ndcg = 0.0
        self.stop_reason = ""
        self.training_fingerprint: str | None = None
        self.serving_model = "lstm"
        self.baseline_val: dict[str, float] = {}
        self._fallback: Forecaster | None = None
        self._table: WindowTable | None = None
        self._tower: torch.Tensor | None = None
        self._views: dict[int, TableView] = {}
        self._contexts: dict[int, tuple[WindowTable, np.ndarray]] = {}

    # ------------------------------------------------------------------------------------------ lifecycle

    def fit(
        self,
        windows: WindowTable,
        items: pd.DataFrame,
        item_vectors: np.ndarray,
        *,
        step_context: np.ndarray | None = None,
    ) -> LSTMForecaster:
        """Train on every user's windows (see :func:`interest_tools.forecast._train.fit_lstm`); returns self.

        ``step_context`` (one row per window, :func:`~interest_tools.forecast.summary_context`) is required
        when ``config.summary_input`` is set and ignored otherwise.
        """
        from interest_tools.forecast._train import fit_lstm

        return fit_lstm(self, windows, items, item_vectors, step_context)

    def set_context(self, windows: WindowTable, step_context: np.ndarray) -> LSTMForecaster:
        """Give the step context of ``windows`` (needed to read them when ``config.summary_input``); returns self."""
        context = np.asarray(step_context, dtype=np.float32)
        if context.ndim != 2 or len(context) != len(windows):
            raise ConfigError(
                f"step_context has shape {context.shape} but the windows have {len(windows)} rows: pass one "
                "context row per window (interest_tools.forecast.summary_context)"
            )
        if len(self._contexts) >= 4:
            self._contexts.clear()
        self._contexts[id(windows)] = (windows, context)
        self._views.pop(id(windows), None)
        return self

    def set_trained(
        self,
        model: InterestLSTM,
        space: ItemSpace,
        windows: WindowTable | None,
        log: list[dict[str, float]],
        best_epoch: int,
        best_val: float,
    ) -> None:
        """Install trained weights (used by training and by checkpoint loading)."""
        self.model, self.space = model.eval(), space
        self._tower = None
        self.training_log, self.best_epoch, self.best_val_ndcg = log, best_epoch, best_val
        if windows is not None:
            self.attach(windows)

    def attach(self, windows: WindowTable) -> LSTMForecaster:
        """Use ``windows`` as the default history (e.g. after loading a checkpoint); returns self."""
        self._check_cut(windows)
        self._table = windows
        self.window_config = windows.config
        self._fallback = None
        if self.serving_model != "lstm":
            self._fallback = self._fit_fallback(windows)
        return self

    def serve(self, name: str) -> LSTMForecaster:
        """Answer with ``name`` (``lstm`` or a baseline) from now on; returns self (eval scores the LSTM itself)."""
        from interest_tools.forecast._baselines import BASELINES

        if name != "lstm" and name not in BASELINES:
            raise ConfigError(f"unknown forecaster '{name}': use lstm, {', '.join(BASELINES)}")
        self.serving_model = name
        if self._table is not None:
            self.attach(self._table)
        return self

    def _fit_fallback(self, windows: WindowTable) -> Forecaster:
        from interest_tools.forecast._baselines import BASELINES

        if self.model is None or self.space is None or not self.space.item_categories:
            raise NotBuiltError("the forecaster has no item categories to fit its baseline: retrain it")
        names = self.space.categories
        items = pd.DataFrame(
            {
                "item_id": list(self.space.item_ids),
                "categories": [[names[c] for c in codes] for codes in self.space.item_categories],
            }
        )
        baseline = BASELINES[self.serving_model](
            recent_windows=self.config.recent_windows, shift_threshold=self.config.shift_threshold
        )
        return baseline.fit(windows, items, self.model.text_vectors.cpu().numpy())

    def _served(self, windows: WindowTable | None) -> Forecaster | None:
        """The baseline that answers instead of the LSTM, or None."""
        if self._fallback is None:
            return None
        if windows is not None and windows is not self._table:
            return self._fit_fallback(windows)
        return self._fallback

    def save(self, directory: str | Path, *, scratch_prefix: str = "tmp") -> Path:
        """Save weights and config to ``directory`` (see :mod:`interest_tools.forecast._checkpoint`)."""
        from interest_tools.forecast._checkpoint import save_checkpoint

        return save_checkpoint(self, directory, scratch_prefix=scratch_prefix)

    # ------------------------------------------------------------------------------------------ inference

    def _check_cut(self, windows: WindowTable) -> None:
        if windows.config.label != self.config.window_label:
            raise ConfigError(
                f"the forecaster was trained on '{self.config.window_label}' windows but was given "
                f"'{windows.config.label}' windows: compute the windows with the same WindowConfig as in training"
            )

    def _ready(self, windows: WindowTable | None) -> tuple[InterestLSTM, ItemSpace, TableView]:
        if self.model is None or self.space is None:
            raise NotBuiltError(
                "the LSTM forecaster is not trained: call train_forecaster(...) or load_checkpoint(...)"
            )
        table = windows if windows is not None else self._table
        if table is None:
            raise NotBuiltError("no windows to read histories from: pass windows=... or call attach(windows) first")
        self._check_cut(table)
        view = view_for(self._views, table, self.space)
        if self.config.summary_input and view.context is None:
            known = self._contexts.get(id(table))
            if known is None or known[0] is not table:
                raise NotBuiltError(
                    "this forecaster reads summary context (summary_input): call set_context(windows, "
                    "summary_context(...)) for these windows first"
                )
            view.context = known[1]
        return self.model, self.space, view

    @torch.no_grad()
    def _step_outputs(self, user_ids: list[str], windows: WindowTable | None) -> tuple[StepOutput, np.ndarray]:
        """Outputs after each user's last window, and every catalog item's score (``InterestLSTM.scores``)."""
        model, _, view = self._ready(windows)
        n = self.config.max_seq_len
        chunks = []
        for user in user_ids:
            r = view.rows(user)
            start = max(r.start, r.stop - n)
            chunks.append((start, r.stop, r.stop - start - 1))
        if self._tower is None:  # fixed once trained: compute it once, not per request
            self._tower = model.item_tower()
        tower = self._tower
        users, cats, interests, repeats, scores = [], [], [], [], []
        for i in range(0, len(chunks), 256):
            batch = make_batch(view, chunks[i : i + 256], self.config.device, with_seen=self.config.repeat_head)
            hidden = encode_batch(model, tower, batch)
            out = model.heads(hidden.reshape(-1, hidden.shape[-1])[batch.loss_steps])
            users.append(out.user)
            cats.append(out.category_logits)
            interests.append(out.interest)
            if out.repeat is not None:
                repeats.append(out.repeat)
            scores.append(model.scores(out, tower, batch.seen_step, batch.seen_items).float().cpu().numpy())
        from interest_tools.forecast._model import StepOutput

        repeat = torch.cat(repeats) if repeats else None
        out = StepOutput(torch.cat(users), torch.cat(cats), torch.cat(interests), repeat)
        return out, np.concatenate(scores)

    def score_users(self, user_ids: list[str], windows: WindowTable | None = None) -> np.ndarray:
        """Score every catalog item for many users at once: shape ``(len(user_ids), n_items)``."""
        fallback = self._served(windows)
        if fallback is not None:
            return fallback.score_users(user_ids, windows)
        if not user_ids:
            assert self.space is not None
            return np.zeros((0, self.space.n_items), dtype=np.float32)
        with one_thread() if len(user_ids) <= SERIAL_USERS else nullcontext(), torch.no_grad():
            return self._step_outputs(user_ids, windows)[1]

    def score_items(
        self, user_id: str, windows: WindowTable | None = None, *, exclude_seen: bool = False
    ) -> np.ndarray:
        """Score every catalog item for the user's next window (logits; ``-inf`` for seen items if excluded)."""
        fallback = self._served(windows)
        if fallback is not None:
            return fallback.score_items(user_id, windows, exclude_seen=exclude_seen)
        scores = self.score_users([user_id], windows)[0].astype(np.float64)
        if exclude_seen:
            _, _, view = self._ready(windows)
            scores[view.seen(user_id)] = -np.inf
        return scores

    def forecast(self, user_id: str, windows: WindowTable | None = None) -> Forecast:
        """Forecast the user's next window: category shares, rising and falling categories, interest vector."""
        return self.forecast_and_scores(user_id, windows)[0]

    def forecast_and_scores(self, user_id: str, windows: WindowTable | None = None) -> tuple[Forecast, np.ndarray]:
        """The forecast and every catalog item's score, from one pass of the LSTM (what recommending needs)."""
        fallback = self._served(windows)
        if fallback is not None:
            return fallback.forecast(user_id, windows), fallback.score_items(user_id, windows)
        _, space, view = self._ready(windows)
        with one_thread(), torch.no_grad():
            out, all_scores = self._step_outputs([user_id], windows)
            scores = all_scores[0].astype(np.float64)
        probs = torch.softmax(out.category_logits[0], dim=-1).cpu().numpy()
        forecast = make_forecast(
            user_id,
            probs,
            view.recent_share(user_id, self.config.recent_windows),
            space.categories,
            next_window(view.table, user_id),
            self.name,
            out.interest[0].cpu().numpy(),
            self.config.shift_threshold,
        )
        return forecast, scores
