"""GCSResultUploader: the storage spec's upload API, built on write_run.

The names and arguments are those the storage spec gives the backend, so
existing callers keep working; underneath, every call is one write_run to the
results bucket: the same validation, layout and commit protocol as any run.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Mapping, Optional

from lake.run import Run
from lake.stores.destination import check_results_bucket, default_bucket
from lake.stores.gcs import GCSStore
from lake.write import WriteReport, write_run_to_store
from schemas import RUN_TABLES


class GCSResultUploader:
    """Upload a finished backtest to gs://{bucket_name} (default: env EXECUTION_STORE_GCS_BUCKET,
    else execution-store-cefi-central-element-323112).

    Tables left out (None, or an empty DataFrame without columns) are written as
    empty tables of the contract, so every run has all four files and lake partitions.
    """

    def __init__(self, bucket_name: Optional[str] = None, *, prefix: str = "", overwrite: bool = False, **store_options):
        self.bucket_name = check_results_bucket(bucket_name or default_bucket())
        self.overwrite = overwrite
        self.store = GCSStore(self.bucket_name, prefix, **store_options)

    def __repr__(self) -> str:
        return f"GCSResultUploader({self.store.url!r})"

    def upload_backtest_results_sync(
        self,
        run_id: str,
        summary: dict[str, Any],
        orders_df=None,
        fills_df=None,
        positions_df=None,
        equity_df=None,
        config: Optional[dict[str, Any]] = None,
        log_content: Optional[str] = None,
        *,
        experiment: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping[str, Any]] = None,
    ) -> WriteReport:
        """Validate and write the run (also safe inside a running event loop's thread).

        experiment, tags, params: as lake.Run takes them (the sweep, free labels, the settings that decided the result).
        """
        run = _run(run_id, summary, orders_df, fills_df, positions_df, equity_df, config, log_content,
                   experiment=experiment, tags=tags, params=params)
        return write_run_to_store(run, self.store, overwrite=self.overwrite)

    async def upload_backtest_results(self, *args, **kwargs) -> WriteReport:
        """Validate and write the run; the event loop stays free while it uploads.

        Same arguments as upload_backtest_results_sync (the work runs in a worker thread).
        """
        return await asyncio.to_thread(self.upload_backtest_results_sync, *args, **kwargs)

    upload_backtest_results.__signature__ = inspect.signature(upload_backtest_results_sync)  # for help() and IDEs


def _run(run_id, summary, orders_df, fills_df, positions_df, equity_df, config, log_content, **identity) -> Run:
    given = {"orders": orders_df, "fills": fills_df, "positions": positions_df, "equity_curve": equity_df}
    tables = {name: _table_or_empty(name, table) for name, table in given.items()}
    return Run(run_id, summary, config=config, log=log_content, **identity, **tables)


def _table_or_empty(name: str, table):
    if table is None or (len(getattr(table, "columns", ())) == 0 and len(table) == 0):
        return RUN_TABLES[name].arrow_schema.empty_table()
    return table
