"""Writing runs: plan (everything built and checked, nothing written), then commit (the protocol).

write_run and write_run_async are the public entry points; push copies runs
between stores through the same Transaction.
"""

from __future__ import annotations

import asyncio
import os

from lake.run import Run
from lake.stores import Destination, Store, open_store
from lake.write.commit import Progress, Transaction, WriteReport, WrittenObject
from lake.write.plan import Blob, Plan, plan_run


def write_run(
    run: Run, dest: "str | os.PathLike | Destination", *, overwrite: bool = False, progress: Progress | None = None
) -> WriteReport:
    """Validate `run`, then write every object of it to `dest` (a folder or gs://bucket[/prefix]).

    Raises DestinationError for an unusable destination and ValidationError when
    a table breaks the contract (both before anything is written), and
    ConflictError when the run_id already holds different content and
    overwrite is False.
    """
    store = open_store(dest)  # a refused or unusable destination fails before any work
    return write_run_to_store(run, store, overwrite=overwrite, progress=progress)


async def write_run_async(
    run: Run, dest: "str | os.PathLike | Destination", *, overwrite: bool = False, progress: Progress | None = None
) -> WriteReport:
    """write_run for asyncio code: the work runs in a worker thread, the event loop stays free."""
    return await asyncio.to_thread(write_run, run, dest, overwrite=overwrite, progress=progress)


def write_run_to_store(run: Run, store: Store, *, overwrite: bool = False, progress: Progress | None = None) -> WriteReport:
    """write_run on a store already opened (with its own options, e.g. a GCS client)."""
    plan = plan_run(run)
    return Transaction(store, overwrite=overwrite, progress=progress).commit(plan)


__all__ = [
    "write_run",
    "write_run_async",
    "write_run_to_store",
    "plan_run",
    "Plan",
    "Blob",
    "Transaction",
    "WriteReport",
    "WrittenObject",
]
