"""Scale part "train": the LSTM forecaster's training throughput, and the epoch time it implies.

What runs is the real ``train_forecaster`` with ``ForecastConfig()`` defaults (full softmax over the catalog,
batch 64, chunks of 50 windows overlapping by ``train_stride``; only ``num_threads`` is set, see ``bench_scale``)
on the windows it trains on in a build (``ForecastConfig().window_label``, ``events-1``: one window per event). A full epoch at 10M-20M events takes hours on 2 cores, so the training loop
is stopped after ``max_steps`` optimizer steps or ``budget_s`` seconds: a counting wrapper is put in place of
``interest_tools.forecast._train.make_batch`` (the loop calls it once per step) and raises when the cap is reached.
Nothing in ``interest_tools`` is changed. Step ``i`` lasts from the ``i``-th call of ``make_batch`` to the next,
so it covers building the batch, the loss, backward, clipping and the Adam step; the first step is left out of
the throughput (warm-up).

An epoch of the real loop is ``ceil(sequences / batch_size)`` such steps plus a validation pass over every
user's held-out window; the validation pass is timed on a sample of users (a freshly initialised model of the
same shape: its cost does not depend on the weights) and scaled to all users. ``epoch_s_estimated`` is the sum.
With ``full_epoch`` (done at 100k) one real epoch (``epochs=1``) also runs, so the estimate can be checked.

Item vectors are seeded random unit vectors of dimension 384 (the real model's), see ``_scale_common``.
"""

from __future__ import annotations

import contextlib
import math
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from _scale_common import Phase, peak_mib, random_unit_vectors

import interest_tools.forecast._train as train_mod
from interest_tools.forecast import ForecastConfig, InterestLSTM, train_forecaster
from interest_tools.pipeline import window_config_from_label
from interest_tools.windows import compute_windows

#: The ForecastConfig fields that set a training step's cost, reported with each result.
CONFIG_KEYS = (
    "item_dim",
    "hidden_size",
    "batch_size",
    "max_seq_len",
    "train_stride",
    "burn_in_grad",
    "repeat_head",
    "negatives",
)


class StepCapReachedError(Exception):
    """Raised inside the training loop when the step cap is reached."""


class StepCap:
    """Stands in for ``make_batch``: records when each step starts and stops the loop at the cap."""

    def __init__(self, max_steps: int, budget_s: float, min_steps: int = 3) -> None:
        self.real = train_mod.make_batch
        self.max_steps, self.budget_s, self.min_steps = max_steps, budget_s, min_steps
        self.starts: list[float] = []
        self.cpu: list[float] = []
        self.sequences: list[int] = []
        self.windows: list[int] = []
        self.view: Any = None

    def __call__(self, view: Any, chunks: list[tuple[int, int, int]], device: str = "cpu", **kwargs: Any) -> Any:
        now = time.perf_counter()
        self.starts.append(now)
        self.cpu.append(time.process_time())
        done = len(self.starts) - 1  # steps completed before this call
        warm_s = now - self.starts[1] if done >= 1 else 0.0
        if done >= self.max_steps or (done > self.min_steps and warm_s > self.budget_s):
            raise StepCapReachedError
        self.view = view
        self.sequences.append(len(chunks))
        self.windows.append(sum(e - s - first for s, e, first in chunks))
        return self.real(view, chunks, device, **kwargs)

    def summary(self) -> dict[str, Any]:
        """Measured steps (warm: the first left out), seconds and throughput."""
        done = len(self.starts) - 1
        warm = done - 1
        seconds = self.starts[done] - self.starts[1]
        seqs, wins = sum(self.sequences[1:done]), sum(self.windows[1:done])
        return {
            "first_step_s": round(self.starts[1] - self.starts[0], 3),
            "steps_measured": warm,
            "seconds_measured": round(seconds, 2),
            "step_s_mean": round(seconds / warm, 4),
            "step_cpu_s_mean": round((self.cpu[done] - self.cpu[1]) / warm, 4),
            "sequences_per_s": round(seqs / seconds, 1),
            "windows_per_s": round(wins / seconds, 1),
        }


