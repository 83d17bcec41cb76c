"""`lake validate` in detail: the contract versions the runs row names, a file's column order, a folder that
cannot be listed among others, a destination that is not a lake, and the report as the user reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import DestinationError
from lake.synthetic import synthetic_run
from lake.verify import verify_destination

RUN = "vd-1"


@pytest.fixture
def dest(tmp_path) -> Path:
    lake.write_run(synthetic_run(RUN, 20, 1), tmp_path)
    return tmp_path


def problems(dest: Path) -> list[str]:
    (run,) = verify_destination(dest, RUN).runs
    return run.problems


def rewrite_runs_row(dest: Path, column: str, value) -> None:
    path = dest / layout.commit_key(RUN)
    table = pq.read_table(path)
    index = table.schema.get_field_index(column)
    table = table.set_column(index, table.schema.field(index), pa.array([value], table.schema.field(index).type))
    path.unlink()
    pq.write_table(table, path)


def test_a_file_written_under_another_version_than_the_runs_row_names(dest):
    versions = json.loads(pq.read_table(dest / layout.commit_key(RUN)).column("table_versions")[0].as_py())
    rewrite_runs_row(dest, "table_versions", json.dumps({**versions, "fills": versions["fills"] + 1}))
    shown = [p for p in problems(dest) if "runs row says" in p]
    # a spec file and its lake partition are the same bytes, checked once, named by the first key
    assert shown == [f"{layout.spec_table_key(RUN, 'fills')}: written under fills contract version {versions['fills']}, "
                     f"the runs row says {versions['fills'] + 1}"]


def test_unreadable_table_versions_in_the_runs_row(dest):
    rewrite_runs_row(dest, "table_versions", "not json")
    assert any(p.startswith(f"{layout.commit_key(RUN)}: table_versions is unreadable") for p in problems(dest))


def test_a_file_with_the_contract_columns_in_another_order(dest):
    key = layout.lake_key(RUN, "fills")
    table = pq.read_table(dest / key)
    names = table.column_names
    _replace_with_table(dest, key, table.select([names[1], names[0], *names[2:]]))
    assert f"{key}: schema differs from the fills contract: column order differs" in problems(dest)


def test_a_folder_that_cannot_be_listed_does_not_hide_the_others(dest, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (dest / "config").rename(outside / "config")
    (dest / "config").symlink_to(outside / "config", target_is_directory=True)
    report = verify_destination(dest)
    assert [p.split(":")[0] for p in report.problems] == ["config/ cannot be listed"]
    (run,) = report.runs  # lake/, listed after it, holds the commit: the run is found and checked
    assert (run.run_id, run.problems) == (RUN, [f"missing {layout.config_key(RUN)} (listed in the manifest)"])


def test_a_destination_that_is_not_a_folder(tmp_path):
    with pytest.raises(DestinationError, match=r"^no lake at '.*nowhere': not a folder$"):
        verify_destination(tmp_path / "nowhere")


def test_the_report_as_the_user_reads_it(dest):
    stray = dest / "lake" / "fills" / "run_id=..bad" / "part-00000.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    (dest / layout.summary_key(RUN)).unlink()
    assert str(verify_destination(dest)).split("\n") == [
        f"{dest}: 1 committed run(s), 0 valid, 1 invalid",
        f"  BAD {RUN}",
        f"        - missing {layout.summary_key(RUN)}",
        "  1 object(s) outside any run (no valid run_id in the key, so no run owns them; a reader that lists the "
        "folders would read them): delete or move them:",
        "    lake/fills/run_id=..bad/part-00000.parquet",
    ]


def _replace_with_table(dest: Path, key: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    (dest / key).unlink()
    (dest / key).write_bytes(data)
    manifest_path = dest / layout.manifest_key(RUN)
    manifest = json.loads(manifest_path.read_text())
    manifest["objects"][key] = {"size": len(data), "crc32c": crc32c_b64(data), "rows": table.num_rows}
    manifest_path.write_text(json.dumps(manifest))


def test_every_schema_difference_is_named_once(dest):
    key = layout.lake_key(RUN, "fills")
    table = pq.read_table(dest / key)
    changed = table.drop_columns(["commission_currency"]).append_column("note", pa.array(["x"] * table.num_rows))
    _replace_with_table(dest, key, changed.replace_schema_metadata(table.schema.metadata))
    assert f"{key}: schema differs from the fills contract: missing commission_currency; extra note" in problems(dest)


def test_an_object_that_cannot_be_read_does_not_stop_the_checks_of_the_others(dest):
    spec = dest / layout.spec_table_key(RUN, "equity_curve")
    outside = dest.parent / f"{dest.name}-outside.parquet"
    spec.rename(outside)
    spec.symlink_to(outside)  # listed, never followed: it cannot be read
    lake_fills = dest / layout.lake_key(RUN, "fills")
    data = bytearray(lake_fills.read_bytes())
    data[len(data) // 2] ^= 1
    lake_fills.unlink()
    lake_fills.write_bytes(bytes(data))
    found = problems(dest)
    assert any(p.startswith(f"{layout.spec_table_key(RUN, 'equity_curve')}: cannot be read") for p in found), found
    assert f"{layout.lake_key(RUN, 'fills')}: bytes differ from the manifest (size or CRC32C)" in found


def test_a_runs_row_that_cannot_be_read_is_reported_not_a_crash(dest):
    commit = dest / layout.commit_key(RUN)
    outside = dest.parent / f"{dest.name}-runs-row.parquet"
    commit.rename(outside)
    commit.symlink_to(outside)  # listed, never followed: it cannot be read
    (run,) = verify_destination(dest, RUN).runs
    assert any(p.startswith(f"{layout.commit_key(RUN)}: cannot be read") for p in run.problems), run.problems


def test_a_missing_manifest_is_named_once(dest):
    (dest / layout.manifest_key(RUN)).unlink()
    assert problems(dest) == [f"missing {layout.manifest_key(RUN)}"]


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_a_worker_process_checks_its_chunk_as_validate_does_in_order(tmp_path, request, monkeypatch, where):
    """What each worker process runs (`_worker_open`, then `_worker_check` per chunk), run here in-process: a
    local folder's runs one by one, a GCS bucket's in threads; the same checks as verify_run, in chunk order."""
    from lake import verify
    from lake.stores import open_store, resolve
    from lake.verify import _worker_check, _worker_open, keys_by_run, verify_run

    monkeypatch.setattr(verify, "_worker_store", None)  # this process's, set by _worker_open, restored after

    url = str(tmp_path) if where == "local" else request.getfixturevalue("gcs").url
    for run_id in ("w-1", "w-2", "w-3"):
        lake.write_run(synthetic_run(run_id, 10, 2), url)
    store = open_store(resolve(url))
    store.delete(layout.spec_table_key("w-2", "fills"))  # w-2 misses a file
    chunk = sorted(keys_by_run(store).items(), reverse=True)
    _worker_open(url)
    checks = _worker_check(chunk)
    assert [c.run_id for c in checks] == ["w-3", "w-2", "w-1"]
    assert [c.problems for c in checks] == [verify_run(store, r, set(k)).problems for r, k in chunk]
    assert checks[1].problems == [f"missing {layout.spec_table_key('w-2', 'fills')}"]


def test_an_unreadable_file_does_not_end_the_check_of_the_run_s_other_files(dest):
    """A spec file cut short (unreadable, sorted first) and a lake file with a value changed behind the manifest's
    back (sorted after it): both are named."""
    spec, lake_file = layout.spec_table_key(RUN, "fills"), layout.lake_key(RUN, "orders")
    for key in (spec, lake_file):
        original = (dest / key).read_bytes()
        (dest / key).unlink()  # spec files and lake files are hard links: damage each name on its own
        (dest / key).write_bytes(original[: len(original) // 2] if key == spec else original[:-1] + b"\x00")
    found = problems(dest)
    assert any(p.startswith(f"{spec}: not readable as Parquet") for p in found), found
    assert f"{lake_file}: bytes differ from the manifest (size or CRC32C)" in found, found
