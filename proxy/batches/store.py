"""Batches, their requests and results in one SQLite file (WAL): durable across crashes, shared by processes.

Each request row carries its params until it is done, then its result instead: the result and the "done"
state are one UPDATE, so a request is never done without its result, nor resulted twice. Runners claim
requests with a lease (owner + expiry), renewed while they run; a dead owner's leases expire (at once when
the owner was a process of this machine that no longer exists) and its requests are claimed again.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..private_files import make_private_dir, open_dir, open_in

DAY = 86_400.0
EXPIRY = DAY  # a batch ends within 24 hours of its creation
KEPT = 29 * DAY  # then its results stay available this long after creation
LEASE = 60.0  # seconds a claim holds without renewal
OUTCOMES = ("succeeded", "errored", "canceled", "expired")
RESULT_PAGE = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, profile TEXT,
    created_at REAL NOT NULL, expires_at REAL NOT NULL, ended_at REAL, cancel_initiated_at REAL,
    total INTEGER NOT NULL, succeeded INTEGER NOT NULL DEFAULT 0, errored INTEGER NOT NULL DEFAULT 0,
    canceled INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS requests (
    batch INTEGER NOT NULL, idx INTEGER NOT NULL, custom_id TEXT NOT NULL,
    params TEXT, state TEXT NOT NULL DEFAULT 'todo', owner TEXT, lease_until REAL NOT NULL DEFAULT 0,
    result TEXT, PRIMARY KEY (batch, idx));
CREATE INDEX IF NOT EXISTS todo ON requests (lease_until, batch, idx) WHERE state = 'todo';
"""
COLUMNS = ("id", "profile", "created_at", "expires_at", "ended_at", "cancel_initiated_at", "total", *OUTCOMES)
SELECT = "SELECT seq, " + ", ".join(COLUMNS) + " FROM batches"


class NotEnded(Exception):
    """The batch is still processing (it cannot be deleted, its results are not ready)."""


def owner_id() -> str:
    """Who holds a lease: this machine and process (so a restart can tell the owner is gone), plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _gone(owner: str) -> bool:
    """True when `owner` was a process of this machine that no longer runs (its leases can be taken now)."""
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def open_private(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder; refuse a symlink or a file another user controls."""
    make_private_dir(path.parent)
    dir_fd = open_dir(path.parent)
    try:
        os.close(open_in(dir_fd, path, os.O_RDWR | os.O_CREAT))
    finally:
        os.close(dir_fd)


