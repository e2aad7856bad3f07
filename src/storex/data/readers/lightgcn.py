"""LightGCN adjacency-list splits (``train.txt``/``valid.txt``/``test.txt``) as StoreData.

Each line is ``user item item ...`` with integer ids; the split a row came from is kept in the
``split`` column so evaluation can use the published split as is.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from storex.data.schema import StoreData, conform_interactions
from storex.errors import DataError, MissingDataError

SPLIT_FILES = {"train": "train.txt", "valid": "valid.txt", "test": "test.txt"}
REQUIRED_SPLITS = ("train", "test")


def read_lightgcn(folder: str | Path) -> StoreData:
    """Read a LightGCN-format folder; ``valid.txt`` is optional, train and test are not."""
    folder = Path(folder)
    for split in REQUIRED_SPLITS:
        if not (folder / SPLIT_FILES[split]).is_file():
            raise MissingDataError(
                f"LightGCN folder needs {SPLIT_FILES[split]} (and {SPLIT_FILES['train']}/"
                f"{SPLIT_FILES['test']}, optionally {SPLIT_FILES['valid']})",
                path=folder,
            )
    issues: Counter[str] = Counter()
    users, items, splits = [], [], []
    for split, filename in SPLIT_FILES.items():
        path = folder / filename
        if not path.is_file():
            continue
        u, i, empty = _read_adjacency(path)
        users.append(u)
        items.append(i)
        splits.append(np.full(len(u), split, dtype=object))
        issues["user_line_without_items"] += empty
    frame = pd.DataFrame(
        {
            "user_id": np.concatenate(users),
            "item_id": np.concatenate(items),
            "split": np.concatenate(splits),
        }
    )
    return StoreData(
        name=folder.name,
        interactions=conform_interactions(frame),
        source=str(folder),
        read_issues=+issues,
    )


def _read_adjacency(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """User and item id arrays (as text) of one file, and how many lines had no items.

    Lines are split in Python (one call per line, not per id); the ids are checked in one
    vectorised pass and a bad one is reported with its line number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8/ASCII text: {exc}", path=path) from exc
    rows = [(number, line.split()) for number, line in enumerate(text.split("\n"), 1)]
    rows = [(number, parts) for number, parts in rows if parts]
    if not rows:
        return np.empty(0, dtype=object), np.empty(0, dtype=object), 0
    tokens = np.array(list(chain.from_iterable(parts for _, parts in rows)))
    bad = ~np.strings.isdigit(tokens)
    lengths = np.fromiter((len(parts) for _, parts in rows), dtype=np.int64, count=len(rows))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise DataError(
            f"expected integer ids separated by spaces, got {str(tokens[first])!r}",
            path=path,
            line=rows[row][0],
        )
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    is_user = np.zeros(len(tokens), dtype=bool)
    is_user[starts] = True
    items = tokens[~is_user].astype(object)
    users = np.repeat(tokens[starts].astype(object), lengths - 1)
    return users, items, int((lengths == 1).sum())
