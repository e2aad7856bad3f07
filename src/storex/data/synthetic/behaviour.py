"""What a block of shoppers does: sessions of related views, carts, purchases, ratings.

A session has a start time (daily and weekly rhythm), a persona drawn from the shopper's
mix (drifting from ``taste_start`` towards ``taste_end`` over the log) and a length. Its
first view is a pick of that persona; every next view, with ``session_locality``, stays
close to the current product (one of its companions, its subcategory or its top category)
and is otherwise a fresh pick. Views convert to carts by affinity and quality, carts to
purchases (cheaper is likelier), and purchases to ratings a few days later.

Ratings written after the end of the log are not in it (the shopper has not rated yet),
and ratings carry no session id: they are not part of a browsing session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import SyntheticConfig
from .population import UserBlock
from .sampling import categorical_rows
from .vocabulary import HOURLY_ACTIVITY, WEEKEND_BOOST
from .world import World

EVENTS = ("view", "cart", "purchase", "rating")  # codes 0..3, in funnel order
RATING = EVENTS.index("rating")
DAY = 86_400.0
MIN_GAP, MEAN_GAP, MAX_GAP = 8.0, 45.0, 600.0  # seconds between views
CHECKOUT_MIN, CHECKOUT_MAX = 60.0, 300.0  # seconds from the last view to the purchases
SESSION_BREAK = 1_800.0  # a shopper's sessions are at least this far apart
MEAN_RATING_DELAY_DAYS = 4.0
RATING_BASE = 3.4  # a product liked as much as usual, of average quality
# How a related next view is chosen: a companion, same subcategory, same top category.
RELATED_SPLIT = np.array([0.25, 0.45, 0.3])
# One kind of event: session index, product, time, rating (NaN when not a rating).
_Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | float]


def block_events(config: SyntheticConfig, world: World, users: UserBlock, b: int) -> pa.Table:
    """All events of ``users`` (block ``b``) as an Arrow table in canonical column order."""
    rng = np.random.default_rng([config.seed, 2, b])
    s = _schedule(config, rng, users)
    # Persona per session (drifting from the start mix to the end mix), then the views.
    x = s.start / (config.days * DAY)
    late = rng.random(len(x)) < config.drift * x
    mix = np.where(late[:, None], users.taste_end[s.user], users.taste_start[s.user])
    persona = categorical_rows(mix, rng.random(len(x)))
    time_bin = np.minimum((x * world.n_bins).astype(np.int64), world.n_bins - 1)
    item = _walk(config, world, rng, time_bin * world.n_personas + persona, s)
    view_sess = np.repeat(np.arange(len(x)), s.length)
    parts: list[_Part] = [(view_sess, item, s.start[view_sess] + s.offset, np.nan)]
    parts += _funnel(config, world, rng, users, s, persona, view_sess, item)

    sess = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), k, dtype=np.int8) for k, p in enumerate(parts)])
    user = s.user[sess]
    time = np.concatenate([p[2] for p in parts])
    order = np.lexsort((kind, time, user))
    return _to_arrow(
        config,
        world,
        users,
        s.user,
        user[order],
        np.concatenate([p[1] for p in parts])[order],
        np.concatenate([np.broadcast_to(p[3], len(p[0])) for p in parts])[order],
        time[order],
        kind[order],
        np.where(kind == RATING, -1, sess)[order],
    )


@dataclass(frozen=True)
class _Sessions:
    """A block's sessions, sorted by shopper then time."""

    user: np.ndarray  # shopper (index in the block)
    start: np.ndarray  # seconds from the start of the log
    length: np.ndarray  # views
    first_view: np.ndarray  # index of the session's first view in the flat view arrays
    offset: np.ndarray  # per view: seconds since the session start

    @property
    def last_view_offset(self) -> np.ndarray:
        return self.offset[self.first_view + self.length - 1]


