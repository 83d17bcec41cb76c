"""A run's identity: its experiment, tags and parameters, and one name per meaning in summary.json.

Bad experiment names, tags and parameters are refused with a LakeError naming the field (never showing a
secret), and nothing is written; secrets in parameters are redacted, in tags refused; summary.json's run_id
is the lake's run_id, NautilusTrader's is kept as nautilus_run_id.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.errors import InvalidExperimentError, InvalidTagsError, LakeError, ValidationError
from tests.conftest import files_under
from tests.sql_lake import run_0042
from tests.support.bad_inputs import pandas_tables


def runs_row(dest, run_id: str) -> dict:
    return pq.read_table(dest / layout.commit_key(run_id)).to_pylist()[0]


@pytest.mark.parametrize("experiment", ["a/b", "..", "a..b", "has space", "", "x" * 129, "-dash", "exp=1", "ünï", 7])
def test_bad_experiment_names_are_refused_before_anything_happens(experiment):
    tables, summary = pandas_tables()
    with pytest.raises(InvalidExperimentError) as err:
        lake.Run("run-1", summary, experiment=experiment, **tables)
    assert "experiment" in str(err.value) and isinstance(err.value, LakeError)


SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["a", "b"], "tags must be a mapping"),
        ({"": "x"}, "invalid tag name ''"),
        ({"has space": "x"}, "invalid tag name 'has space'"),
        ({"t" * 65: "x"}, "invalid tag name"),
        ({1: "x"}, "invalid tag name 1"),
        ({"n": 5}, "tag 'n': the value must be text, got int"),
        ({"n": {"nested": "x"}}, "tag 'n': the value must be text, got dict"),
        ({"n": "line\nbreak"}, "tag 'n': the value holds a control character"),
        ({"n": "x" * 1025}, "more than 1024"),
        ({"api_key": SECRET}, "tag 'api_key' looks like a secret"),
        ({"password": SECRET}, "tag 'password' looks like a secret"),
        ({"db": f"postgresql://user:{SECRET}@host/db"}, "tag 'db': the value holds a password or token"),
        ({"note": f"token={SECRET}"}, "tag 'note': the value holds a password or token"),
    ],
)
def test_bad_tags_are_refused_naming_the_tag_never_the_secret(tags, expected):
    tables, summary = pandas_tables()
    with pytest.raises(InvalidTagsError) as err:
        lake.Run("run-1", summary, tags=tags, **tables)
    assert expected in str(err.value) and SECRET not in str(err.value)


def test_a_tag_holding_a_secret_found_elsewhere_is_refused_and_nothing_is_written(tmp_path):
    run = dataclasses.replace(run_0042(), config={"api_key": SECRET}, tags={"note": f"ran with {SECRET}"})
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    assert [(f.table, f.column, f.check) for f in err.value.failures] == [("tags", "note", "secret")]
    assert SECRET not in str(err.value)
    assert files_under(tmp_path / "dest") == []


@pytest.mark.parametrize(
    "params, column, check",
    [
        ({"S-1.fast": b"bytes"}, "S-1.fast", "json"),
        ({'S-1."quoted"': 1}, "'S-1.\"quoted\"'", "key"),
        ({"S-1.back\\slash": 1}, "'S-1.back\\\\slash'", "key"),
        ({"  ": 1}, "'  '", "key"),
        ({5: 1}, "5", "key"),
        ({"k" * 257: 1}, None, "key"),
        (["not", "a", "mapping"], None, "type"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_written(tmp_path, params, column, check):
    run = dataclasses.replace(run_0042(), params=params)
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    (failure,) = err.value.failures
    assert (failure.table, failure.check) == ("params", check)
    if column is not None:
        assert failure.column == column
    assert files_under(tmp_path / "dest") == []
    assert not lake.check_run(run).ok


def test_experiment_tags_and_parameters_land_in_the_runs_row(tmp_path):
    params = {"S-1.fast_period": 10, "S-1.ratio": 0.25, "S-1.on": True, "S-1.none": None, "S-1.levels": [1, 2],
              "S-1.nested": {"b": 1, "a": [True]}, "S-1.size": __import__("decimal").Decimal("0.001")}
    run = dataclasses.replace(run_0042(), experiment="grid-1", tags={"author": "ana", "git": "abc123"}, params=params)
    lake.write_run(run, tmp_path)
    row = runs_row(tmp_path, "0042")
    assert row["experiment"] == "grid-1" and row["schema_version"] == 3
    assert json.loads(row["tags_json"]) == {"author": "ana", "git": "abc123"}
    # flat JSON scalars: lists and objects as their JSON text, decimals exact as text
    assert json.loads(row["params_json"]) == {
        "S-1.fast_period": 10, "S-1.ratio": 0.25, "S-1.on": True, "S-1.none": None, "S-1.levels": "[1,2]",
        "S-1.nested": '{"a":[true],"b":1}', "S-1.size": "0.001",
    }
    bare = tmp_path / "bare"
    lake.write_run(run_0042(), bare)
    assert (runs_row(bare, "0042")["experiment"], runs_row(bare, "0042")["tags_json"], runs_row(bare, "0042")["params_json"]) == (None, None, None)


def test_secrets_in_parameters_are_redacted_everywhere(tmp_path):
    dsn_password = "pw-4f8a9c2e"
    params = {"S-1.api_key": SECRET, "S-1.venue": {"url": "wss://x", "apiSecret": "s3cr3t-abcdef"},
              "S-1.db": f"postgresql://trader:{dsn_password}@db:5432/lake", "S-1.fast": 5}
    run = dataclasses.replace(run_0042(), params=params, log=f"connecting with {SECRET}\n")
    lake.write_run(run, tmp_path)
    got = json.loads(runs_row(tmp_path, "0042")["params_json"])
    assert got["S-1.api_key"] == "***" and got["S-1.fast"] == 5
    assert json.loads(got["S-1.venue"]) == {"apiSecret": "***", "url": "wss://x"}  # redacted before it became text
    assert got["S-1.db"] == "postgresql://trader:***@db:5432/lake"
    for path in files_under(tmp_path):  # nor in any other byte written (the log named the key's value)
        data = (tmp_path / path).read_bytes()
        for secret in (SECRET, "s3cr3t-abcdef", dsn_password):
            assert secret.encode() not in data, (path, secret)


def test_summary_run_id_is_the_lakes_and_nautilus_run_id_is_kept(tmp_path):
    base = run_0042()
    uuid = "84310295-6b6d-4d0f-9221-6512d5490b28"
    lake.write_run(dataclasses.replace(base, summary={"run_id": uuid, "trader_id": "T-1"}), tmp_path / "a")
    written = json.loads((tmp_path / "a" / layout.summary_key("0042")).read_text())
    assert (written["run_id"], written["nautilus_run_id"]) == ("0042", uuid)
    assert json.loads(runs_row(tmp_path / "a", "0042")["summary_json"])["run_id"] == "0042"
    lake.write_run(dataclasses.replace(base, summary={}), tmp_path / "b")  # none given: set
    assert json.loads((tmp_path / "b" / layout.summary_key("0042")).read_text()) == {"run_id": "0042"}
    with pytest.raises(ValidationError, match=r"summary.run_id \[run_id\]: 'other' is not the run's run_id '0042'"):
        lake.write_run(dataclasses.replace(base, summary={"run_id": "other", "nautilus_run_id": uuid}), tmp_path / "c")
    assert files_under(tmp_path / "c") == []


def test_the_spec_facade_takes_experiment_tags_and_params(gcs):
    """lake.GCSResultUploader against fake-gcs-server: the three reach the runs row; a bad name writes nothing."""
    import pyarrow as pa

    base = run_0042()
    uploader = lake.GCSResultUploader(gcs.bucket)
    uploader.upload_backtest_results_sync("0042", {}, base.orders, base.fills, base.positions, base.equity_curve,
                                          experiment="grid-1", tags={"a": "b"}, params={"S-1.fast": 5})
    row = pq.read_table(pa.BufferReader(gcs.objects()[layout.commit_key("0042")])).to_pylist()[0]
    assert (row["experiment"], row["tags_json"], row["params_json"]) == ("grid-1", '{"a": "b"}', '{"S-1.fast": 5}')
    with pytest.raises(InvalidExperimentError):
        uploader.upload_backtest_results_sync("facade-2", {}, experiment="no good")
    assert not any("facade-2" in key for key in gcs.objects())


def test_a_drawdown_the_runs_row_cannot_hold_is_refused(tmp_path):
    """equity from +9e28 to -9e28: each value fits NUMERIC(38, 9), the fall of 1.8e29 does not."""
    import pandas as pd

    from lake.catalog.smoke import equity_frame

    t = pd.Timestamp("2024-01-02 09:00", tz="UTC")
    huge = "9" + "0" * 28
    equity = equity_frame([(t, "USDT", huge, "0"), (t + pd.Timedelta(hours=1), "USDT", "-" + huge, "0")])
    with pytest.raises(ValidationError) as err:
        lake.write_run(dataclasses.replace(run_0042(), equity_curve=equity), tmp_path)
    assert [(f.table, f.column, f.check) for f in err.value.failures] == [("equity_curve", "equity", "total_fits_numeric")]
    assert "max drawdown (180000000000000000000000000000" in str(err.value)
    assert files_under(tmp_path) == []
