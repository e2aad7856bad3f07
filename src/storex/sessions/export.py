"""ONNX export of a session model and an ONNX Runtime scorer with the same interface.

The graph encoder's output does not depend on the session, so the export holds the final
item states (and the co-occurrence prior's neighbour table, if any) as constants and only the
readout and scoring run per request: the file is small and needs no graph operators. Inputs
are ``items`` and ``events`` (``(batch, max_length)`` int64, right-aligned, ``-1`` padding),
the output is ``scores`` (``(batch, num_items)``); the batch axis is dynamic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from storex.errors import ModelError
from storex.io import save_with
from storex.sessions.recommender import SessionRecommender
from storex.sessions.samples import PAD

ONNX_FILE = "model.onnx"
OPSET = 17


def export_onnx(model: SessionRecommender, path: str | Path) -> Path:
    """Write ``model``'s scorer as ONNX to ``path`` (atomically) and return the path."""
    scoring = model.scoring_module().eval()
    items = torch.full((2, model.max_length), PAD, dtype=torch.long)
    items[:, -1] = 0
    events = torch.zeros_like(items)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about constants are expected
            torch.onnx.export(
                scoring,
                (items, events),
                str(tmp),
                input_names=["items", "events"],
                output_names=["scores"],
                dynamic_axes={
                    "items": {0: "batch"},
                    "events": {0: "batch"},
                    "scores": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )

    save_with(path, write)
    return Path(path)


class OnnxSessionScorer:
    """Scores of an exported session model through ONNX Runtime (CPU).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    threads
        Intra-op threads of the runtime (one keeps it from competing with other work).
    """

    def __init__(self, path: str | Path, *, name: str = "onnx", threads: int = 1) -> None:
        import onnxruntime as ort  # optional dependency: the export extra

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own kinds for a bad file
            raise ModelError(f"{path}: cannot load the ONNX session model: {exc}") from exc
        shape = self.session.get_inputs()[0].shape
        self.max_length = int(shape[1])
        self.name = name

    def scores(self, items: Tensor, events: Tensor) -> Tensor:
        """``(B, N)`` scores, like :meth:`SessionRecommender.scores`."""
        feeds = {
            "items": np.ascontiguousarray(items.numpy(), dtype=np.int64),
            "events": np.ascontiguousarray(events.numpy(), dtype=np.int64),
        }
        (scores,) = self.session.run(["scores"], feeds)
        return torch.from_numpy(scores)
