# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Both go through `make install`, which creates .venv and is a no-op while it is current.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench-dev bench-networks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/automl quick-run --time-budget 30

test: install
	$(BIN)/ruff check automl recommender search_spaces tests benchmarks examples
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check automl recommender search_spaces tests benchmarks examples

# The time-promise table of issue 2: every dev-suite dataset at a 60 s budget (about 14 minutes).
bench-dev: install
	$(BIN)/python -m benchmarks.dev_suite --budget 60

# Issue 3: the four frameworks side by side on three dev-suite datasets at 120 s (about 7 minutes).
bench-networks: install
	$(BIN)/python -m benchmarks.dev_suite --budget 120 --datasets adult california_houses mfeat_factors \
		--frameworks sklearn xgboost keras torch --out benchmarks/results/networks_120s.jsonl

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
