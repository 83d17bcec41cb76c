"""The storage spec's facade, lake.GCSResultUploader, against fake-gcs-server."""

from __future__ import annotations

import asyncio
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.errors import DestinationError, ValidationError
from lake.verify import verify_destination
from lake.run import Run
from lake.synthetic import synthetic_run
from lake.write import plan_run


def test_sync_upload_writes_the_spec_layout_from_dataframes(gcs):
    src = synthetic_run("facade-run-1", 800, 4)
    frames = {name: table.to_pandas() for name, table in src.tables().items()}
    uploader = lake.GCSResultUploader(bucket_name=gcs.bucket)
    report = uploader.upload_backtest_results_sync(
        "facade-run-1",
        src.summary,
        orders_df=frames["orders"],
        fills_df=frames["fills"],
        positions_df=frames["positions"],
        equity_df=frames["equity_curve"],
        config={"strategy": "EMACross", "api_key": "abc123secret"},
        log_content="started\nused abc123secret\n",
    )
    assert report.dest == gcs.url
    objects = gcs.objects()
    assert sorted(objects) == sorted(layout.run_keys("facade-run-1"))

    # Byte for byte what write_run makes of the same run.
    same = Run("facade-run-1", src.summary, config={"strategy": "EMACross", "api_key": "abc123secret"},
               log="started\nused abc123secret\n", **frames)  # fmt: skip
    plan = plan_run(same)
    for blob in [*plan.data, plan.summary]:
        for key in blob.keys:
            assert objects[key] == blob.data, key
    fills = pq.read_table(pa.BufferReader(objects["backtest_results/facade-run-1/fills.parquet"]))
    assert fills.num_rows == 800
    assert fills.column("trade_id").to_pylist() == frames["fills"]["trade_id"].tolist()
    assert json.loads(objects["config/facade-run-1/backtest_config.json"])["api_key"] == "***"
    assert b"abc123secret" not in objects["logs/facade-run-1/execution.log"]
    assert verify_destination(gcs.url).ok


def test_async_upload_leaves_out_what_is_not_given(gcs):
    src = synthetic_run("facade-run-2", 200, 5)
    uploader = lake.GCSResultUploader(gcs.bucket)
    report = asyncio.run(
        uploader.upload_backtest_results(
            "facade-run-2", src.summary, orders_df=src.orders, fills_df=src.fills, positions_df=src.positions
        )
    )
    objects = gcs.objects()
    assert layout.commit_key("facade-run-2") in objects
    assert "config/facade-run-2/backtest_config.json" not in objects  # optional parts stay absent
    assert "logs/facade-run-2/execution.log" not in objects
    rows = {o.key: o.rows for o in report.objects}
    assert rows["backtest_results/facade-run-2/fills.parquet"] == 200
    assert rows["backtest_results/facade-run-2/equity_curve.parquet"] == 0  # not given: an empty table
    equity = pq.read_table(pa.BufferReader(objects["lake/equity_curve/run_id=facade-run-2/part-00000.parquet"]))
    assert equity.num_rows == 0 and "equity" in equity.column_names

    # A summary alone is a run with four empty tables.
    uploader.upload_backtest_results_sync("facade-run-3", {"note": "no trades"})
    runs_row = pq.read_table(pa.BufferReader(gcs.objects()[layout.commit_key("facade-run-3")])).to_pylist()[0]
    assert (runs_row["order_count"], runs_row["fill_count"]) == (0, 0)
    assert verify_destination(gcs.url).ok


def test_bad_tables_fail_validation_and_write_nothing(gcs):
    src = synthetic_run("facade-run-4", 50, 6)
    fills = src.fills.to_pandas()
    fills.loc[3, "last_px"] = -fills.loc[3, "last_px"]
    with pytest.raises(ValidationError, match="fills.last_px"):
        lake.GCSResultUploader(gcs.bucket).upload_backtest_results_sync(
            "facade-run-4", src.summary, src.orders, fills, src.positions, src.equity_curve
        )
    assert gcs.objects() == {}


def test_default_bucket_and_the_guard(monkeypatch):
    monkeypatch.delenv("EXECUTION_STORE_GCS_BUCKET", raising=False)
    assert lake.GCSResultUploader().bucket_name == "execution-store-cefi-central-element-323112"
    monkeypatch.setenv("EXECUTION_STORE_GCS_BUCKET", "results-central-element-3-backtest-cefi")
    assert lake.GCSResultUploader().store.url == "gs://results-central-element-3-backtest-cefi"
    with pytest.raises(DestinationError) as err:
        lake.GCSResultUploader("market-data-tick-cefi-central-element-323112")
    assert "gs://execution-store-cefi-central-element-323112" in str(err.value)
