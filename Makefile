# Everything starts from nothing but Python >= 3.11: each target creates .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
LAKE := $(VENV)/bin/lake
STAMP := $(VENV)/.installed
LAKE_DEST ?= ./lakehouse

.PHONY: setup test demo bench clean

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

clean:
	rm -rf $(VENV) lakehouse bench-lake .pytest_cache
