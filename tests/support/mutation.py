"""`make mutate`: mutation testing (mutmut) of the modules that keep the lake's promises.

    python -m tests.support.mutation [--workers 1] [--time-limit 3300] [--work DIR] [--group commit ...]

For each group of GROUPS (modules, and the tests that hold them to their promises) the project is copied to a
scratch folder (the checkout is never touched: mutmut writes its mutants/ folder next to the code it
mutates) and mutmut runs there. mutmut generates every mutant, runs the group's tests once and records which
tests call which function; then a sample of each module's mutants (--sample, default SAMPLE: the same
mutants every time, chosen by a hash of their names; all of them when a module has fewer) is tested, each
with only the tests that cover its function, fastest first (tests/support/mutation_order.py), stopping at
the first failure. At the end, the kill rate per module and every surviving mutant (its diff) are printed and
written to <work>/report.md. Not part of `make test` or CI: about an hour on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each group: modules mutated together, and the tests that hold them to their promises (fast enough to run
# once per mutant; the slow trials with killed processes and restarted emulators stay in `make test`).
GROUPS = {
    "commit": (
        ["lake/write/commit.py", "lake/write/manifest.py"],
        ["tests/test_commit_order.py", "tests/test_commit_details.py", "tests/test_protocol.py", "tests/test_byte_flip.py",
         "tests/test_verify.py"],
    ),
    "encode": (
        ["lake/write/encode.py", "lake/write/redact.py", "lake/write/runs_row.py"],
        ["tests/test_encoding_details.py", "tests/test_redaction_rules.py", "tests/test_secrets.py", "tests/test_roundtrip.py",
         "tests/test_summary_input.py", "tests/test_bad_input.py", "tests/test_byte_flip.py", "tests/test_runs_row_check.py"],
    ),
    "conform": (
        ["lake/write/conform.py"],
        ["tests/test_conform_details.py", "tests/test_bad_input.py", "tests/test_contract_checks.py",
         "tests/test_summary_input.py", "tests/test_roundtrip.py"],
    ),
    "verify": (
        ["lake/verify.py", "lake/runs_row_check.py"],
        ["tests/test_verify_details.py", "tests/test_verify.py", "tests/test_verify_scale.py", "tests/test_byte_flip.py",
         "tests/test_contract_checks.py", "tests/test_commit_order.py", "tests/test_runs_row_check.py"],
    ),
    "stores": (
        ["lake/stores/local.py", "lake/stores/gcs.py"],
        ["tests/test_store_rules.py", "tests/test_local_store.py", "tests/test_gcs_store.py", "tests/test_gcs_write.py",
         "tests/test_gcs_service_faults.py", "tests/test_protocol.py", "tests/test_commit_details.py"],
    ),
}
MODULES = [m for modules, _ in GROUPS.values() for m in modules]
# Slow trials, left to `make test`: emulator restarts, killed writer processes, 96 MiB uploads, process races;
# and outside the stores group, the GCS tests (each mutant's test process would start its own emulator).
DESELECT = [
    "tests/test_gcs_write.py::test_resume_after_the_writer_process_is_killed",
    "tests/test_gcs_write.py::test_service_killed_and_restarted_mid_write_completes",
    "tests/test_gcs_write.py::test_service_down_past_the_deadline_fails_clearly_then_rerun_completes",
    "tests/test_gcs_store.py::test_service_restart_during_a_large_upload_completes_it_once",
    "tests/test_gcs_store.py::test_no_credentials_is_a_destination_error_naming_the_fix",
    "tests/test_local_store.py::test_swap_race_across_processes_has_exactly_one_winner",
    "tests/test_verify.py::test_a_library_caller_exits_cleanly_after_validating",
]
GCS_ONLY = [
    "tests/test_commit_details.py::test_an_overwrite_on_gcs_gives_every_object_its_content_type",
    "tests/test_commit_order.py::test_push_to_gcs_failing_at_any_operation_commits_nothing_until_the_runs_row",
    "tests/test_byte_flip.py::test_a_flipped_byte_in_an_object_on_gcs_is_reported",
]

COPIED = ["lake", "schemas", "sql", "tests", "docs", "pyproject.toml", "README.md"]
SAMPLE = 80  # mutants tested per module: the kill rate within a few points, in under an hour on one core
STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout", 5: "no tests", 33: "no tests", None: "not checked", -11: "segfault", -9: "segfault"}
NO_MUTANT = "no-such-mutant"  # a filter nothing matches: mutmut generates the mutants, records coverage, stops


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(work: Path, modules: list[str], tests: list[str], deselect: list[str] = ()) -> None:
    """A copy of the project at `work` with mutmut's settings (these modules, these tests) in its pyproject.toml."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "mutants")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, work / name)
    selection = [t for t in tests if (ROOT / t).exists()]
    selection += [arg for t in [*DESELECT, *deselect] if t.split("::")[0] in selection for arg in ("--deselect", t)]
    settings = f"""

[tool.mutmut]
source_paths = ["lake"]
only_mutate = {toml_list(modules)}
also_copy = {toml_list(["schemas", "sql", "docs", "README.md"])}
pytest_add_cli_args_test_selection = {toml_list(selection)}
pytest_add_cli_args = {toml_list(["-p", "tests.support.mutation_order", "-p", "no:cacheprovider", "-W", "ignore"])}
use_git_change_detection = false
# A mutant that makes a test loop is stopped after twice the time its tests take unmutated, plus 4 s.
timeout_multiplier = 2.0
timeout_constant = 2.0
# Workers fork from a server that has only imported the tests: polars' and Arrow's thread pools, busy in
# mutmut's own process after its clean run, do not survive a fork (the child hangs).
process_isolation = "forkserver"
forkserver_warmup = "collect"
"""
    with open(work / "pyproject.toml", "a", encoding="utf-8") as f:
        f.write(settings)


