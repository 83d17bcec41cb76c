"""Every check the contract declares refuses a run that breaks it: in write_run, in check_run and in `lake validate`.

The cases come from the contract (tests/support/contract_cases.py): each unique column gets a duplicated
key, each bounded column a value out of bounds, each domain a value outside it, each required column a
null, each blank-id and reference check a blank or dangling id, each multi-column uniqueness a repeated
row, and each row check of its own logic its hand-made case. A check added to the contract without a case
fails test_every_check_of_the_contract_has_a_case; a check dropped from the contract fails
test_the_contract_keeps_every_check_it_promised (and its case, which then passes validation).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import lake
from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import Failure, ValidationError
from lake.verify import verify_destination
from lake.write.conform import conform
from lake.write.encode import parquet_bytes, read_parquet_bytes
from schemas import RUN_TABLES, RUNS
from tests.conftest import files_under
from tests.support.contract_cases import (
    ROW_CHECK_CASES,
    Case,
    Check,
    NoCase,
    all_checks,
    base_summary,
    base_tables,
    case_for,
    contract_checks,
    data_table_checks,
    set_cell,
)

# Every check the contract promises, as a failure names it. A new check is added here with its case.
PROMISED = """
orders.client_order_id [not_nullable]
orders.client_order_id [unique]
orders.strategy_id [not_nullable]
orders.instrument_id [not_nullable]
orders.order_side [not_nullable]
orders.order_side [isin(['BUY', 'SELL'])]
orders.order_type [not_nullable]
orders.order_type [isin(['MARKET', 'LIMIT', 'STOP_MARKET', 'STOP_LIMIT', 'MARKET_TO_LIMIT', 'MARKET_IF_TOUCHED', 'LIMIT_IF_TOUCHED', 'TRAILING_STOP_MARKET', 'TRAILING_STOP_LIMIT'])]
orders.quantity [not_nullable]
orders.quantity [greater_than(0)]
orders.filled_qty [not_nullable]
orders.filled_qty [greater_than_or_equal_to(0)]
orders.price [greater_than(0)]
orders.trigger_price [greater_than(0)]
orders.avg_px [greater_than(0)]
orders.status [not_nullable]
orders.status [isin(['INITIALIZED', 'DENIED', 'EMULATED', 'RELEASED', 'SUBMITTED', 'ACCEPTED', 'REJECTED', 'CANCELED', 'EXPIRED', 'TRIGGERED', 'PENDING_UPDATE', 'PENDING_CANCEL', 'PARTIALLY_FILLED', 'FILLED'])]
orders.time_in_force [not_nullable]
orders.time_in_force [isin(['GTC', 'IOC', 'FOK', 'GTD', 'DAY', 'AT_THE_OPEN', 'AT_THE_CLOSE'])]
orders.ts_init [not_nullable]
orders.ts_init_ns [ns_matches_timestamp]
orders.ts_last [not_nullable]
orders.ts_last_ns [ns_matches_timestamp]
orders.client_order_id [client_order_id_not_blank]
orders.venue_order_id [venue_order_id_not_blank]
orders.strategy_id [strategy_id_not_blank]
orders.instrument_id [instrument_id_not_blank]
orders.filled_qty [filled_qty_equals_fills]
orders [filled_qty_le_quantity]
orders [avg_px_set_when_filled]
orders [ts_last_ge_ts_init]
fills.trade_id [not_nullable]
fills.trade_id [unique]
fills.client_order_id [not_nullable]
fills.venue_order_id [not_nullable]
fills.strategy_id [not_nullable]
fills.instrument_id [not_nullable]
fills.order_side [not_nullable]
fills.order_side [isin(['BUY', 'SELL'])]
fills.last_qty [not_nullable]
fills.last_qty [greater_than(0)]
fills.last_px [not_nullable]
fills.last_px [greater_than(0)]
fills.commission [not_nullable]
fills.commission_currency [not_nullable]
fills.liquidity_side [not_nullable]
fills.liquidity_side [isin(['NO_LIQUIDITY_SIDE', 'MAKER', 'TAKER'])]
fills.ts_event [not_nullable]
fills.ts_event_ns [ns_matches_timestamp]
fills.trade_id [trade_id_not_blank]
fills.client_order_id [client_order_id_not_blank]
fills.venue_order_id [venue_order_id_not_blank]
fills.position_id [position_id_not_blank]
fills.strategy_id [strategy_id_not_blank]
fills.instrument_id [instrument_id_not_blank]
fills.commission_currency [commission_currency_not_blank]
fills.client_order_id [references_orders]
fills.position_id [references_positions]
fills.instrument_id [instrument_matches_order]
positions.position_id [not_nullable]
positions.position_id [unique]
positions.strategy_id [not_nullable]
positions.instrument_id [not_nullable]
positions.opening_order_id [not_nullable]
positions.entry [not_nullable]
positions.entry [isin(['BUY', 'SELL'])]
positions.side [not_nullable]
positions.side [isin(['FLAT', 'LONG', 'SHORT'])]
positions.quantity [not_nullable]
positions.quantity [greater_than_or_equal_to(0)]
positions.peak_qty [not_nullable]
positions.peak_qty [greater_than(0)]
positions.avg_px_open [not_nullable]
positions.avg_px_open [greater_than(0)]
positions.avg_px_close [greater_than(0)]
positions.realized_pnl [not_nullable]
positions.currency [not_nullable]
positions.ts_opened [not_nullable]
positions.ts_opened_ns [ns_matches_timestamp]
positions.ts_closed_ns [ns_matches_timestamp]
positions.is_snapshot [not_nullable]
positions.position_id [position_id_not_blank]
positions.strategy_id [strategy_id_not_blank]
positions.instrument_id [instrument_id_not_blank]
positions.opening_order_id [opening_order_id_not_blank]
positions.closing_order_id [closing_order_id_not_blank]
positions.currency [currency_not_blank]
positions.opening_order_id [opening_order_in_orders]
positions.closing_order_id [closing_order_in_orders]
positions [ts_closed_ge_ts_opened]
positions [quantity_le_peak_qty]
equity_curve.ts [not_nullable]
equity_curve.currency [not_nullable]
equity_curve.balance [not_nullable]
equity_curve.unrealized_pnl [not_nullable]
equity_curve.equity [not_nullable]
equity_curve.peak_equity [not_nullable]
equity_curve.peak_equity [matches_derivation]
equity_curve [multiple_fields_uniqueness]
equity_curve.currency [currency_not_blank]
equity_curve [equity_eq_balance_plus_unrealized]
runs.order_count [not_nullable]
runs.order_count [greater_than_or_equal_to(0)]
runs.fill_count [not_nullable]
runs.fill_count [greater_than_or_equal_to(0)]
runs.position_count [not_nullable]
runs.position_count [greater_than_or_equal_to(0)]
runs.equity_point_count [not_nullable]
runs.equity_point_count [greater_than_or_equal_to(0)]
runs.realized_pnl_by_currency [not_nullable]
runs.commission_by_currency [not_nullable]
runs.created_at [not_nullable]
runs.schema_version [not_nullable]
runs.writer_version [not_nullable]
runs.summary_json [not_nullable]
runs [exactly_one_row]
""".strip().splitlines()


def _parse(promised: str) -> Check:
    where, _, name = promised.partition(" [")
    table, _, column = where.partition(".")
    return Check(table, column or None, name[:-1])


def checks_to_try() -> list[Check]:
    """Every data table check promised here or declared by the contract: a promised check that the contract
    dropped is tried too (and the writer lets its case through)."""
    declared = data_table_checks()
    return declared + [c for c in map(_parse, PROMISED) if c.table in RUN_TABLES and c not in declared]


def test_the_contract_keeps_every_check_it_promised():
    assert [str(_parse(p)) for p in PROMISED] == PROMISED
    declared = [str(c) for c in all_checks()]
    assert len(declared) == len(set(declared))
    assert sorted(set(PROMISED) - set(declared)) == [], "checks dropped from the contract"
    assert sorted(set(declared) - set(PROMISED)) == [], "new checks: add them to PROMISED (and a case if asked)"


def test_every_check_of_the_contract_has_a_case():
    tables = base_tables()
    missing = []
    for check in data_table_checks():
        try:
            case_for(check, tables)
        except NoCase as exc:
            missing.append(str(exc))
    assert missing == []
    assert {(c.table, c.name) for c in data_table_checks()} >= set(ROW_CHECK_CASES), "a hand-made case for no check"


def test_a_check_without_a_case_is_named():
    with pytest.raises(NoCase, match=r"no bad-input case for orders \[a_new_check\]"):
        case_for(Check("orders", None, "a_new_check"))


def _failure(failures: list[Failure], check: Check) -> Failure:
    named = [f for f in failures if (f.table, f.column, f.check) == (check.table, check.column, check.name)]
    assert named, f"{check} not reported; got: {[str(f) for f in failures]}"
    return named[0]


def _bad_run(check: Check, run_id: str) -> tuple[lake.Run, Case, pa.Table]:
    """The run broken by the check's case, the case, and the one table it changed."""
    tables = base_tables()
    case = case_for(check, tables)
    broken = case.mutate(tables)
    changed = [name for name in RUN_TABLES if broken[name] is not tables[name]]
    assert len(changed) == 1, changed  # one table broken, the others as they were
    return lake.Run(run_id, base_summary(), **broken), case, broken[changed[0]]


