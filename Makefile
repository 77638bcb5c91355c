# Set-up and everyday commands. Every target installs what it needs into .venv first,
# so `make demo` and `make test` work on a fresh clone with only python3 on the PATH.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= auto

.PHONY: install lint typecheck test demo docs docs-chart bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Bytecode for our own sources too, as a regular (non-editable) install writes it: with
# PYTHONDONTWRITEBYTECODE set, every command would otherwise compile them at each start.
install: $(STAMP)
	@$(BIN)/python -m compileall -q backend >/dev/null

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy backend/app

test: lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# A fresh ./fashion_forecast.db (the SQLite default) with a sample season in all 14
# tables (the story's 11 and 3 extensions) and one chart per category beside it; it stays for `sqlite3 fashion_forecast.db` and `ffdb stats`.
demo: install
	$(BIN)/ffdb demo --database-url sqlite:///./fashion_forecast.db

# Regenerate the documents made from the code (tests fail when a committed copy is stale).
# head_schema.json needs the PostgreSQL server (FFDB_DOCS_POSTGRES_URL, default local).
docs: install docs-chart
	$(BIN)/python -m backend.app.maintenance.head_schema \
		--postgres-url $${FFDB_DOCS_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
	$(BIN)/ffdb erd --output docs/erd.md
	$(BIN)/ffdb schema-doc --output docs/schema.md
	$(BIN)/ffdb lifecycle --readme README.md

# The README's chart (docs/img/), drawn by the code from the demo season (seed 42).
docs-chart: install
	$(BIN)/python -m backend.app.demo.charts docs/img/variance-FC-CAT-WD-SS25.svg

# Benchmarks print ratios against baselines measured in the same run; not part of `make test`.
# Issue 14's ratios come from bench_import (loaders, memory), bench_startup and bench_writes.
SPEED_BENCHES := bench/bench_import.py bench/bench_startup.py bench/bench_writes.py

# Every script runs even when one misses a target, so one run prints every ratio; the
# target fails at the end, naming the scripts that missed.
bench: install
	@missed=""; for script in bench/bench_*.py; do echo "== $$script"; \
		$(BIN)/python $$script || missed="$$missed $$script"; done; \
	if [ -n "$$missed" ]; then echo "targets missed in:$$missed"; exit 1; fi

# The same ratios on small sizes, in under two minutes: for a quick look while developing.
bench-quick: install
	@set -e; for script in $(SPEED_BENCHES) bench/bench_frames.py; do echo "== $$script"; \
		BENCH_QUICK=1 $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
