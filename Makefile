# Every target sets itself up in .venv, so each works on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: serve test lint bench clean test-servers docs screenshots

SERVE_STAMP := $(VENV)/.installed-serve

# Serving needs the package and its runtime dependencies only; pip shows its progress.
$(SERVE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing bc66sim into $(VENV) ..."
	$(BIN)/pip install --upgrade --progress-bar on pip
	$(BIN)/pip install --progress-bar on -e .
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "installing bc66sim and the test tools into $(VENV) ..."
	$(BIN)/pip install -e '.[test]'
	touch $(STAMP) $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/bc66sim serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/mypy src

# The real servers the tests run on loopback (dnsmasq, chronyd), from Debian.
test-servers:
	bash scripts/install-test-servers

test: lint test-servers
	$(BIN)/pytest $(ARGS)

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# A run of every section also writes docs/PERFORMANCE.md (from bench/PERFORMANCE.md.in).
bench: $(BENCH_STAMP) test-servers
	BENCH_DOC=docs/PERFORMANCE.md $(BIN)/python bench/run.py $(ARGS)

# docs/COMMANDS.md is generated from the command table (a test checks it is current).
docs: $(STAMP)
	$(BIN)/python -m bc66sim.docs > docs/COMMANDS.md

# docs/images/: the dashboard's views, as its browser tests see them.
screenshots: $(STAMP) test-servers
	BC66SIM_SCREENSHOTS=docs/images $(BIN)/pytest -q tests/test_dashboard.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
