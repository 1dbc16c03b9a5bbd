"""`orbridge batches list | show ID [--watch] | results ID [--output FILE] | cancel ID`.

Reads and writes the same SQLite database `orbridge serve` keeps batches in, so no server needs to run: a
cancel here is seen by a running `serve` within a second, like one through the API.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from . import display, paths
from .errors import CLIError

LIST_WIDTHS = {"id": 33, "status": 11, "done": 11, "errored": 7, "created": 11}  # 77 columns with gaps


def database() -> Path:
    """The batch database in orbridge's state dir (platformdirs: ~/.local/state/orbridge on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir(paths.APP)) / "batches.db"


def usable_database() -> Path:
    """The database, created private when missing; a CLIError when it is a symlink or not only ours."""
    from orbridge.proxy.batches.store import open_private
    from orbridge.proxy.private_files import UnsafePath

    path = database()
    try:
        open_private(path)
    except UnsafePath as exc:
        raise paths.refused(exc) from None
    except OSError as exc:
        raise CLIError(f"cannot open {path}: {exc.strerror}", f"check the folder {path.parent}") from None
    return path


def _store():
    from orbridge.proxy.batches.store import Store

    return Store(usable_database())


def _batch(store, batch_id: str) -> dict:
    batch = store.get(batch_id)
    if batch is None:
        raise CLIError(f"no batch {display.plain(batch_id)[:80]} in {database()}",
                       "orbridge batches list shows the batches kept here")
    return batch


def _json(batch: dict) -> dict:
    from orbridge.proxy.batches.shapes import message_batch

    return message_batch(batch, "")


def _when(seconds: float | None, short: bool = False) -> str:
    return time.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def _done(batch: dict) -> int:
    return batch["succeeded"] + batch["errored"] + batch["canceled"] + batch["expired"]


def list_batches(limit: int, as_json: bool) -> None:
    store = _store()
    batches, _more = store.page(limit)
    if as_json:
        print(display.dumps([_json(b) for b in batches], indent=1))
        return
    if not batches:
        print(f"no batches in {database()}", file=sys.stderr)
        return
    from rich.console import Console

    from orbridge.proxy.batches.shapes import status

    table = display.table(LIST_WIDTHS, ("done", "errored"))
    for b in batches:
        table.add_row(b["id"], status(b), f"{_done(b)}/{b['total']}", str(b["errored"]), _when(b["created_at"], True))
    Console().print(table)


def show(batch_id: str, watch: bool, as_json: bool) -> None:
    store = _store()
    batch = _batch(store, batch_id)
    if watch and batch["ended_at"] is None and not as_json:
        batch = _watch(store, batch)
    if as_json:
        print(display.dumps(_json(batch), indent=1))
        return
    from orbridge.proxy.batches.shapes import status

    print(f"{batch['id']}  {status(batch)}  ({_done(batch)}/{batch['total']} done)")
    print(f"  succeeded {batch['succeeded']}  errored {batch['errored']}  canceled {batch['canceled']}  "
          f"expired {batch['expired']}")
    print(f"  created {_when(batch['created_at'])}  expires {_when(batch['expires_at'])}  "
          f"ended {_when(batch['ended_at'])}")
    if batch["ended_at"] is not None:
        print(f"  results: orbridge batches results {batch['id']} --output FILE")


def _watch(store, batch: dict) -> dict:
    """A live progress bar until the batch ends (Ctrl-C stops watching, not the batch)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(batch["id"][-12:], total=batch["total"], completed=_done(batch))
        try:
            while batch["ended_at"] is None:
                time.sleep(0.5)
                batch = _batch(store, batch["id"])
                progress.update(task, completed=_done(batch))
        except KeyboardInterrupt:
            pass
    return batch


def results(batch_id: str, output: Path | None) -> None:
    """The results as JSONL (what the API's results_url serves), to stdout or a new 0600 file."""
    from orbridge.proxy.batches.store import NotEnded

    store = _store()
    _batch(store, batch_id)
    try:
        lines = store.results(batch_id)
    except NotEnded:
        raise CLIError(f"batch {batch_id} has not ended yet", f"orbridge batches show {batch_id} --watch") from None
    if output is None:
        for chunk in lines:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise CLIError(f"cannot write {output}: {exc.strerror}", "give --output a writable file path") from None
    try:
        os.fchmod(fd, 0o600)  # results carry prompts and answers: an existing file is made private first
        os.ftruncate(fd, 0)
    except OSError as exc:
        os.close(fd)
        raise CLIError(f"cannot make {output} private: {exc.strerror}", "give --output a file of your own") from None
    with os.fdopen(fd, "wb") as fh:
        for chunk in lines:
            fh.write(chunk)
    print(f"wrote the results of {batch_id} to {output}", file=sys.stderr)


def cancel(batch_id: str, as_json: bool) -> None:
    store = _store()
    _batch(store, batch_id)
    batch = store.cancel(batch_id)
    if as_json:
        print(display.dumps(_json(batch), indent=1))
        return
    from orbridge.proxy.batches.shapes import status

    print(f"{batch_id}: {status(batch)} (canceled {batch['canceled']}, in flight finish)")
