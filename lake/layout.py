"""The one place where object keys are spelled.

Keys are '/'-separated and relative to the destination root. Run ids are
checked once, where they enter (lake.Run, a CLI argument, a listed key); a
checked id is a RunId and passes through here as it is, anything else is
checked now, so no key is ever built from unchecked input.
"""

from __future__ import annotations

from lake.run import RunId, check_run_id
from schemas import RUN_TABLES, TABLES

PART_FILE = "part-00000.parquet"
SPEC_ROOT = "backtest_results"
LAKE_ROOT = "lake"


def _rid(run_id: str) -> RunId:
    return run_id if type(run_id) is RunId else check_run_id(run_id)


def _table(name: str) -> str:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}")
    return name


def spec_table_key(run_id: str, table: str) -> str:
    if table not in RUN_TABLES:
        raise KeyError(f"{table!r} has no spec file")
    return f"{SPEC_ROOT}/{_rid(run_id)}/{table}.parquet"


def summary_key(run_id: str) -> str:
    return f"{SPEC_ROOT}/{_rid(run_id)}/summary.json"


def manifest_key(run_id: str) -> str:
    """The run's claim and integrity record, written before any data."""
    return f"{SPEC_ROOT}/{_rid(run_id)}/_manifest.json"


def config_key(run_id: str) -> str:
    return f"config/{_rid(run_id)}/backtest_config.json"


def log_key(run_id: str) -> str:
    return f"logs/{_rid(run_id)}/execution.log"


def lake_partition_prefix(table: str) -> str:
    return f"{LAKE_ROOT}/{_table(table)}/"


def lake_key(run_id: str, table: str) -> str:
    return f"{lake_partition_prefix(table)}run_id={_rid(run_id)}/{PART_FILE}"


def commit_key(run_id: str) -> str:
    """The object whose existence commits a run: its runs row."""
    return lake_key(run_id, "runs")


def run_id_from_key(key: str) -> str | None:
    """The run_id a key belongs to, or None for keys outside any run."""
    parts = key.split("/")
    if len(parts) >= 3 and parts[0] in (SPEC_ROOT, "config", "logs"):
        run_id = parts[1]
    elif len(parts) >= 4 and parts[0] == LAKE_ROOT and parts[2].startswith("run_id="):
        run_id = parts[2][len("run_id=") :]
    else:
        return None
    try:
        return check_run_id(run_id)
    except Exception:
        return None


def run_keys(run_id: str) -> list[str]:
    """Every key a run may own (config and log are optional)."""
    keys = [manifest_key(run_id)]
    keys += [spec_table_key(run_id, t) for t in RUN_TABLES]
    keys += [summary_key(run_id), config_key(run_id), log_key(run_id)]
    keys += [lake_key(run_id, t) for t in TABLES]
    return keys
