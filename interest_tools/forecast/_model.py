"""The LSTM interest forecaster as a torch module (no data handling here; see ``train.py``).

Each step of a user's sequence is one window, described by

* its interest vector in the learned item space: the weighted mean of the window's item-tower vectors,
* its category distribution (shares over the category vocabulary), and
* optionally (``summary_input``) a step context: the embedded summary of the user's latest finished longer window.

The item tower maps each catalog item to a vector: a linear projection of the item's frozen text embedding
plus, optionally, a learned id embedding. The LSTM's output at step ``t`` is read three ways, all about window
``t + 1``: a user vector scored against every item-tower vector (plus an item bias) for a softmax over the whole
catalog, category logits, and an interest vector in the text-embedding space (the space of the caller's item
embeddings, usable to query a vector store). With ``repeat_head`` a fourth reading, one logit, is added to the
score of every item the user has already seen: how likely a repeat is at this point of this user's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

if TYPE_CHECKING:
    from interest_tools.forecast._types import ForecastConfig


@dataclass
class StepOutput:
    """What the LSTM says about the next window at each step."""

    user: torch.Tensor  # (..., item_dim): scored against item_tower() by dot product
    category_logits: torch.Tensor  # (..., n_categories)
    interest: torch.Tensor  # (..., text_dim), unnormalised
    repeat: torch.Tensor | None = None  # (...,): logit added to items the user has seen (repeat head), or None


class InterestLSTM(nn.Module):
    """Item tower + LSTM over windows + next-window heads."""

    text_vectors: torch.Tensor

    def __init__(
        self,
        text_vectors: torch.Tensor,
        n_categories: int,
        *,
        item_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.2,
        use_item_ids: bool = True,
        layer_norm: bool = False,
        repeat_head: bool = False,
        context_dim: int = 0,
    ) -> None:
        super().__init__()
        n_items, text_dim = text_vectors.shape
        self.n_items, self.text_dim, self.item_dim = int(n_items), int(text_dim), item_dim
        self.register_buffer("text_vectors", text_vectors.detach().clone().float())
        self.text_proj = nn.Linear(text_dim, item_dim)
        self.use_item_ids = use_item_ids
        self.item_ids = nn.Embedding(n_items, item_dim)
        nn.init.normal_(self.item_ids.weight, std=0.02 if use_item_ids else 0.0)
        if not use_item_ids:
            self.item_ids.weight.requires_grad_(False)
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.cat_in = nn.Linear(n_categories, item_dim)
        self.context_in: nn.Linear | None = nn.Linear(context_dim, item_dim) if context_dim else None
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            (3 if context_dim else 2) * item_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.norm: nn.Module = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()
        self.user_head = nn.Linear(hidden_size, item_dim)
        self.cat_head = nn.Linear(hidden_size, n_categories)
        self.interest_head = nn.Linear(hidden_size, text_dim)
        self.repeat_head: nn.Linear | None = None
        if repeat_head:  # starts at zero: no opinion on repeats until training gives one
            self.repeat_head = nn.Linear(hidden_size, 1)
            nn.init.zeros_(self.repeat_head.weight)
            nn.init.zeros_(self.repeat_head.bias)

    @classmethod
    def from_config(cls, text_vectors: torch.Tensor, n_categories: int, config: ForecastConfig) -> InterestLSTM:
        """A model of the shape ``config`` describes (fresh weights)."""
        return cls(
            text_vectors,
            n_categories,
            item_dim=config.item_dim,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            use_item_ids=config.use_item_ids,
            layer_norm=config.layer_norm,
            repeat_head=config.repeat_head,
            context_dim=int(text_vectors.shape[1]) if config.summary_input else 0,
        )

    def item_tower(self) -> torch.Tensor:
        """Vectors of every catalog item: projected text embedding (+ id embedding), shape (items, item_dim)."""
        tower = self.text_proj(self.text_vectors)
        if self.use_item_ids:
            tower = tower + self.item_ids.weight
        return tower

    def encode(
        self,
        tower: torch.Tensor,
        bag_items: torch.Tensor,
        bag_offsets: torch.Tensor,
        bag_weights: torch.Tensor,
        categories: torch.Tensor,
        lengths: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        burn_in: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the LSTM over padded window sequences.

        Args:
            tower: Output of :meth:`item_tower`.
            bag_items: Flat catalog indices of the items of every step (batch-major, padded steps empty).
            bag_offsets: Start of each step's items in ``bag_items``; length ``batch * steps``.
            bag_weights: Weight of each item within its step (sums to 1 per non-empty step).
            categories: (batch, steps, n_categories) category shares.
            lengths: Valid steps per sequence (right padding); ``None`` when all are full.
            context: (batch, steps, context_dim) step context (embedded summaries); required when the model was
                built with ``context_dim``, ignored otherwise.
            burn_in: (batch,) steps at the start of each sequence that only warm up the state (truncated
                backpropagation): the LSTM reads them without building a graph and the outputs there are zero.
                The outputs after them are those of a full pass; gradients stop at the burn-in.

        Returns:
            Hidden states, shape (batch, steps, hidden_size).
        """
        batch, steps, _ = categories.shape
        interest = F.embedding_bag(bag_items, tower, bag_offsets, mode="sum", per_sample_weights=bag_weights)
        parts = [interest.view(batch, steps, -1), self.cat_in(categories)]
        if self.context_in is not None:
            if context is None:
                raise ValueError("this model reads step context (summary_input): pass context=")
            parts.append(self.context_in(context))
        x = torch.cat(parts, dim=-1)
        x = self.drop(x)
        if burn_in is not None and bool((burn_in > 0).any()):
            full = lengths if lengths is not None else torch.full((batch,), steps, dtype=torch.long)
            return self.drop(self.norm(self._run_after_burn_in(x, full, burn_in)))
        if lengths is not None and bool((lengths < steps).any()):
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            hidden, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=steps)
        else:
            hidden, _ = self.lstm(x)
        return self.drop(self.norm(hidden))

    def _run_after_burn_in(self, x: torch.Tensor, lengths: torch.Tensor, burn_in: torch.Tensor) -> torch.Tensor:
        """The LSTM over ``x`` with each sequence's first ``burn_in`` steps read under ``no_grad``.

        The burn-in steps' final state starts a second pass over the remaining steps (moved to the left edge);
        its outputs go back to their positions in a (batch, steps, hidden) tensor that is zero elsewhere.
        """
        batch, steps, _ = x.shape
        layers, size = self.lstm.num_layers, self.lstm.hidden_size
        h0 = x.new_zeros(layers, batch, size)
        c0 = x.new_zeros(layers, batch, size)
        burn_in, lengths = burn_in.to(x.device), lengths.to(x.device)
        warm = torch.nonzero(burn_in > 0).squeeze(1)
        with torch.no_grad():
            packed = nn.utils.rnn.pack_padded_sequence(
                x[warm, : int(burn_in.max())], burn_in[warm].cpu(), batch_first=True, enforce_sorted=False
            )
            _, (h_warm, c_warm) = self.lstm(packed)
        h0[:, warm], c0[:, warm] = h_warm, c_warm
        rest = lengths - burn_in  # steps after the burn-in, at least one per sequence
        width = int(rest.max())
        col = torch.arange(width, device=x.device)[None, :]
        valid = col < rest[:, None]
        src = (burn_in[:, None] + col).clamp(max=steps - 1)  # padded positions read a real step; masked below
        tail = x.gather(1, src[:, :, None].expand(-1, -1, x.shape[-1]))
        packed = nn.utils.rnn.pack_padded_sequence(tail, rest.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed, (h0, c0))
        tail_out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=width)
        rows = torch.arange(batch, device=x.device)[:, None].expand(-1, width)
        hidden = tail_out.new_zeros(batch, steps, size)
        return hidden.index_put((rows[valid], src[valid]), tail_out[valid])

    def heads(self, hidden: torch.Tensor) -> StepOutput:
        """Read the next-window predictions off hidden states."""
        return StepOutput(
            user=self.user_head(hidden),
            category_logits=self.cat_head(hidden),
            interest=self.interest_head(hidden),
            repeat=None if self.repeat_head is None else self.repeat_head(hidden).squeeze(-1),
        )

    def item_logits(self, user: torch.Tensor, tower: torch.Tensor) -> torch.Tensor:
        """Scores of every catalog item for user vectors: (..., items), before the repeat head."""
        return user @ tower.T + self.item_bias

    def scores(
        self, out: StepOutput, tower: torch.Tensor, seen_step: torch.Tensor, seen_items: torch.Tensor
    ) -> torch.Tensor:
        """Scores of every catalog item, shape (steps, items).

        :meth:`item_logits` plus, with the repeat head, each step's repeat logit on the items its user has seen
        (the unique pairs ``(seen_step, seen_items)``).
        """
        logits = self.item_logits(out.user, tower)
        if out.repeat is None or len(seen_step) == 0:
            return logits
        return logits.index_put((seen_step, seen_items), out.repeat[seen_step], accumulate=True)
