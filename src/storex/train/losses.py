"""Training objectives for embedding models, each a plain function of scores.

* :func:`bpr_loss`: pairwise ranking, positive above sampled negative.
* :func:`bce_loss`: pointwise logistic loss on positives and sampled negatives.
* :func:`softmax_loss`: multinomial likelihood of a user's positives among *all* items
  (sharpened by a temperature). On catalogues of thousands of items this costs one
  ``users x items`` product per batch and trains graph CF models far better than BPR, since
  every item is a negative at every step.
* :func:`sampled_softmax_loss`: the same against sampled negatives, with the log-q correction
  that keeps non-uniform (popularity) samplers unbiased.
* :func:`mse_loss`: squared error of predicted ratings.
* :func:`l2_penalty`: LightGCN's penalty on the batch's free embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """Mean of ``-log sigmoid(pos - neg)``; ``neg_scores`` is ``(B,)`` or ``(B, n)``."""
    if neg_scores.dim() == 2:
        pos_scores = pos_scores.unsqueeze(1)
    return F.softplus(neg_scores - pos_scores).mean()


def bce_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """Binary cross-entropy: positives labelled 1, negatives 0, each side averaged then summed.

    Averaging each side keeps the balance fixed whatever the number of negatives per positive.
    """
    pos = F.binary_cross_entropy_with_logits(pos_scores, torch.ones_like(pos_scores))
    neg = F.binary_cross_entropy_with_logits(neg_scores, torch.zeros_like(neg_scores))
    return pos + neg


def softmax_loss(
    scores: Tensor, targets: Tensor, temperature: float = 1.0, per_user: bool = False
) -> Tensor:
    """Multinomial negative log-likelihood of each user's positives among all items.

    Parameters
    ----------
    scores
        ``(B, I)`` scores of every item for a batch of users.
    targets
        ``(B, I)`` weights of the positives (1 for a positive, 0 elsewhere).
    temperature
        Scores are divided by it before the softmax; small values focus on hard negatives.
    per_user
        Average within each user first, so every user counts the same (as in per-user
        ranking metrics) instead of every positive pair.

    Returns
    -------
    The mean over positive pairs (or users) of ``-log softmax(scores / t)[user, item]``.
    """
    log_prob = F.log_softmax(scores / temperature, dim=1)
    if per_user:
        per_row = -(log_prob * targets).sum(dim=1) / targets.sum(dim=1).clamp(min=1.0)
        return per_row.mean()
    return -(log_prob * targets).sum() / targets.sum().clamp(min=1.0)


def sampled_softmax_loss(
    pos_scores: Tensor,
    neg_scores: Tensor,
    temperature: float = 1.0,
    neg_log_q: Tensor | None = None,
    pos_log_q: Tensor | None = None,
) -> Tensor:
    """Cross-entropy of each positive against its ``(B, n)`` sampled negatives.

    ``neg_log_q`` / ``pos_log_q`` are the log sampling probabilities of the items; subtracting
    them (log-q correction) makes the estimate unbiased for popularity sampling.
    """
    pos = pos_scores / temperature
    neg = neg_scores / temperature
    if neg_log_q is not None and pos_log_q is not None:
        pos, neg = pos - pos_log_q, neg - neg_log_q
    logits = torch.cat([pos.unsqueeze(1), neg], dim=1)
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def mse_loss(predicted: Tensor, ratings: Tensor) -> Tensor:
    """Mean squared error of predicted ratings."""
    return F.mse_loss(predicted, ratings)


def l2_penalty(*embeddings: Tensor) -> Tensor:
    """``sum ||e||^2 / 2`` over the given rows, divided by the batch size (first tensor's rows).

    LightGCN's regulariser: only the free embeddings of the nodes in the batch are penalised.
    """
    batch = max(int(embeddings[0].shape[0]), 1)
    return sum(e.pow(2).sum() for e in embeddings) / (2.0 * batch)
