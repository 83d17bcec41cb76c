"""`lake query`, `lake compare` and `lake sql generate` on a lake written by write_run."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import matplotlib.image
import numpy as np
import pyarrow.parquet as pq
import pytest

from lake.cli import main
from sql import SQL_DIR
from tests.sql_lake import build_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return str(build_lake(tmp_path_factory.mktemp("cli-lake")))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_table_output(lake, capsys):
    code, out, _ = run_cli(capsys, "query", "leaderboard", "--dest", lake)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "rank", "run_id", "currency", "net_pnl", "commission", "trades", "closed_positions", "win_rate",
        "max_drawdown", "max_drawdown_pct", "sharpe", "return_days", "turnover",
    ]
    assert lines[2].split()[:6] == ["1", "alpha", "BNB", "0", "0.001", "7"]
    assert lines[3].split()[:6] == ["1", "alpha", "USDT", "22.36", "0.64", "7"]
    assert lines[4].split()[:6] == ["2", "0042", "USDT", "-11.55", "1.05", "3"]
    assert lines[-1] == "(3 rows)"


def test_query_csv_json_parquet_agree(lake, capsys, tmp_path):
    args = ["query", "run_vs_run", "--dest", lake, "--param", "run_a=alpha", "--param", "@run_b=0042"]
    _, out, _ = run_cli(capsys, *args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["instrument_id"], r["currency"], D(r["net_pnl_diff"])) for r in rows] == [
        ("BTCUSDT.BINANCE", "USDT", D("-30.9")),
        ("ETHUSDT.BINANCE", "BNB", D(0)),
        ("ETHUSDT.BINANCE", "USDT", D("-3.01")),
    ]
    _, out, _ = run_cli(capsys, *args, "--format", "json")
    data = json.loads(out)
    assert [(r["instrument_id"], r["net_pnl_a"], r["fills_a"], r["win_rate_b"]) for r in data] == [
        ("BTCUSDT.BINANCE", "19.35", 5, 0.0),
        ("ETHUSDT.BINANCE", "0", 1, None),
        ("ETHUSDT.BINANCE", "3.01", 1, None),
    ]
    target = tmp_path / "vs.parquet"
    code, _, err = run_cli(capsys, *args, "--format", "parquet", "--output", str(target))
    assert code == 0 and "wrote 3 rows" in err
    table = pq.read_table(target)
    assert table.column("net_pnl_b").to_pylist() == [D("-11.55"), D(0), D(0)]


def test_query_sql_text_and_file(lake, capsys, tmp_path):
    code, out, _ = run_cli(
        capsys, "query", "SELECT run_id, COUNT(*) AS fills FROM execution.fills GROUP BY run_id ORDER BY run_id",
        "--dest", lake, "--format", "csv",
    )
    assert code == 0 and out.splitlines() == ['"run_id","fills"', '"0042",3', '"alpha",7']
    path = tmp_path / "mine.sql"
    path.write_text("-- Positions per run?\n-- Parameters:\n--   @run_id STRING the run\n"
                    "SELECT COUNT(*) AS n FROM execution.positions WHERE run_id = @run_id\n")
    code, out, _ = run_cli(capsys, "query", str(path), "--param", "run_id=alpha", "--dest", lake, "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 4}]


def test_query_errors_are_clear(lake, capsys, tmp_path):
    code, _, err = run_cli(capsys, "query", "leaderbord", "--dest", lake)
    assert code == 2 and "'leaderbord' is neither a shipped query" in err
    code, _, err = run_cli(capsys, "query", "run_vs_run", "--dest", lake, "--param", "run_a=alpha")
    assert code == 2 and "missing parameter @run_b" in err
    code, _, err = run_cli(capsys, "query", "leaderboard", "--dest", str(tmp_path / "nowhere"))
    assert code == 2 and "no lake at" in err
    code, _, err = run_cli(capsys, "query", "leaderboard", "--dest", lake, "--format", "parquet")
    assert code == 2 and "needs --output" in err
    code, _, err = run_cli(capsys, "query", "SELECT nope FROM execution.fills", "--dest", lake)
    assert code == 2 and "DuckDB failed" in err and "nope" in err


def test_query_list(capsys):
    code, out, _ = run_cli(capsys, "query", "--list")
    assert code == 0
    assert "leaderboard" in out and "@run_a:STRING @run_b:STRING" in out


def test_compare_prints_side_by_side_and_saves_the_png(lake, capsys, tmp_path):
    png = tmp_path / "plots" / "ab.png"
    code, out, _ = run_cli(capsys, "compare", "alpha", "0042", "--dest", lake, "--png", str(png))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["metric", "alpha", "(BNB)", "alpha", "(USDT)", "0042", "(USDT)"]
    assert lines[2].split() == ["net_pnl", "0", "22.36", "-11.55"]
    assert lines[3].split() == ["commission", "0.001", "0.64", "1.05"]
    assert "per instrument (a = alpha, b = 0042):" in out
    assert f"equity curves saved to {png.resolve()}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (700, 1000)
    # Two coloured lines were drawn (matplotlib's first two colours: blue and orange).
    rgb = (image[..., :3] * 255).round().astype(int)
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (np.abs(rgb - colour).sum(axis=-1) < 30).sum() > 200


def test_compare_refuses_uncommitted_or_too_few_runs(lake, capsys, tmp_path):
    code, _, err = run_cli(capsys, "compare", "alpha", "gamma", "--dest", lake, "--png", str(tmp_path / "x.png"))
    assert code == 2 and "not committed" in err and "gamma" in err
    assert not (tmp_path / "x.png").exists()
    code, _, err = run_cli(capsys, "compare", "alpha", "alpha", "--dest", lake)
    assert code == 2 and "at least two" in err
    code, _, err = run_cli(capsys, "compare", "alpha", "../etc", "--dest", lake)
    assert code == 2 and "invalid run_id" in err


def test_sql_generate_check_and_write(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "sql", "generate", "--check")
    assert code == 0 and "match schemas/" in out
    code, out, _ = run_cli(capsys, "sql", "generate", "--out", str(tmp_path))
    assert code == 0 and "ddl/fills.sql" in out
    for rel in ("ddl/fills.sql", "views/positions.sql"):
        assert (tmp_path / rel).read_text() == (SQL_DIR / rel).read_text()
    (tmp_path / "views" / "runs.sql").write_text("-- edited by hand\n")
    code, out, _ = run_cli(capsys, "sql", "generate", "--check", "--out", str(tmp_path))
    assert code == 1 and "views/runs.sql" in out
