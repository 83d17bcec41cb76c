"""The commit's smaller promises, one by one: what a report says, when created_at is, what a conflict names,
a run committed by someone else with the same bytes, an uncommitted run of other content replaced, an
overwritten run written again or pushed, and what the manifest reader says about any shape it is given."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
import lake.write.push as push_module
from lake import layout
from lake.errors import ConflictError
from lake.stores import LocalStore, PutOutcome
from lake.stores.gcs import GCSStore
from lake.synthetic import synthetic_run
from lake.verify import verify_destination
from lake.write import plan_run, write_run_to_store
from lake.write.commit import WriteReport, WrittenObject, read_commit
from lake.write.manifest import manifest_bytes, read_manifest
from lake.write.push import push
from tests.conftest import files_under
from tests.support.stores import FailingAt, Failure, Recording

RUN = "detail-1"


def run(seed: int, *, log: str | None = None) -> lake.Run:
    base = synthetic_run(RUN, 12 + seed, seed, config={"seed": seed})
    return lake.Run(RUN, base.summary, *base.tables().values(), config=base.config, log=log)


def test_the_report_lists_every_object_with_size_rows_and_outcome():
    report = WriteReport("r", "/lake", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), [
        WrittenObject("lake/fills/run_id=r/part-00000.parquet", 12_345, 1_234, PutOutcome.CREATED),
        WrittenObject("backtest_results/r/summary.json", 99, None, PutOutcome.IDENTICAL),
    ])
    assert str(report).splitlines() == [
        "run r -> /lake (2 objects, 12,444 bytes)",
        "  created         12,345 B      1,234 rows  lake/fills/run_id=r/part-00000.parquet",
        "  identical           99 B                  backtest_results/r/summary.json",
    ]
    assert (report.total_bytes, report.bytes_written, report.created) == (
        12_444, 12_345, ["lake/fills/run_id=r/part-00000.parquet"])


def test_created_at_is_utc_and_the_same_in_the_manifest_the_runs_row_and_the_report(tmp_path):
    before = dt.datetime.now(dt.timezone.utc)
    report = lake.write_run(run(1), tmp_path)
    manifest = json.loads((tmp_path / layout.manifest_key(RUN)).read_text())
    row = pq.read_table(tmp_path / layout.commit_key(RUN)).to_pylist()[0]
    assert manifest["created_at"].endswith("+00:00")
    created = dt.datetime.fromisoformat(manifest["created_at"])
    assert before <= created <= dt.datetime.now(dt.timezone.utc)
    assert row["created_at"] == created == report.created_at
    assert report.dest == str(tmp_path)
    overwrite = lake.write_run(run(2), tmp_path, overwrite=True)
    row = pq.read_table(tmp_path / layout.commit_key(RUN)).to_pylist()[0]
    manifest = json.loads((tmp_path / layout.manifest_key(RUN)).read_text())
    assert overwrite.dest == str(tmp_path) and overwrite.created_at > created
    assert row["created_at"] == dt.datetime.fromisoformat(manifest["created_at"]) == overwrite.created_at


def test_a_conflict_names_the_run_and_the_objects_that_differ(tmp_path):
    lake.write_run(run(1), tmp_path)
    with pytest.raises(ConflictError) as err:
        lake.write_run(run(2), tmp_path)
    # every object the manifest lists (not itself, nor the runs row; neither run has a log)
    differing = sorted(set(layout.run_keys(RUN)) - {layout.manifest_key(RUN), layout.commit_key(RUN), layout.log_key(RUN)})
    shown = ", ".join(differing[:4])
    assert str(err.value) == (f"run '{RUN}' already exists with different content at '{layout.commit_key(RUN)}' "
                              f"(differs in {shown} and {len(differing) - 4} more); pass overwrite=True to replace it")


def test_an_uncommitted_run_of_other_content_is_replaced_whole_by_overwrite(tmp_path):
    """A crashed write left another run's manifest, data and log: overwrite=True writes this run and drops them."""
    with pytest.raises(Failure):
        write_run_to_store(run(1, log="old log\n"), FailingAt(LocalStore(tmp_path), k=9))  # all but the runs row
    assert layout.log_key(RUN) in files_under(tmp_path) and verify_destination(tmp_path).uncommitted
    with pytest.raises(ConflictError, match="differs in"):
        lake.write_run(run(2), tmp_path)
    store = Recording(LocalStore(tmp_path))
    write_run_to_store(run(2), store, overwrite=True)
    assert store.ops[0].keys == (layout.manifest_key(RUN),) and store.ops[0].flag is True  # the claim, replaced
    assert [op.key for op in store.ops if op.kind == "delete"] == [layout.log_key(RUN)]
    assert files_under(tmp_path) == sorted(set(layout.run_keys(RUN)) - {layout.log_key(RUN)})
    assert verify_destination(tmp_path).ok
    manifest = json.loads((tmp_path / layout.manifest_key(RUN)).read_text())
    row = pq.read_table(tmp_path / layout.commit_key(RUN)).to_pylist()[0]
    assert manifest["created_at"].endswith("+00:00") and dt.datetime.fromisoformat(manifest["created_at"]) == row["created_at"]