@pytest.mark.parametrize("check", checks_to_try(), ids=str)
def test_write_run_and_check_run_refuse_a_run_that_breaks_the_check(tmp_path, check):
    run, case, _ = _bad_run(check, "bad-case")
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    failure = _failure(err.value.failures, case.writer_check)
    assert case.row in [i for i, _ in failure.rows], str(failure)
    assert str(case.writer_check) in str(err.value)
    assert files_under(tmp_path / "dest") == []
    report = lake.check_run(run)
    assert not report.ok and [str(f) for f in report.failures] == [str(f) for f in err.value.failures]


def test_the_unbroken_run_passes(tmp_path):
    report = lake.write_run(lake.Run("good-case", base_summary(), **base_tables()), tmp_path)
    assert report.run_id == "good-case" and verify_destination(tmp_path).ok


# -- lake validate: a file that breaks a check, with bytes that match the manifest ------------------------

# Checks made while a caller's table is brought to contract shape (conform): a file of the lake already
# has that shape, so validate reads them as the values they are.
_CONFORM_ONLY = {"not_nullable", "ns_matches_timestamp", "matches_derivation"}


def _replace_file(dest, run_id: str, name: str, table: pa.Table) -> None:
    """Put `table` at the run's spec and lake keys of `name`, and its size, CRC32C and rows in the manifest."""
    data = parquet_bytes(table, RUN_TABLES[name], run_id)
    manifest_file = dest / layout.manifest_key(run_id)
    manifest = json.loads(manifest_file.read_text())
    for key in (layout.spec_table_key(run_id, name), layout.lake_key(run_id, name)):
        (dest / key).unlink()
        (dest / key).write_bytes(data)
        manifest["objects"][key] = {"size": len(data), "crc32c": crc32c_b64(data), "rows": table.num_rows}
    manifest_file.write_text(json.dumps(manifest))


