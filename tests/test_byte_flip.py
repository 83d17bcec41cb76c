"""One flipped byte, the size unchanged, in any object the manifest lists: `lake validate` names the object.

The manifest records the size and CRC32C of every object of a run but itself and the runs row: each table's
spec file and its lake partition (written as two names, so each is damaged on its own), summary.json, the
config and the log. A single flipped bit at the start, inside and at the end of each of them (also one that
makes text invalid UTF-8) must be reported as "bytes differ from the manifest", never pass, never crash the
check. In the manifest itself, a flipped byte in any entry (key, size, CRC32C, rows) or in its run_id is
reported too. The same on GCS (fake-gcs-server), where the damaged object is uploaded with the plain client.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lake
from lake import layout
from lake.synthetic import synthetic_run
from lake.verify import verify_destination
from schemas import RUN_TABLES

RUN = "flip-1"
DIFFER = "bytes differ from the manifest (size or CRC32C)"


def the_run() -> lake.Run:
    base = synthetic_run(RUN, 40, 3, config={"strategy": {"fast": 10, "note": "ünïcode"}})
    return lake.Run(RUN, base.summary, *base.tables().values(), config=base.config, log="2024-01-01 INFO started\n" * 20)


LISTED = [
    *(layout.spec_table_key(RUN, t) for t in RUN_TABLES),
    *(layout.lake_key(RUN, t) for t in RUN_TABLES),
    layout.summary_key(RUN),
    layout.config_key(RUN),
    layout.log_key(RUN),
]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("flip")
    lake.write_run(the_run(), dest)
    assert verify_destination(dest).ok
    return dest


def flipped(data: bytes, at: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


def positions(size: int) -> list[tuple[int, int]]:
    """(offset, mask): the first and last bytes, a spread between, and a high bit in the middle."""
    spread = [0, 1, size // 5, size // 3, size // 2, 2 * size // 3, 4 * size // 5, size - 5, size - 1]
    return [(at, 0x01) for at in sorted(set(spread))] + [(size // 2, 0x80)]


def problems_with(dest: Path, key: str, data: bytes) -> list[str]:
    """validate's problems of the run with `data` at key (the other name of the same bytes left intact)."""
    path = dest / key
    original = path.read_bytes()
    path.unlink()  # a spec file and its lake partition are hard links: damage this name only
    path.write_bytes(data)
    try:
        (run,) = verify_destination(dest, RUN).runs
        return run.problems
    finally:
        path.unlink()
        path.write_bytes(original)


@pytest.mark.parametrize("key", LISTED)
def test_a_flipped_byte_in_a_listed_object_is_reported(written, key):
    data = (written / key).read_bytes()
    for at, mask in positions(len(data)):
        damaged = flipped(data, at, mask)
        assert len(damaged) == len(data) and damaged != data
        problems = problems_with(written, key, damaged)
        assert f"{key}: {DIFFER}" in problems, (at, mask, problems)
        assert all(p.startswith(key) for p in problems), (at, mask, problems)  # nothing else is blamed
    assert verify_destination(written).ok  # and put back, all is well again


def _entry_offsets(text: str, key: str) -> list[int]:
    """Offsets in the manifest's text of a character inside the key's name, size, CRC32C and rows."""
    at = text.index(json.dumps(key))
    entry = text[at : text.index("}", at)]
    name = at + 1 + len(key) // 2
    size = at + entry.index('"size": ') + len('"size": ')
    crc = at + entry.index('"crc32c": "') + len('"crc32c": "') + 3
    rows = at + entry.index('"rows": ') + len('"rows": ')
    return [name, size, crc] + ([rows] if entry[rows - at] != "n" else [])


def test_a_flipped_byte_in_any_entry_or_the_run_id_of_the_manifest_is_reported(written):
    key = layout.manifest_key(RUN)
    data = (written / key).read_bytes()
    text = data.decode("utf-8")
    assert text.isascii()  # offsets in the text are offsets in the bytes
    offsets = {listed: _entry_offsets(text, listed) for listed in LISTED}
    run_id = text.index(f'"run_id": "{RUN}"') + len('"run_id": "') + 2
    for listed, ats in [*offsets.items(), ("run_id", [run_id])]:
        for at in ats:
            problems = problems_with(written, key, flipped(data, at))
            assert problems, f"a flip in the manifest's {listed} at byte {at} went unnoticed"
    rows_of = {listed: len(ats) == 4 for listed, ats in offsets.items()}
    assert rows_of == {k: k.endswith(".parquet") for k in LISTED}  # rows recorded for tables, null otherwise


def test_a_flipped_byte_in_an_object_on_gcs_is_reported(gcs):
    lake.write_run(the_run(), gcs.url)
    bucket = gcs.client().bucket(gcs.bucket)
    for key in (layout.lake_key(RUN, "fills"), layout.spec_table_key(RUN, "orders"), layout.summary_key(RUN)):
        blob = bucket.blob(key)
        original = blob.download_as_bytes()
        blob.upload_from_string(flipped(original, len(original) // 2))
        (run,) = verify_destination(gcs.url, RUN).runs
        assert f"{key}: {DIFFER}" in run.problems and all(p.startswith(key) for p in run.problems), run.problems
        blob.upload_from_string(original)
    assert verify_destination(gcs.url).ok