def test_an_unreadable_runs_row_is_a_conflict_naming_it_and_overwrite_replaces_it(tmp_path):
    lake.write_run(run(1), tmp_path)
    commit = tmp_path / layout.commit_key(RUN)
    commit.unlink()
    commit.write_bytes(b"not parquet")
    with pytest.raises(ConflictError) as err:
        lake.write_run(run(1), tmp_path)
    assert err.value.key == layout.commit_key(RUN) and "the runs row is unreadable" in str(err.value)
    lake.write_run(run(1), tmp_path, overwrite=True)
    assert verify_destination(tmp_path).ok and commit.read_bytes() != b"not parquet"


def test_a_committed_runs_row_of_other_bytes_over_the_same_objects_is_a_conflict(tmp_path):
    """The manifest lists the same objects, the runs row differs (another writer version wrote it)."""
    lake.write_run(run(1), tmp_path)
    commit = tmp_path / layout.commit_key(RUN)
    table = pq.read_table(commit)
    index = table.schema.get_field_index("writer_version")
    other = table.set_column(index, table.schema.field(index), pa.array(["0.0.1"], pa.string()))
    commit.unlink()
    pq.write_table(other, commit)
    with pytest.raises(ConflictError) as err:
        lake.write_run(run(1), tmp_path)
    assert str(err.value).endswith("(its runs row differs); pass overwrite=True to replace it")


def test_the_same_commit_made_meanwhile_by_another_writer_is_kept(tmp_path):
    """Two writers of the same run: the one that finds the runs row already holding its bytes is done."""

    class CommittedMeanwhile(Recording):
        def swap(self, key, data, content_type, *, expect):
            self._store.swap(key, data, content_type, expect=expect)  # the other writer, a moment earlier
            return super().swap(key, data, content_type, expect=expect)

    report = write_run_to_store(run(1), CommittedMeanwhile(LocalStore(tmp_path)))
    commit = [o for o in report.objects if o.key == layout.commit_key(RUN)]
    assert [o.outcome for o in commit] == [PutOutcome.IDENTICAL]
    assert verify_destination(tmp_path).ok


def test_another_commit_made_meanwhile_is_a_conflict(tmp_path):
    other = plan_run(run(2)).commit_row(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)).data

    class OtherCommittedMeanwhile(Recording):
        def swap(self, key, data, content_type, *, expect):
            self._store.swap(key, other, content_type, expect=expect)
            return super().swap(key, data, content_type, expect=expect)

    with pytest.raises(ConflictError, match="another writer committed this run meanwhile"):
        write_run_to_store(run(1), OtherCommittedMeanwhile(LocalStore(tmp_path)))