def _schedule(config: SyntheticConfig, rng: np.random.Generator, users: UserBlock) -> _Sessions:
    """Who browses when and for how long; a shopper's sessions never overlap."""
    user = np.repeat(np.arange(len(users.user_ids)), users.sessions)
    length = np.minimum(
        rng.geometric(1.0 / config.views_per_session, len(user)), config.max_session_views
    )
    start = _session_starts(config, rng, users.first_day[user])
    order = np.lexsort((start, user))
    start, length = start[order], length[order]
    first_view = np.concatenate([[0], np.cumsum(length)[:-1]])
    gaps = np.minimum(MIN_GAP + rng.exponential(MEAN_GAP, int(length.sum())), MAX_GAP)
    gaps[first_view] = 0.0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first_view], length)
    span = offset[first_view + length - 1] + CHECKOUT_MAX + 1.0
    start = _spread(start, span, user, config.days * DAY)
    return _Sessions(user, start, length, first_view, offset)


def _funnel(
    config: SyntheticConfig,
    world: World,
    rng: np.random.Generator,
    users: UserBlock,
    s: _Sessions,
    persona: np.ndarray,
    view_sess: np.ndarray,
    item: np.ndarray,
) -> list[_Part]:
    """Carts, purchases and ratings as (session, item, time, rating) parts, in that order.

    A product is carted at most once per session, more likely when the persona likes it
    and it is good; cheaper carted products are likelier bought; ratings come days later.
    """
    cat = world.catalog
    view_time = s.start[view_sess] + s.offset
    first_seen = np.zeros(len(item), dtype=bool)
    first_seen[np.unique(view_sess * cat.n_items + item, return_index=True)[1]] = True
    liking = world.affinity[persona[view_sess], item] + 0.5 * cat.quality[item]
    carted = np.flatnonzero(first_seen & (rng.random(len(item)) < _rate(config.cart_prob, liking)))
    c_item, c_sess = item[carted], view_sess[carted]
    c_time = view_time[carted] + rng.uniform(3.0, 30.0, len(carted))

    value = 0.3 * cat.quality[c_item] - 0.8 * cat.price_z[c_item]
    bought = rng.random(len(carted)) < _rate(config.purchase_prob, value)
    checkout = s.start + s.last_view_offset + rng.uniform(CHECKOUT_MIN, CHECKOUT_MAX, len(s.start))
    p_item, p_sess = c_item[bought], c_sess[bought]
    p_time = checkout[p_sess] + rng.uniform(0.0, 1.0, len(p_item))

    r_time = p_time + DAY * (1.0 + rng.exponential(MEAN_RATING_DELAY_DAYS, len(p_item)))
    rated = (rng.random(len(p_item)) < config.rating_prob) & (r_time < config.days * DAY)
    r_item, r_sess = p_item[rated], p_sess[rated]
    r_persona = persona[r_sess]
    surprise = (
        world.affinity[r_persona, r_item] - world.usual_affinity[0, r_persona]
    ) / world.usual_affinity[1, r_persona]
    score = (
        RATING_BASE
        + 0.9 * surprise
        + 0.5 * cat.quality[r_item]
        + users.rating_bias[s.user[r_sess]]
        + rng.normal(0.0, config.rating_noise, len(r_item))
    )
    return [
        (c_sess, c_item, c_time, np.nan),
        (p_sess, p_item, p_time, np.nan),
        (r_sess, r_item, r_time[rated], np.clip(np.rint(score), 1.0, 5.0)),
    ]


def _session_starts(
    config: SyntheticConfig, rng: np.random.Generator, first_day: np.ndarray
) -> np.ndarray:
    """Seconds from the log start: a day (weekends busier) from ``first_day``, an hour."""
    weekday = (dt.date.fromisoformat(config.start_date).weekday() + np.arange(config.days)) % 7
    day_cdf = np.concatenate([[0.0], np.cumsum(np.where(weekday >= 5, WEEKEND_BOOST, 1.0))])
    low = day_cdf[first_day]
    target = low + rng.random(len(first_day)) * (day_cdf[-1] - low)
    day = np.clip(np.searchsorted(day_cdf, target, side="right") - 1, first_day, config.days - 1)
    hourly = np.cumsum(HOURLY_ACTIVITY) / np.sum(HOURLY_ACTIVITY)
    hour = np.minimum(np.searchsorted(hourly, rng.random(len(day)), side="right"), 23)
    return day * DAY + hour * 3_600.0 + rng.random(len(day)) * 3_600.0


