"""The one place where object keys are spelled.

Keys are '/'-separated and relative to the destination root. Run ids are
checked once, where they enter (lake.Run, a CLI argument, a listed key); a
checked id is a RunId and passes through here as it is, anything else is
checked now, so no key is ever built from unchecked input.
"""

from __future__ import annotations

import re

from lake.errors import InvalidRunIdError, LakeError
from lake.run import RunId, check_run_id
from schemas import RUN_TABLES, TABLES

PART_FILE = "part-00000.parquet"  # the runs row's name, and a run's first data files
_DATA_FILE = re.compile(r"part-(00000|[0-9a-f]{16})\.parquet")
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


def data_file_name(generation: str) -> str:
    """The file name of one generation of a run's lake data files (the same in every data table)."""
    return check_data_file(f"part-{generation}.parquet")


def check_data_file(name: object) -> str:
    """A data file name as a runs row may name it: part-00000.parquet or part-<16 hex>.parquet."""
    if not isinstance(name, str) or not _DATA_FILE.fullmatch(name):
        raise LakeError(f"invalid lake data file name {name!r}: expected {PART_FILE} or part-<16 hex>.parquet")
    return name


def is_data_file(name: str) -> bool:
    """Whether a file name is one a writer gives lake data files (any generation)."""
    return bool(_DATA_FILE.fullmatch(name))


def lake_key(run_id: str, table: str, data_file: str = PART_FILE) -> str:
    """A run's file in a lake table. Data tables' files are named by the run's commit (data_file);
    the runs row itself, the commit, always has the fixed name."""
    name = PART_FILE if table == "runs" else check_data_file(data_file)
    return f"{lake_partition_prefix(table)}run_id={_rid(run_id)}/{name}"


def commit_key(run_id: str) -> str:
    """The object whose existence commits a run: its runs row, replaced only under a precondition."""
    return lake_key(run_id, "runs")


def is_lake_data_key(key: str) -> bool:
    """A key in a lake data table (not the runs row): immutable once a commit names it."""
    return key.startswith(LAKE_ROOT + "/") and not key.startswith(lake_partition_prefix("runs"))


def with_data_file(key: str, data_file: str) -> str:
    """`key` with a lake data file renamed to data_file (other keys unchanged)."""
    head, _, name = key.rpartition("/")
    if not is_lake_data_key(key) or name != PART_FILE:
        return key
    return f"{head}/{check_data_file(data_file)}"


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
    except InvalidRunIdError:
        return None


def run_keys(run_id: str, data_file: str = PART_FILE) -> list[str]:
    """Every key a run may own (config and log are optional)."""
    keys = [manifest_key(run_id)]
    keys += [spec_table_key(run_id, t) for t in RUN_TABLES]
    keys += [summary_key(run_id), config_key(run_id), log_key(run_id)]
    keys += [lake_key(run_id, t, data_file) for t in TABLES]
    return keys
