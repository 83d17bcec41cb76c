"""The shipped queries on a gs:// lake (fake-gcs-server), read by DuckDB through gcsfs."""

from __future__ import annotations

from decimal import Decimal as D

from lake import layout
from lake.catalog.engine import query_lake
from lake.write import write_run
from tests.sql_lake import alpha, gamma, run_0042


def test_queries_on_a_gcs_lake_match_the_local_answers(gcs, tmp_path):
    dest = f"{gcs.url}/team/lake-a"
    for run in (alpha(), run_0042(), gamma()):
        write_run(run, dest)
    gcs.client().bucket(gcs.bucket).blob(f"team/lake-a/{layout.commit_key('gamma')}").delete()

    board = {(r["run_id"], r["currency"]): r for r in query_lake(dest, "leaderboard").to_pylist()}
    assert set(board) == {("alpha", "USDT"), ("alpha", "BNB"), ("0042", "USDT")}  # gamma is not committed
    assert (board["alpha", "USDT"]["net_pnl"], board["alpha", "USDT"]["max_drawdown"]) == (D("22.36"), D(30))
    assert board["0042", "USDT"]["turnover"] == D("610.5")

    vs = query_lake(dest, "run_vs_run", {"run_a": "alpha", "run_b": "0042"}).to_pylist()
    assert [(r["instrument_id"], r["currency"], r["net_pnl_diff"]) for r in vs] == [
        ("BTCUSDT.BINANCE", "USDT", D("-30.9")),
        ("ETHUSDT.BINANCE", "BNB", D(0)),
        ("ETHUSDT.BINANCE", "USDT", D("-3.01")),
    ]


def test_an_empty_gcs_prefix_gives_empty_answers(gcs):
    assert query_lake(f"{gcs.url}/nothing-here", "leaderboard").num_rows == 0
