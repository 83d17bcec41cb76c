"""`lake check PATH`: check runs saved as spec files against the contract, writing nothing (a CI step).

Exit 0 when every run passes, 1 when any run fails or PATH holds no run.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="check runs saved as spec files against the contract, writing nothing (for CI)",
        description="Check runs saved as spec files exactly as write_run and `lake push` would before writing them "
        "(conform, Pandera, references, summary, config, log), writing nothing. PATH is a folder laid out like a "
        "store (backtest_results/{run_id}/..., config/{run_id}/..., logs/{run_id}/...; one or more runs) or one run "
        "folder (summary.json beside orders/fills/positions/equity_curve.parquet; its name is the run_id).",
    )
    p.add_argument("path", help="a folder of spec files, or one run folder")
    p.add_argument("--format", choices=("text", "json"), default="text", help="json: one object, for CI annotations")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    from lake.errors import LakeError
    from lake.write.spec_files import find_spec_runs

    try:
        found = find_spec_runs(args.path)
    except LakeError as exc:
        if args.format == "json":
            _print_json({"path": str(args.path), "ok": False, "error": str(exc), "runs": [], "unexpected_files": []})
        print(f"error: {exc}", file=sys.stderr)
        return 1
    reports = [_check(found, run_id, keys) for run_id, keys in sorted(found.runs.items())]
    outside = found.unexpected.get(None, [])
    ok = all(r.ok for r in reports) and not outside
    if args.format == "json":
        _print_json({"path": found.path, "ok": ok, "runs": [r.to_dict() for r in reports], "unexpected_files": outside})
    else:
        bad = sum(not r.ok for r in reports)
        print(f"{found.path}: {len(reports)} run(s), {len(reports) - bad} ok, {bad} with problems")
        for r in reports:
            print(r)
        if outside:
            print(f"{len(outside)} file(s) belong to no run (misplaced, or a run folder named against the run_id rule):")
            print("\n".join(f"  - {key}" for key in outside))
    return 0 if ok else 1


def _check(found, run_id: str, keys: set[str]):
    """One run's report: unreadable or stray files, else check_run's (the code write_run runs)."""
    from lake.errors import Failure, LakeError, ValidationError
    from lake.write.check import CheckReport, check_run
    from lake.write.spec_files import read_spec_run

    stray = [
        Failure("files", None, "unexpected_file", f"{name} is not one of the run's spec files (misspelt?)")
        for name in found.unexpected.get(run_id, [])
    ]
    try:
        report = check_run(read_spec_run(found.store, run_id, keys))
    except ValidationError as exc:  # SpecFileError: a file that cannot be read back
        report = CheckReport(run_id, list(exc.failures))
    except LakeError as exc:  # e.g. a file that cannot be opened
        report = CheckReport(run_id, [Failure("files", None, "unreadable", str(exc))])
    if stray:
        report = CheckReport(run_id, stray + report.failures)
    return report


def _print_json(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")  # ASCII: safe on any console encoding