def _validation_seconds(view: Any, val: list[tuple[int, int, int]], n_items: int, config: ForecastConfig,
                        sample: int) -> dict[str, Any]:  # fmt: skip
    """Time the epoch-end validation on ``sample`` users and scale it to the users an epoch validates.

    Training validates a seeded sample of at most ``config.max_val_users`` of them (``_train._fit``).
    """
    model = InterestLSTM.from_config(torch.as_tensor(random_unit_vectors(n_items)), view.cats.shape[1], config)
    rng = np.random.default_rng(1)
    part = [val[i] for i in sorted(rng.choice(len(val), size=min(sample, len(val)), replace=False))]
    t = time.perf_counter()
    train_mod.validation_ndcg(model, view, part, config)
    seconds = time.perf_counter() - t
    return {
        "validation_users_timed": len(part),
        "validation_s_timed": round(seconds, 2),
        "validation_users_per_epoch": min(len(val), config.max_val_users),
        "validation_s_estimated": round(seconds * min(len(val), config.max_val_users) / max(len(part), 1), 1),
    }


def _full_epoch(table: Any, items: Any, vectors: np.ndarray, config: ForecastConfig, batches: int) -> dict[str, Any]:
    """One real epoch (``epochs=1``), its steps timed by a recorder that never stops the loop."""
    recorder = StepCap(10**9, float("inf"))
    train_mod.make_batch = recorder  # type: ignore[assignment]
    try:
        t = time.perf_counter()
        model = train_forecaster(table, items, vectors, config.model_copy(update={"epochs": 1}))
        call_s = time.perf_counter() - t
    finally:
        train_mod.make_batch = recorder.real
    s = recorder.starts  # s[batches] is the first validation batch: the training steps are s[0] .. s[batches]
    epoch_s = model.training_log[0]["seconds"]  # the loop's own epoch timer (training steps + validation)
    return {
        "epoch_s_measured": round(epoch_s, 2),
        "full_epoch_call_s_measured": round(call_s, 2),  # plus setup (TableView, chunks, model)
        "full_epoch_step_s_mean": round((s[batches] - s[1]) / (batches - 1), 4),
        "full_epoch_train_steps_s": round(s[batches] - s[0], 2),
        "full_epoch_validation_s": round(epoch_s - (s[batches] - s[0]), 2),
    }


def train_part(
    n: int,
    max_steps: int,
    budget_s: float,
    full_epoch: bool,
    threads: int | None = None,
    negatives: int | None = None,
    val_sample: int = 1024,
) -> dict[str, Any]:
    """Run in the child: data, the forecaster's windows, capped training, the epoch estimate."""
    from bench_windows import synthetic

    out: dict[str, Any] = {"events": n}
    with Phase("generate", out):
        events, items = synthetic(n)
    config = ForecastConfig(show_progress=False, num_threads=threads)
    if negatives is not None:  # a variant: sampled softmax instead of the default full softmax
        config = config.model_copy(update={"negatives": negatives})
    fc_window = window_config_from_label(config.window_label)
    with Phase("forecast_windows", out):
        table = compute_windows(events, items, fc_window)
    vectors = random_unit_vectors(len(items))
    train, val = train_mod.split_chunks(SimpleNamespace(table=table), config.max_seq_len, config.train_stride)  # type: ignore[arg-type]
    batches = math.ceil(len(train) / config.batch_size)
    out.update(
        users=len(table.user_rows),
        items=len(items),
        window_label=fc_window.label,
        forecast_windows=len(table),
        config={k: getattr(config, k) for k in CONFIG_KEYS},
        sequences_per_epoch=len(train),
        steps_per_epoch=batches,
        validation_users=len(val),
    )
    cap = StepCap(min(max_steps, batches), budget_s)  # within the first epoch: never into its validation
    train_mod.make_batch = cap  # type: ignore[assignment]
    try:
        with Phase("train", out):
            t0 = time.perf_counter()
            with contextlib.suppress(StepCapReachedError):
                train_forecaster(table, items, vectors, config, embedding_model="random-unit-384")
    finally:
        train_mod.make_batch = cap.real
    out["train_setup_s"] = round(cap.starts[0] - t0, 2)  # TableView, chunks, model: before the first step
    out.update(cap.summary())
    out.update(_validation_seconds(cap.view, val, len(items), config, val_sample))
    train_s = batches * out["step_s_mean"]
    out["epoch_train_s_estimated"] = round(train_s, 1)
    out["epoch_s_estimated"] = round(train_s + out["validation_s_estimated"], 1)
    if full_epoch:
        out.update(_full_epoch(table, items, vectors, config, batches))
        out["epoch_estimate_error"] = round(out["epoch_s_estimated"] / out["epoch_s_measured"] - 1, 3)
    out["process_peak_rss_mib"] = max([peak_mib()] + [v for k, v in out.items() if k.endswith("_peak_rss_mib")])
    return out