def mutmut(work: Path, args: list[str], time_limit: float) -> tuple[int | None, float]:
    """Run `mutmut <args>` in `work`: (exit code, or None when stopped at the time limit; seconds)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    with open(work / "mutmut.log", "a", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mutmut", *args], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=max(time_limit, 1))
        except subprocess.TimeoutExpired:
            code = None
        _end_group(proc)
    return code, time.monotonic() - started


def _end_group(proc: subprocess.Popen) -> None:
    """Stop mutmut and everything it started (its fork server, emulators of tests stopped at a timeout):
    they all share the process group of its session."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(1)  # the group's other members get the signal too


def exit_codes(work: Path, module: str) -> dict[str, int | None]:
    """mutant name -> mutmut's exit code (None: not run), from the module's .meta file."""
    meta = work / "mutants" / f"{module}.meta"
    return dict(sorted(json.loads(meta.read_text()).get("exit_code_by_key", {}).items())) if meta.exists() else {}


def sample(names: list[str], size: int) -> list[str]:
    """`size` of the names, the same ones every time: those whose SHA-1 comes first."""
    return sorted(sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())[:size])


def show(work: Path, name: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, capture_output=True, text=True)
    return done.stdout.strip()


def report(rows: list[tuple[str, int, dict[str, str]]], shown: dict[str, str], runs: list[tuple[str, float, bool]],
           workers: int) -> str:
    total = sum(seconds for _, seconds, _ in runs)
    timing = ", ".join(f"{group} {seconds / 60:.1f} min" + ("" if done else " (stopped at the time limit)")
                       for group, seconds, done in runs)
    lines = [f"mutmut, {workers} worker(s), {total / 60:.0f} min: {timing}" if runs else "mutmut: the runs in the work folder",
             "",
             "| module | mutants | tested | killed | timeout | survived | no tests | not run | kill rate |",
             "|---|---|---|---|---|---|---|---|---|"]
    for module, generated, statuses in rows:
        c = Counter(statuses.values())
        killed = c["killed"] + c["timeout"] + c["segfault"]
        checked = killed + c["survived"] + c["no tests"] + c["suspicious"]
        rate = f"{killed / checked:.1%}" if checked else "-"
        lines.append(f"| {module} | {generated} | {len(statuses)} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                     f"{c['no tests']} | {c['not checked']} | {rate} |")
    lines += ["", "Surviving mutants (and those no selected test reaches):", ""]
    for name, diff in shown.items():
        lines += [f"### {name}", "", "```diff", diff, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="mutants tested at once (default 1: a core stays free)")
    parser.add_argument("--time-limit", type=float, default=3300, help="seconds for all groups together")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="mutants tested per module (0: all)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "execution-lake-mutate")
    parser.add_argument("--group", action="append", choices=list(GROUPS), help="only these groups (default: all)")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="leave out a test (mutmut needs every selected test to pass on the unmutated code)")
    parser.add_argument("--report-only", action="store_true", help="summarise the earlier runs in --work")
    args = parser.parse_args(argv)
    groups = args.group or list(GROUPS)
    deadline = time.monotonic() + args.time_limit
    rows, shown, runs = [], {}, []
    failed = False
    for group in groups:
        modules, tests = GROUPS[group]
        work = args.work / group
        if not args.report_only:
            prepare(work, modules, tests, args.deselect + (GCS_ONLY if group != "stores" else []))
            _, seconds = mutmut(work, ["run", NO_MUTANT], deadline - time.monotonic())
            names = [n for m in modules for n in (sample(list(exit_codes(work, m)), args.sample) if args.sample
                                                   else exit_codes(work, m))]
            if not names or not (work / "mutants" / "mutmut-stats.json").exists():
                # mutmut needs every selected test to pass on the unmutated code (see --deselect)
                print(f"{group}: mutmut could not generate mutants or run the tests; see {work / 'mutmut.log'}")
                failed = True
                runs.append((group, seconds, False))
                continue
            code, more = mutmut(work, ["run", "--max-children", str(args.workers), *names], deadline - time.monotonic())
            runs.append((group, seconds + more, code is not None))
        for module in modules:
            codes = exit_codes(work, module)
            picked = sample(list(codes), args.sample) if args.sample else list(codes)
            statuses = {name: STATUS.get(codes[name], "suspicious") for name in picked}
            rows.append((module, len(codes), statuses))
            for name, status in statuses.items():
                if status in ("survived", "no tests", "suspicious"):
                    shown[f"{name} ({status})"] = show(work, name)
    text = report(rows, shown, runs, args.workers)
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nreport: {args.work / 'report.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
