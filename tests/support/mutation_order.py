"""pytest plugin for `make mutate`: the tests of a mutant run fastest first, so a killed mutant costs little.

mutmut gives each mutant the tests that cover the mutated function, in no particular order, and stops at the
first failure (-x). Its stats file (mutants/mutmut-stats.json, the current folder while it runs tests) holds
each test's duration from the clean run: the tests are sorted by it. Without the file nothing changes.
"""

from __future__ import annotations

import json
from pathlib import Path


def pytest_collection_modifyitems(session, config, items):
    stats = Path("mutmut-stats.json")
    if not stats.is_file():
        return
    try:
        durations = json.loads(stats.read_text()).get("duration_by_test", {})
    except ValueError:
        return
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