def test_an_overwritten_run_written_again_is_kept_and_pushed_as_it_is(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    lake.write_run(run(1), src)
    lake.write_run(run(2), src, overwrite=True)
    data_file = read_commit((src / layout.commit_key(RUN)).read_bytes()).data_file
    assert data_file != layout.PART_FILE  # the new generation's name
    again = lake.write_run(run(2), src)  # the same content, without overwrite: nothing to do
    assert again.created == [] and {o.outcome for o in again.objects} == {PutOutcome.IDENTICAL}
    assert push(src, dest).pushed.keys() == {RUN}
    assert {k: (dest / k).read_bytes() for k in files_under(dest)} == {k: (src / k).read_bytes() for k in files_under(src)}
    assert layout.lake_key(RUN, "fills", data_file) in files_under(dest) and verify_destination(dest).ok


def test_push_refuses_a_destination_holding_another_uncommitted_run_and_names_it(tmp_path, monkeypatch):
    src, dest = tmp_path / "src", tmp_path / "dest"
    lake.write_run(run(1), src)
    with pytest.raises(Failure):
        write_run_to_store(run(2), FailingAt(LocalStore(dest), k=2))  # only the manifest landed
    report = push(src, dest)
    assert report.refused.keys() == {RUN}
    assert f"run '{RUN}' already exists with different content at '{layout.manifest_key(RUN)}'" in report.refused[RUN]


def test_an_overwrite_on_gcs_gives_every_object_its_content_type(gcs):
    lake.write_run(run(1), gcs.url)
    lake.write_run(run(2, log="new log\n"), gcs.url, overwrite=True)
    types = {b.name: b.content_type for b in gcs.client().list_blobs(gcs.bucket)}
    assert types == {
        key: ("application/json" if key.endswith(".json") else
              "text/plain; charset=utf-8" if key.endswith(".log") else "application/vnd.apache.parquet")
        for key in types
    }
    assert len(types) == len(layout.run_keys(RUN)) and verify_destination(gcs.url).ok


@pytest.mark.parametrize(
    "doc, problem",
    [
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"k": {"size": 1, "crc32c": "x", "rows": None}}}, None),
        ([1], "expected a JSON object with run_id, created_at and objects, got an array ([1])"),
        ("text", "expected a JSON object with run_id, created_at and objects, got a string ('text')"),
        (True, "expected a JSON object with run_id, created_at and objects, got a boolean (True)"),
        (None, "expected a JSON object with run_id, created_at and objects, got null (None)"),
        (4.5, "expected a JSON object with run_id, created_at and objects, got a number (4.5)"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00"}, "objects is missing, expected a JSON object"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"x": 1}},
         "the entry of 'x' is 1, expected {\"size\": int, \"crc32c\": str, \"rows\": int or null}"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"x": {"size": -1, "crc32c": "c", "rows": 1}}},
         "the entry of 'x' is {'size': -1, 'crc32c': 'c', 'rows': 1}"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"x": {"size": True, "crc32c": "c", "rows": 1}}},
         "the entry of 'x' is {'size': True"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"x": {"size": 1, "crc32c": "c"}}},
         "the entry of 'x' is {'size': 1, 'crc32c': 'c'}"),
        ({"run_id": "x" * 100, "created_at": "2024-01-01T00:00:00+00:00", "objects": {}},
         f"run_id is '{'x' * 76}..., expected '{RUN}'"),
        ({"run_id": RUN, "created_at": "yesterday", "objects": {}}, "created_at is 'yesterday', expected an ISO 8601 time"),
        ({"run_id": RUN, "created_at": 5, "objects": {}}, "created_at is 5, expected an ISO 8601 time"),
        ({"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": []},
         "objects is an array ([]), expected a JSON object of key -> entry"),
    ],
)
def test_the_manifest_reader_names_every_way_a_document_is_not_a_manifest(doc, problem):
    manifest = read_manifest(json.dumps(doc).encode(), RUN)
    if problem is None:
        assert manifest.ok and manifest.objects == {"k": {"size": 1, "crc32c": "x", "rows": None}}
        assert manifest.created_at == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        return
    assert not manifest.ok
    assert any(p.startswith(f"{layout.manifest_key(RUN)}: ") and problem in p for p in manifest.problems), manifest.problems


def test_an_entry_of_an_empty_object_is_valid():
    doc = {"run_id": RUN, "created_at": "2024-01-01T00:00:00+00:00", "objects": {"k": {"size": 0, "crc32c": "AAAAAA==", "rows": 0}}}
    manifest = read_manifest(json.dumps(doc).encode(), RUN)
    assert manifest.ok and manifest.objects == doc["objects"]


def test_the_manifest_reader_refuses_bytes_that_are_not_json():
    manifest = read_manifest(b"\xff{", RUN)
    assert manifest.objects is None and manifest.problems[0].startswith(f"{layout.manifest_key(RUN)}: not valid UTF-8 JSON")
    assert manifest.problems[0].endswith("the run's objects cannot be checked against it")


def test_manifest_bytes_are_sorted_json_with_the_writer_version():
    from lake.version import __version__

    data = manifest_bytes(RUN, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), {"b": 1, "a": 2})
    assert json.loads(data) == {"run_id": RUN, "created_at": "2024-01-02T03:04:05+00:00", "writer_version": __version__,
                                "objects": {"a": 2, "b": 1}}
    assert data.index(b'"a"') < data.index(b'"b"') and data.endswith(b"}\n")
