# lienthong: every target sets itself up (virtualenv + pinned install) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo airflow test lint format bench requirements clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "lienthong needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lienthong-demo demo

# Airflow with its UI on the demo's warehouse: Data quality in its menu (Ctrl-C stops it).
airflow: $(STAMP)
	$(BIN)/lienthong-demo airflow

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# Our whole sync beside raw COPY, pandas + GX and dlt on the same records, in one run; writes
# docs/BENCHMARKS.md. By default population at 100k and 1M records, dossiers at 100k and
# civil_events at 100k (a registry database on the same server, beside raw COPY only);
# ROWS=3000 (or ROWS=100000,1000000) sizes every dataset, DATASETS=dossiers runs one. dlt gets
# its own virtualenv (bench/.venv-dlt, made on first use). The warehouse:
# LIENTHONG_WAREHOUSE_URL, else embedded.
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(ROWS),--rows $(ROWS)) $(if $(DATASETS),--datasets $(DATASETS))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-resolve the pinned set from requirements.in (needs the package index).
requirements:
	rm -rf .venv-resolve && $(PYTHON) -m venv .venv-resolve
	.venv-resolve/bin/pip install --quiet --upgrade pip
	.venv-resolve/bin/pip install --quiet -r requirements.in
	.venv-resolve/bin/pip check
	{ head -3 requirements.txt; .venv-resolve/bin/pip freeze; } > requirements.txt.new
	mv requirements.txt.new requirements.txt && rm -rf .venv-resolve

clean:
	-$(BIN)/python -c 'from lienthong.warehouse import embedded; embedded.stop()' 2>/dev/null
	rm -rf $(VENV) bench/.venv-dlt .airflow .lienthong .pytest_cache .ruff_cache
