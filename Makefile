# Everything starts from nothing but Python >= 3.11: each target creates .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
LAKE := $(VENV)/bin/lake
STAMP := $(VENV)/.installed
LAKE_DEST ?= ./lakehouse

.PHONY: setup test test-latest demo bench clean contract-docs

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(LAKE) demo --dest $(LAKE_DEST)

bench: $(STAMP)
	$(PY) bench/write_run.py
	$(PY) bench/extract.py
	$(PY) bench/gcs.py
	$(PY) bench/query.py
	$(PY) bench/scale.py  # the first run builds bench-lake/scale-{20,5000} (kept for the next)

# docs/contract.md is generated from schemas/ (tests/test_contract_export.py fails when it is stale).
contract-docs: $(STAMP)
	$(LAKE) contract --format markdown > docs/contract.md.tmp && mv docs/contract.md.tmp docs/contract.md

# schemas/history/{table}.json records every released contract version; tests/test_evolution.py (in `make test`)
# refuses a contract change that breaks the evolution rules or is not recorded. After a legal change
# (nullable columns added, version bumped, `since` set): make contract-history, and commit the record.
.PHONY: contract-history bq-smoke
contract-history: $(STAMP)
	$(PY) -m schemas.evolution record

# Every shipped query on real BigQuery and on DuckDB over the same scratch files, compared (docs/sql.md).
# Needs Application Default Credentials: make bq-smoke BQ_PROJECT=my-project [BQ_SMOKE_ARGS='--bucket gs://B/prefix --keep']
BQ_PROJECT ?= $(GOOGLE_CLOUD_PROJECT)
BQ_SMOKE_ARGS ?=
bq-smoke: $(STAMP)
	$(LAKE) bq-smoke $(if $(BQ_PROJECT),--project $(BQ_PROJECT)) $(BQ_SMOKE_ARGS)

clean:
	rm -rf $(VENV) $(VENV_LATEST) lakehouse bench-lake .pytest_cache

# The newest NautilusTrader the pins allow needs Python >= 3.12 (1.231.x; .venv on 3.11 gets 1.221.x).
# test-latest builds .venv-latest with such a Python and runs the Nautilus tests and the demo there.
# Python: python3.13 / python3.12 on PATH if they run (pyenv shims run only for a selected version),
# else pyenv's installed 3.12+ versions, newest first; or set PYTHON_LATEST. None found: it fails.
VENV_LATEST := .venv-latest
PY_LATEST := $(VENV_LATEST)/bin/python
STAMP_LATEST := $(VENV_LATEST)/.installed
PYTHON_LATEST ?= $(shell for c in python3.13 python3.12 \
	  $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/3.* 2>/dev/null | sort -rV | sed 's|$$|/bin/python3|'); do \
	  "$$c" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { command -v "$$c"; break; }; \
	done)

$(STAMP_LATEST): pyproject.toml
	@test -x $(PY_LATEST) || test -n "$(PYTHON_LATEST)" || { \
	  echo "test-latest: no Python >= 3.12 found (tried python3.13, python3.12 and pyenv's versions);" \
	       "install one or set PYTHON_LATEST=/path/to/python3.12" >&2; exit 1; }
	test -x $(PY_LATEST) || $(PYTHON_LATEST) -m venv $(VENV_LATEST)
	$(PY_LATEST) -c 'import sys; assert sys.version_info >= (3, 12), f"$(VENV_LATEST) has Python {sys.version}"'
	$(PY_LATEST) -m pip install --quiet --upgrade pip
	$(PY_LATEST) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[all,test]'
	touch $(STAMP_LATEST)

test-latest: $(STAMP_LATEST)
	@$(PY_LATEST) -c 'import sys, nautilus_trader, pandas, pyarrow; print(f"test-latest: Python {sys.version.split()[0]}, nautilus_trader {nautilus_trader.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}")'
	$(PY_LATEST) -m pytest -q tests/test_nautilus.py tests/test_nautilus_node.py tests/test_nautilus_runner.py tests/test_roundtrip.py tests/test_fixed_point.py
	dest=$$(mktemp -d) && trap 'rm -rf "$$dest"' EXIT && $(VENV_LATEST)/bin/lake demo --dest "$$dest/lakehouse"

# Mutation testing (docs/mutation.md): mutmut over the modules that keep the lake's promises, on a scratch copy
# of the project, one mutant at a time (a core stays free), stopped after MUTATE_TIME seconds. Not part of
# `make test` or CI. The report (kill rate per module, every surviving mutant) goes to MUTATE_DIR/report.md.
MUTATE_TIME ?= 3300
MUTATE_WORKERS ?= 1
MUTATE_DIR ?= $(or $(TMPDIR),/tmp)/execution-lake-mutate
MUTATE_STAMP := $(VENV)/.installed-mutate
.PHONY: mutate
$(MUTATE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[all,test,mutate]'
	touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP)
	$(PY) -m tests.support.mutation --workers $(MUTATE_WORKERS) --time-limit $(MUTATE_TIME) --work $(MUTATE_DIR)
