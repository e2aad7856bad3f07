"""A store with a planted next-item rule, shared by the session and API tests (no tests here).

Items ``p00..p39`` form 8 chains of 5 (``p00 -> p01 -> ... -> p04``, ``p05 -> ...``). Every
session walks one chain forward from a random start for 2 to 5 steps, so the next item is
always the chain successor of the last one: a model that learns the rule ranks it first.
Sessions are spread over 60 days so the temporal split has room for its blackouts.
"""

from __future__ import annotations

import numpy as np

from storex.data.schema import StoreData, interactions_frame
from storex.sessions import SessionDataset, SessionDataSettings, prepare_sessions

CHAINS, CHAIN_LENGTH = 8, 5
NUM_ITEMS = CHAINS * CHAIN_LENGTH
DAY = 86_400.0


def item(index: int) -> str:
    return f"p{index:02d}"


def successor(external: str) -> str | None:
    """The planted next item, None at the end of a chain."""
    index = int(external[1:])
    return None if index % CHAIN_LENGTH == CHAIN_LENGTH - 1 else item(index + 1)


def planted_store(sessions: int = 600, seed: int = 0) -> StoreData:
    rng = np.random.default_rng(seed)
    users, items, times, session_ids = [], [], [], []
    starts = np.sort(rng.uniform(0, 60 * DAY, sessions))
    for s, start in enumerate(starts):
        chain = int(rng.integers(CHAINS))
        first = int(rng.integers(0, CHAIN_LENGTH - 1))
        length = int(rng.integers(2, CHAIN_LENGTH - first + 1))
        for step in range(length):
            users.append(f"u{s}")
            items.append(item(chain * CHAIN_LENGTH + first + step))
            times.append(start + 30.0 * step)
            session_ids.append(f"s{s}")
    frame = interactions_frame(
        users, items, timestamp=1.7e9 + np.array(times), event="view", session_id=session_ids
    )
    return StoreData(name="planted", interactions=frame)


def planted_dataset(sessions: int = 600, seed: int = 0) -> SessionDataset:
    settings = SessionDataSettings(blackout_days=1.0, max_length=6, top_n=10)
    return prepare_sessions(planted_store(sessions, seed), settings)