class Store:
    """One connection, used from worker threads one call at a time (the lock); other processes share the
    file through SQLite's own locking (busy timeout)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        open_private(path)
        self.path = path
        self.clock = clock
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> object:
        """`work` in one write transaction (taken at once: no deadlock between two writers)."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                out = work(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return out

    # -- batches ---------------------------------------------------------------------------------------

    def create(self, requests: Iterable[tuple[str, str]], profile: str = "") -> dict:
        """A new batch from (custom_id, params JSON) pairs, consumed one at a time; all or nothing."""
        batch_id = "msgbatch_" + secrets.token_urlsafe(18).replace("-", "A").replace("_", "z")
        now = self.clock()

        def work(db: sqlite3.Connection) -> None:
            seq = db.execute("INSERT INTO batches (id, profile, created_at, expires_at, total) VALUES (?,?,?,?,0)",
                             (batch_id, profile, now, now + EXPIRY)).lastrowid
            rows = ((seq, i, cid, params) for i, (cid, params) in enumerate(requests))
            db.executemany("INSERT INTO requests (batch, idx, custom_id, params) VALUES (?,?,?,?)", rows)
            db.execute("UPDATE batches SET total = (SELECT count(*) FROM requests WHERE batch = ?) WHERE seq = ?",
                       (seq, seq))

        self._write(work)
        return self.get(batch_id)

    def get(self, batch_id: str) -> dict | None:
        with self.lock:
            row = self.db.execute(SELECT + " WHERE id = ?", (batch_id,)).fetchone()
        return _batch(row) if row else None

    def page(self, limit: int, before_id: str | None = None, after_id: str | None = None) -> tuple[list[dict], bool]:
        """Newest first: the `limit` batches after `after_id` (older) or before `before_id` (newer), and
        whether more lie beyond. An unknown cursor gives an empty page."""
        with self.lock:
            if before_id:
                rows = self.db.execute(SELECT + " WHERE seq > (SELECT seq FROM batches WHERE id = ?) "
                                       "ORDER BY seq ASC LIMIT ?", (before_id, limit + 1)).fetchall()
                more = len(rows) > limit
                return [_batch(r) for r in reversed(rows[:limit])], more
            if after_id:
                rows = self.db.execute(SELECT + " WHERE seq < (SELECT seq FROM batches WHERE id = ?) "
                                       "ORDER BY seq DESC LIMIT ?", (after_id, limit + 1)).fetchall()
            else:
                rows = self.db.execute(SELECT + " ORDER BY seq DESC LIMIT ?", (limit + 1,)).fetchall()
        return [_batch(r) for r in rows[:limit]], len(rows) > limit

    def cancel(self, batch_id: str) -> dict | None:
        """Pending requests become canceled at once; those in flight finish (their lease is live)."""
        now = self.clock()

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT seq, ended_at FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return False
            if row[1] is None:
                db.execute("UPDATE batches SET cancel_initiated_at = ? WHERE seq = ? AND cancel_initiated_at IS NULL",
                           (now, row[0]))
                _settle(db, row[0], "canceled", now)
            return True

        return self.get(batch_id) if self._write(work) else None

    def delete(self, batch_id: str) -> bool:
        """Remove an ended batch and its results; False when unknown, NotEnded while processing."""

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT seq, ended_at FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return False
            if row[1] is None:
                raise NotEnded(batch_id)
            db.execute("DELETE FROM requests WHERE batch = ?", (row[0],))
            db.execute("DELETE FROM batches WHERE seq = ?", (row[0],))
            return True

        return bool(self._write(work))

    def results(self, batch_id: str) -> Iterator[bytes] | None:
        """The batch's results as JSONL lines, read a page at a time (never all in memory); None when the
        batch is unknown; NotEnded while it processes."""
        batch = self.get(batch_id)
        if batch is None:
            return None
        if batch["ended_at"] is None:
            raise NotEnded(batch_id)
        return self._lines(batch["seq"])

    def _lines(self, seq: int) -> Iterator[bytes]:
        last = -1
        while True:
            with self.lock:
                rows = self.db.execute("SELECT idx, custom_id, result FROM requests WHERE batch = ? AND idx > ? "
                                       "ORDER BY idx LIMIT ?", (seq, last, RESULT_PAGE)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield "".join(f'{{"custom_id":"{cid}","result":{result}}}\n' for _, cid, result in rows).encode()

    # -- running ---------------------------------------------------------------------------------------

    def claim(self, owner: str, n: int, profile: str = "") -> list[tuple[int, int, str]]:
        """Up to `n` requests of `profile`'s batches to run, as (batch seq, idx, params), leased to `owner`. A
        batch runs only on the profile it was created on: a proxy for another profile (another provider, key
        and models) never takes its requests."""
        now = self.clock()

        def work(db: sqlite3.Connection) -> list:
            rows = db.execute("SELECT r.batch, r.idx, r.params FROM requests r JOIN batches b ON b.seq = r.batch "
                              "WHERE r.state = 'todo' AND r.lease_until < ? AND b.cancel_initiated_at IS NULL "
                              "AND b.expires_at > ? AND b.profile = ? LIMIT ?", (now, now, profile, n)).fetchall()
            db.executemany("UPDATE requests SET owner = ?, lease_until = ? WHERE batch = ? AND idx = ?",
                           [(owner, now + LEASE, seq, idx) for seq, idx, _ in rows])
            return rows

        return self._write(work)  # type: ignore[return-value]

    def finish(self, owner: str, seq: int, idx: int, outcome: str, result: str) -> bool:
        """Store a request's result and mark it done, together; False (nothing stored) when `owner` lost the
        lease to another runner."""
        assert outcome in OUTCOMES

        def work(db: sqlite3.Connection) -> bool:
            done = db.execute("UPDATE requests SET state = ?, result = ?, params = NULL WHERE batch = ? AND idx = ? "
                              "AND state = 'todo' AND owner = ?", (outcome, result, seq, idx, owner)).rowcount
            if done:
                db.execute(f"UPDATE batches SET {outcome} = {outcome} + 1 WHERE seq = ?", (seq,))
                _end_if_done(db, seq, self.clock())
            return bool(done)

        return bool(self._write(work))

    def renew(self, owner: str) -> None:
        now = self.clock()
        self._write(lambda db: db.execute("UPDATE requests SET lease_until = ? WHERE owner = ? AND state = 'todo'",
                                          (now + LEASE, owner)))

    def release(self, owner: str) -> None:
        """Give back what `owner` holds (a clean stop): another runner, or the next start, takes it at once."""
        self._write(lambda db: db.execute("UPDATE requests SET lease_until = 0 WHERE owner = ? AND state = 'todo'",
                                          (owner,)))

    def recover(self) -> int:
        """Free the leases of owners that were processes of this machine and are gone (killed, crashed)."""
        with self.lock:
            owners = [o for (o,) in self.db.execute("SELECT DISTINCT owner FROM requests WHERE state = 'todo' "
                                                    "AND owner IS NOT NULL AND lease_until > 0")]
        gone = [o for o in owners if _gone(o)]
        for owner in gone:
            self.release(owner)
        return len(gone)

    def housekeep(self) -> None:
        """Unclaimed requests of canceled or expired batches get their outcome; batches past their keeping
        time are removed. Read first: an idle database sees no write transaction."""
        now = self.clock()
        due_sql = ("SELECT seq, cancel_initiated_at IS NOT NULL FROM batches WHERE ended_at IS NULL "
                   "AND (cancel_initiated_at IS NOT NULL OR expires_at <= ?)")
        old_sql = "SELECT seq FROM batches WHERE created_at < ?"
        with self.lock:
            if not (self.db.execute(due_sql, (now,)).fetchone() or self.db.execute(old_sql, (now - KEPT,)).fetchone()):
                return

        def work(db: sqlite3.Connection) -> None:
            for seq, canceling in db.execute(due_sql, (now,)).fetchall():
                _settle(db, seq, "canceled" if canceling else "expired", now)
            for (seq,) in db.execute(old_sql, (now - KEPT,)).fetchall():
                db.execute("DELETE FROM requests WHERE batch = ?", (seq,))
                db.execute("DELETE FROM batches WHERE seq = ?", (seq,))

        self._write(work)


def _settle(db: sqlite3.Connection, seq: int, outcome: str, now: float) -> None:
    """Every request of batch `seq` that is neither done nor held by a live lease ends as `outcome`."""
    n = db.execute("UPDATE requests SET state = ?, result = ?, params = NULL WHERE batch = ? AND state = 'todo' "
                   "AND lease_until < ?", (outcome, f'{{"type":"{outcome}"}}', seq, now)).rowcount
    db.execute(f"UPDATE batches SET {outcome} = {outcome} + ? WHERE seq = ?", (n, seq))
    _end_if_done(db, seq, now)


def _end_if_done(db: sqlite3.Connection, seq: int, now: float) -> None:
    db.execute("UPDATE batches SET ended_at = ? WHERE seq = ? AND ended_at IS NULL "
               "AND succeeded + errored + canceled + expired >= total", (now, seq))


def _batch(row: tuple) -> dict:
    return dict(zip(("seq", *COLUMNS), row, strict=True))
