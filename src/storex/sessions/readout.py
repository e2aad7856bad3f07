"""Session readout: one vector for a session from the states of its items.

Each step's state is its item's graph state plus an embedding of its recency (steps from
the end) and of its event kind (a carted product says more than a glance). Attention
weights come from the step and the latest step together (``q . sigmoid(W1 last + W2 step)``,
the soft attention of SR-GNN, normalised over the session's real steps); the session vector
mixes the attended sum with the latest step's state, which alone already predicts well.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from storex.sessions.samples import PAD
from storex.sessions.table import EVENT_TYPES


class SessionReadout(nn.Module):
    """``(B, L)`` item indices and events, ``(N, d)`` item states -> ``(B, d)`` sessions."""

    def __init__(self, dim: int, max_length: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.recency = nn.Embedding(max_length, dim)
        self.event = nn.Embedding(len(EVENT_TYPES), dim)
        self.from_last = nn.Linear(dim, dim)
        self.from_step = nn.Linear(dim, dim, bias=False)
        self.query = nn.Linear(dim, 1, bias=False)
        self.combine = nn.Linear(2 * dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.max_length = max_length
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.recency.weight, std=0.02)
        nn.init.normal_(self.event.weight, std=0.02)
        for layer in (self.from_last, self.from_step, self.query, self.combine):
            layer.reset_parameters()

    def forward(self, items: Tensor, events: Tensor, states: Tensor) -> Tensor:
        mask = items != PAD
        steps = states[items.clamp(min=0)] * mask.unsqueeze(-1)
        length = items.shape[1]
        # column c of a right-aligned window is (length - 1 - c) steps from the end
        recency = self.recency.weight[: self.max_length].flip(0)[-length:]
        context = self.dropout(steps + recency.unsqueeze(0) + self.event(events))
        last = steps[:, -1]
        logits = self.query(
            torch.sigmoid(self.from_last(last).unsqueeze(1) + self.from_step(context))
        )
        logits = logits.squeeze(-1).masked_fill(~mask, -1e9)
        weights = torch.softmax(logits, dim=1) * mask
        attended = (weights.unsqueeze(-1) * context).sum(1)
        return self.combine(torch.cat([attended, last], dim=-1))
