"""The training loop of session models: softmax over items, early stopping on valid.

Each step propagates the item graph once (every item's state depends on the parameters),
encodes a batch of prefixes and takes the cross-entropy of the true next item among all
items (``loss="full"``) or among itself and ``negatives`` uniformly drawn items shared by the
batch (``loss="sampled"``, for catalogues too large for a full softmax; uniform sampling
needs no log-q correction). After every epoch the valid samples are ranked; the best epoch's
weights are kept and training stops after ``patience`` epochs without improvement. Epoch
records go to a JSON-lines log through the shared :class:`storex.train.callbacks.EpochLog`.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from storex.devices import training_device
from storex.errors import ModelError
from storex.sessions.evaluation import KS, evaluate_next_item
from storex.sessions.graph import ItemGraph
from storex.sessions.model import SessionGraphModule, SessionModelConfig, SessionScoringModule
from storex.sessions.samples import NextItemSamples
from storex.train.callbacks import EarlyStopping, EpochLog
from storex.train.losses import sampled_softmax_loss


def train_module(
    module: SessionGraphModule,
    graph: ItemGraph,
    train: NextItemSamples,
    valid: NextItemSamples | None,
    config: SessionModelConfig,
    *,
    log_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Fit ``module`` in place (best valid epoch kept) and return the epoch records.

    Training runs on ``config.device``; the module is handed back on the CPU, where it
    serves. Without valid samples every epoch runs and the last one is kept.
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    module.reset_parameters()
    device = training_device(config.device)
    module.to(device)
    graph = graph.to(device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    stopper = EarlyStopping(config.patience)
    history: list[dict[str, Any]] = []
    best: dict[str, Tensor] | None = None
    with EpochLog(log_path, config.epochs) as epoch_log:
        for epoch in range(1, config.epochs + 1):
            record = _epoch(module, graph, train, config, optimizer, generator, epoch)
            if valid is not None and len(valid):
                started = time.perf_counter()
                metrics = evaluate_next_item(_Frozen(module, graph), valid, ks=_cutoffs(config))
                record.update({f"valid_{k}": v for k, v in metrics.items()})
                record["eval_seconds"] = round(time.perf_counter() - started, 4)
                if stopper.update(metrics[config.metric]):
                    best = copy.deepcopy(module.state_dict())
                    record["best"] = True
            history.append(record)
            epoch_log.write(record)
            if stopper.should_stop:
                break
    if best is not None:
        module.load_state_dict(best)
    module.to("cpu").eval()
    return history


def _cutoffs(config: SessionModelConfig) -> list[int]:
    """The reported cut-offs plus the one early stopping watches."""
    return sorted({*KS, int(config.metric.partition("@")[2])})


def _epoch(
    module: SessionGraphModule,
    graph: ItemGraph,
    train: NextItemSamples,
    config: SessionModelConfig,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    epoch: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    module.train()
    order = torch.randperm(len(train), generator=generator)
    total, steps = 0.0, 0
    for batch in train.batches(config.batch_size, order):
        optimizer.zero_grad(set_to_none=True)
        loss = _loss(module, graph, batch, config, generator)
        if not torch.isfinite(loss):
            raise ModelError(f"training diverged: the loss became {loss.item()} at epoch {epoch}")
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        steps += 1
    return {
        "epoch": epoch,
        "loss": total / max(steps, 1),
        "seconds": round(time.perf_counter() - started, 4),
    }


def _loss(
    module: SessionGraphModule,
    graph: ItemGraph,
    batch: NextItemSamples,
    config: SessionModelConfig,
    generator: torch.Generator,
) -> Tensor:
    batch = batch.to(graph.edge_index.device)
    states = module.item_states(graph)
    sessions = module.encode_sessions(batch.items, batch.events, states)
    unit = F.normalize(states, dim=-1)
    if config.loss == "full":
        scores = module.score(sessions, unit, batch.items)
        return F.cross_entropy(scores, batch.targets, label_smoothing=config.label_smoothing)
    negatives = torch.randint(0, module.num_items, (config.negatives,), generator=generator)
    negatives = negatives.to(batch.items.device)
    bonus = module.session_bonus(batch.items)
    positive = config.scale * (sessions * unit[batch.targets]).sum(-1)
    positive = positive + bonus.gather(1, batch.targets.unsqueeze(1)).squeeze(1)
    negative = config.scale * sessions @ unit[negatives].T + bonus[:, negatives]
    negative = negative.masked_fill(negatives.unsqueeze(0) == batch.targets.unsqueeze(1), -1e9)
    return sampled_softmax_loss(positive, negative)


class _Frozen:
    """The module as a scorer for validation: eval mode, item states computed once, on the
    training device (scores come back on the CPU, beside the samples' targets)."""

    name = "validation"

    def __init__(self, module: SessionGraphModule, graph: ItemGraph) -> None:
        module.eval()
        self.device = graph.edge_index.device
        with torch.no_grad():
            self.scoring = SessionScoringModule(module, module.item_states(graph))

    def scores(self, items: Tensor, events: Tensor) -> Tensor:
        return self.scoring(items.to(self.device), events.to(self.device)).cpu()