def _spread(start: np.ndarray, span: np.ndarray, user: np.ndarray, end: float) -> np.ndarray:
    """Move sessions (sorted by user, start) so a user's never overlap and all end in time.

    A forward pass pushes a session past the previous one's end plus a break; a backward
    pass pulls sessions back from the end of the log. Both are running maxima/minima per
    user, done for all users at once by lifting each user's values into a band of its own.
    """
    need = span + SESSION_BREAK
    band = 4.0 * (end + need.sum() + 1.0) * user.astype(np.float64)
    before = np.cumsum(need) - need  # exclusive running total, all users
    start = np.maximum.accumulate(start - before + band) - band + before
    after = np.cumsum(need[::-1])[::-1]  # inclusive total from the back, all users
    last = np.searchsorted(user, user, side="right") - 1
    latest = end - 1.0 - span[last] - (after - after[last])
    pulled = np.minimum.accumulate((start + after + band)[::-1])[::-1] - band - after
    return np.maximum(np.minimum(pulled, latest), 0.0)


def _walk(
    config: SyntheticConfig,
    world: World,
    rng: np.random.Generator,
    row: np.ndarray,
    s: _Sessions,
) -> np.ndarray:
    """Viewed products, session by session, one position at a time for all sessions."""
    cat = world.catalog
    length, first_view = s.length, s.first_view
    n_items = cat.n_items
    item = np.empty(int(length.sum()), dtype=np.int64)
    by_length = np.argsort(-length, kind="stable")
    still = len(length) - np.cumsum(np.bincount(length, minlength=int(length.max()) + 1))
    top = cat.top
    for j in range(int(length.max())):
        act = by_length[: len(length) if j == 0 else still[j]]
        pos = first_view[act] + j
        if j == 0:
            item[pos] = world.table.draw(row[act], 0, n_items, rng.random(len(act)))
            continue
        prev = item[pos - 1]
        related = rng.random(len(act)) < config.session_locality
        # 0 companion, 1 same subcategory, 2 same top category, 3 fresh pick
        pick = np.searchsorted(np.cumsum(RELATED_SPLIT), rng.random(len(act)))
        kind = np.where(related, pick, 3)
        lo = np.zeros(len(act), dtype=np.int64)
        hi = np.full(len(act), n_items, dtype=np.int64)
        in_leaf, in_top = kind == 1, kind == 2
        lo[in_leaf] = cat.leaf_bounds[cat.leaf[prev[in_leaf]]]
        hi[in_leaf] = cat.leaf_bounds[cat.leaf[prev[in_leaf]] + 1]
        lo[in_top] = cat.top_bounds[top[prev[in_top]]]
        hi[in_top] = cat.top_bounds[top[prev[in_top]] + 1]
        nxt = world.table.draw(row[act], lo, hi, rng.random(len(act)))
        companion = cat.companions[prev, rng.integers(0, cat.companions.shape[1], len(act))]
        item[pos] = np.where(kind == 0, companion, nxt)
    return item


def _rate(mean: float, signal: np.ndarray) -> np.ndarray:
    """Per-event probabilities rising with ``signal`` whose average is ``mean``."""
    if len(signal) == 0:
        return np.zeros(0)
    lift = 1.0 / (1.0 + np.exp(-signal))
    return np.clip(mean * lift / lift.mean(), 0.0, 1.0)


def _to_arrow(
    config: SyntheticConfig,
    world: World,
    users: UserBlock,
    sess_user: np.ndarray,
    user: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    time: np.ndarray,
    kind: np.ndarray,
    sess: np.ndarray,
) -> pa.Table:
    user_ids = pa.array(users.user_ids, pa.large_string())
    number = np.arange(len(sess_user)) - np.searchsorted(sess_user, sess_user, side="left") + 1
    session_names = pc.binary_join_element_wise(
        user_ids.take(sess_user),
        pc.cast(pa.array(number), pa.large_string()),
        pa.scalar("-S", pa.large_string()),
    )
    columns = {
        "user_id": user_ids.take(user),
        "item_id": world.item_id_array.take(item),
        "rating": pa.array(rating, pa.float64()),
        "timestamp": pa.array(np.round(time + config.start_seconds, 3), pa.float64()),
        "event": pa.array(EVENTS, pa.large_string()).take(kind),
        "session_id": session_names.take(pa.array(np.maximum(sess, 0), mask=sess < 0)),
        "split": pa.nulls(len(user), pa.large_string()),
    }
    return pa.Table.from_pydict(columns, schema=world.interaction_schema)
