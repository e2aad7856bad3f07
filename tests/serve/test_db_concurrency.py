"""Concurrent writers lose nothing, and a committed rating is on disk."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from sqlalchemy import Engine, func, select

from storex.serve.db import (
    Item,
    Rating,
    create_rating,
    create_user,
    init_database,
    make_engine,
    make_session_factory,
)

THREADS = 8
PER_THREAD = 50


def test_threads_writing_ratings_lose_no_write(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        users = [create_user(session, f"user-{n}") for n in range(THREADS)]
        items = [Item(external_id=f"item-{n}") for n in range(PER_THREAD)]
        session.add_all(items)
    user_ids = [u.id for u in users]
    item_ids = [i.id for i in items]
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def write(user_id: int) -> None:
        try:
            start.wait()
            for n, item_id in enumerate(item_ids):
                with factory.begin() as session:  # one commit per rating
                    # a read before the write: the classic lock-upgrade trap on SQLite
                    if create_rating(session, user_id, item_id, 1 + n % 5) is None:
                        raise RuntimeError(f"user {user_id} or item {item_id} vanished")
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=write, args=(u,)) for u in user_ids]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    with factory() as session:
        assert session.scalar(select(func.count(Rating.id))) == THREADS * PER_THREAD
        pairs = session.execute(select(Rating.user_id, Rating.item_id)).all()
        assert len(set(pairs)) == THREADS * PER_THREAD


def test_committed_rating_survives_an_abrupt_exit(tmp_path: Path) -> None:
    """A process that commits and dies at once (no close, no checkpoint) keeps its rating."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init_database(url)
    script = textwrap.dedent(
        f"""
        import os
        from storex.serve.db import Item, create_rating, create_user, make_engine
        from storex.serve.db import make_session_factory
        factory = make_session_factory(make_engine({url!r}))
        with factory.begin() as session:
            user = create_user(session, "u")
            item = Item(external_id="i")
            session.add(item)
            session.flush()
            create_rating(session, user.id, item.id, 4.0)
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert (tmp_path / "shop.db-wal").stat().st_size > 0  # the commit sits in the WAL
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalars(select(Rating.rating)).all() == [4.0]
    finally:
        engine.dispose()
