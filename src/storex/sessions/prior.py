"""The co-occurrence prior: scores read straight off the item graph for a session's items.

Nearest-neighbour methods (SKNN, item-kNN) are hard to beat on small session data because
they vote with the co-occurrence neighbourhood of every item in the session, a signal a
network learning embeddings from a few thousand samples only approximates. The prior gives
the session model that signal directly (a global-graph score in the spirit of GCE-GNN): each
item of the session adds its row of the row-normalised co-occurrence graph (the share of its
co-occurrences that went to each neighbour), weighted by a learned weight per recency column,
and the sum is added to the model's scores. The graph is the one the encoder propagates
over, stored as a padded neighbour table so that scoring needs only a gather and a
scatter-add (both export to ONNX).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from storex.sessions.graph import ItemGraph
from storex.sessions.samples import PAD


def neighbour_table(graph: ItemGraph) -> tuple[Tensor, Tensor]:
    """``(N, K)`` neighbour indices and their row-normalised weights, ``K`` the largest
    degree (at least 1); unused slots point at item 0 with weight 0."""
    n = graph.num_items
    senders, receivers = graph.edge_index
    degree = torch.bincount(senders, minlength=n)
    width = max(int(degree.max()) if degree.numel() else 0, 1)
    order = torch.argsort(senders * n + receivers)
    senders, receivers = senders[order], receivers[order]
    weight = graph.edge_weight[order].float()
    start = torch.cumsum(degree, 0) - degree
    slot = torch.arange(senders.numel()) - start[senders]
    index = torch.zeros(n, width, dtype=torch.long)
    values = torch.zeros(n, width)
    index[senders, slot] = receivers
    values[senders, slot] = weight
    values = values / values.sum(1, keepdim=True).clamp(min=1e-12)
    return index, values


class CooccurrencePrior(nn.Module):
    """``(B, L)`` padded sessions -> ``(B, N)`` recency-weighted co-occurrence scores.

    Parameters
    ----------
    index, values
        The neighbour table of :func:`neighbour_table`.
    max_length
        Window columns, each with its own learned weight.
    """

    index: Tensor
    values: Tensor

    def __init__(self, index: Tensor, values: Tensor, max_length: int) -> None:
        super().__init__()
        self.register_buffer("index", index.long())
        self.register_buffer("values", values.float())
        self.weight = nn.Parameter(torch.zeros(max_length))

    @property
    def num_items(self) -> int:
        return int(self.index.shape[0])

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)

    def forward(self, items: Tensor) -> Tensor:
        batch, length = items.shape
        rows = items.clamp(min=0)
        column = self.weight[-length:].expand_as(items) * (items != PAD)
        votes = self.values[rows] * column.unsqueeze(-1)
        scores = torch.zeros(batch, self.num_items, device=items.device)
        return scores.scatter_add(1, self.index[rows].view(batch, -1), votes.view(batch, -1))
