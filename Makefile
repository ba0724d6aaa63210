# airflow-azml — the two commands a user needs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export AZML_HOME ?= $(CURDIR)/.azml

.PHONY: install demo test test-fast bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock tools/azurite/package-lock.json
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	python3 -m uv sync --frozen --quiet
	bash tools/azurite/install.sh || echo "Azurite not installed (needs Node.js and npm): the Blob tests cannot run; make demo is unaffected"
	@touch $@

demo: install          ## run dags/seed_pipeline.py through Airflow on the embedded default
	$(VENV)/bin/azml run dags/seed_pipeline.py

test: install          ## the whole suite (system tests included)
	$(VENV)/bin/pytest -q

test-fast: install     ## only the tests that need no running Airflow
	$(VENV)/bin/pytest -q -m "not slow"

bench: install         ## every benchmark in bench/, figures printed as ratios
	$(PY) -m bench.run_all

lint:
	$(VENV)/bin/ruff check airflow_azml tests bench dags
	$(VENV)/bin/ruff format --check airflow_azml tests bench dags

clean:
	rm -rf .azml