@pytest.mark.parametrize("check", [c for c in checks_to_try() if c.name not in _CONFORM_ONLY], ids=str)
def test_validate_reports_a_committed_file_that_breaks_the_check(tmp_path, check):
    lake.write_run(lake.Run("tampered", base_summary(), **base_tables()), tmp_path)
    _, case, table = _bad_run(check, "tampered")
    name = next(n for n in RUN_TABLES if table.num_columns and n == _table_named(table))
    conformed = conform(RUN_TABLES[name], table, failures := [])
    assert failures == []
    row = case.row
    _replace_file(tmp_path, "tampered", name, conformed)
    report = verify_destination(tmp_path, "tampered")
    (run,) = report.runs
    shown = [p for p in run.problems if str(check) in p]
    assert shown, run.problems
    assert f"row {row}:" in shown[0]


def _table_named(table: pa.Table) -> str:
    """Which of the four data tables `table` is (by its columns)."""
    return next(n for n, t in RUN_TABLES.items() if set(table.column_names) <= set(t.column_names)
                and t.columns[0].name == table.column_names[0])


# -- the runs row: built by the writer, so only a runs row changed in the store can break its checks --------


def _runs_row_cases() -> list[Check]:
    return contract_checks(RUNS)


def _break_runs_row(row: pa.Table, check: Check) -> tuple[pa.Table, str]:
    """The runs row broken for `check`, and the problem validate must report."""
    key = layout.commit_key("row-case")
    if check.name == "exactly_one_row":
        return pa.concat_tables([row, row]), f"{key}: {check}"
    if check.name == "greater_than_or_equal_to(0)":
        return set_cell(row, check.column, 0, -1), f"{key}: {check} (1 row, e.g. row 0: '-1')"
    if check.name == "not_nullable":
        # Parquet keeps a required column free of nulls: the file must declare the column optional,
        # which is a schema the runs contract does not have.
        index = row.schema.get_field_index(check.column)
        field = row.schema.field(index).with_nullable(True)
        row = row.cast(row.schema.set(index, field))
        column = RUNS.column(check.column)
        return set_cell(row, check.column, 0, None), (
            f"{key}: schema differs from the runs contract: {check.column} is {column.kind.arrow}, "
            f"expected {column.kind.arrow} not null"
        )
    raise NoCase(f"no bad-input case for {check}")


@pytest.mark.parametrize("check", _runs_row_cases(), ids=str)
def test_validate_reports_a_runs_row_that_breaks_the_runs_contract(tmp_path, check):
    lake.write_run(lake.Run("row-case", base_summary(), **base_tables()), tmp_path)
    path = tmp_path / layout.commit_key("row-case")
    broken, problem = _break_runs_row(read_parquet_bytes(path.read_bytes()), check)
    path.unlink()
    path.write_bytes(parquet_bytes(broken, RUNS, "row-case"))
    (run,) = verify_destination(tmp_path, "row-case").runs
    assert any(p.startswith(problem) for p in run.problems), run.problems
