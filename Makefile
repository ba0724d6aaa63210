# airflow-azml — the two commands a user needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export AZML_HOME ?= $(CURDIR)/.azml

.PHONY: install azurite demo test test-fast bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	python3 -m uv sync --frozen --quiet
	@touch $@

azurite:               ## the pinned Azurite (npm) the Blob tests start; a no-op once installed
	@bash tools/azurite/install.sh

demo: install          ## run dags/seed_pipeline.py through Airflow on the embedded default
	$(VENV)/bin/azml run dags/seed_pipeline.py

test: install azurite  ## the whole suite (system tests included)
	$(VENV)/bin/pytest -q

test-fast: install     ## only the tests that need no running Airflow
	$(VENV)/bin/pytest -q -m "not slow"

bench: install azurite ## every benchmark in bench/, figures printed as ratios
	$(PY) -m bench.run_all

lint:
	$(VENV)/bin/ruff check airflow_azml tests bench dags
	$(VENV)/bin/ruff format --check airflow_azml tests bench dags

clean:
	rm -rf .azml
