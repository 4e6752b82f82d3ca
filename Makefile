# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Both go through `make install`, which creates .venv and is a no-op while it is current.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow test-all docs docs-notebooks lint bench bench-300 bench-ablation bench-dev bench-networks peers clean \
	bench-networks-value bench-search-value bench-metadata bench-metadata-cv eval-recommender eval-recommender-alternatives train-recommender bench-allocation bench-scale bench-bag-memory bench-network-memory bench-cost-growth bench-isolation gpu-check bench-deadlines bench-trial-seconds

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/automl quick-run --time-budget 30

# The fast lane (under 8 minutes on 2 cores): every test not marked slow.
test: install
	$(BIN)/ruff check automl recommender search_spaces tests benchmarks examples
	$(BIN)/python -m pytest -q -m "not slow" --durations=15

# The slow lane: notebooks, CLI subprocesses, Keras/TensorFlow, PostgreSQL, long fits.
test-slow: install
	$(BIN)/python -m pytest -q -m slow --durations=15

# Everything CI runs: both lanes and the documentation build.
test-all: test test-slow docs

# The documentation site (mkdocs; the API reference is generated from the docstrings). Offline and
# strict: a warning fails it. NO_MKDOCS_2_WARNING silences mkdocs-material's banner about MkDocs 2.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# The notebooks the site shows, executed with their outputs into docs/notebooks (about 3 minutes;
# rerun after changing examples/*.ipynb, then commit them).
docs-notebooks: install
	$(BIN)/python docs/_execute_notebooks.py

lint: install
	$(BIN)/ruff check automl recommender search_spaces tests benchmarks examples

# The time-promise table of issue 2: every dev-suite dataset at a 60 s budget (about 14 minutes).
bench-dev: install
	$(BIN)/python -m benchmarks.dev_suite --budget 60

# Issue 3: the four frameworks side by side on three dev-suite datasets at 120 s (about 7 minutes).
bench-networks: install
	$(BIN)/python -m benchmarks.dev_suite --budget 120 --datasets adult california_houses mfeat_factors \
		--frameworks sklearn xgboost keras torch --out benchmarks/results/networks_120s.jsonl

# Issue 20: this project with and without the networks, same invocation, every dev-suite dataset
# (2 x 13 runs: about 30 minutes at the default 60 s; BUDGET=300 for the acceptance run, about 2.3 hours).
# SEED=1 repeats it with another search seed into its own file; combine the seeds' files with
# `python -m benchmarks.networks_value --combine FILE...` (the mean difference with a 90% interval).
BUDGET ?= 60
SEED ?= 0
bench-networks-value: install
	$(BIN)/python -m benchmarks.networks_value --budget $(BUDGET) --seed $(SEED) $(ARGS)

# Issue 20: Keras 3's backends timed on this machine (cached for keras_backend='auto'); ~1 minute.
bench-keras-backends: install
	$(BIN)/python -m benchmarks.keras_backends $(ARGS)

# Issue 20: each network family's default trial under 3 s and 10 s deadlines (holdout and 5-fold bags),
# torch, then Keras on each backend; the overrun past the deadline per trial (about 10 minutes).
bench-trial-seconds: install  # where one search's trial seconds go, e.g. ARGS="--dataset diabetes --budget 300"
	$(BIN)/python -m benchmarks.trial_seconds $(or $(ARGS),--dataset diabetes --budget 300)

bench-deadlines: install
	rm -f benchmarks/results/deadlines.jsonl
	$(BIN)/python -m benchmarks.deadlines --frameworks torch $(ARGS)
	for b in jax tensorflow torch; do KERAS_BACKEND=$$b $(BIN)/python -m benchmarks.deadlines --frameworks keras $(ARGS) || exit 1; done

# Issue 20: the GPU proof (under 8 minutes, on a machine with an NVIDIA GPU): XGBoost, CatBoost, each
# torch family and Keras on TensorFlow and JAX fitted on the GPU, the device asserted, epoch seconds
# measured into benchmarks/results/gpu_check.{json,md} and the recommender's GPU calibration. Exits 3
# where no GPU is found; ARGS="--device cpu" is a dry run of the code paths on the CPU.
gpu-check: install
	$(BIN)/python -m benchmarks.gpu_check $(ARGS)

# Issue 5: the peers (FLAML, AutoGluon) live in virtual environments of their own, never in the
# product's dependencies. benchmarks.compare runs AutoGluon twice from one environment: "autogluon"
# (its default preset) and "autogluon-best" (presets="best_quality": bagged, stacked ensembles). FLAML 2.7 pins xgboost<3, which needs scikit-learn<1.8; AutoGluon takes
# the CPU build of torch 2.13.0 that pip finds on this machine.
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed-v1

peers: $(PEERS_STAMP)

$(PEERS_STAMP):
	test -x $(PEERS)/flaml/bin/python || $(PYTHON) -m venv $(PEERS)/flaml
	$(PEERS)/flaml/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/flaml/bin/python -m pip install --quiet 'flaml[automl]==2.7.0' 'scikit-learn<1.8' psutil
	test -x $(PEERS)/autogluon/bin/python || $(PYTHON) -m venv $(PEERS)/autogluon
	$(PEERS)/autogluon/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/autogluon/bin/python -m pip install --quiet torch==2.13.0 \
		'autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3' psutil
	touch $(PEERS_STAMP)

# Issue 5: this project, FLAML, AutoGluon and AutoGluon best_quality side by side on the dev suite
# at 60 s (about 50 minutes); bench-300 is the acceptance run of issue 21 (about 4.5 hours).
bench: install peers
	$(BIN)/python -m benchmarks.compare --budgets 60

bench-300: install peers
	$(BIN)/python -m benchmarks.compare --budgets 300 --resume

# Issue 5: each search feature switched off in turn, this project only, 20 s (about 40 minutes).
bench-ablation: install
	$(BIN)/python -m benchmarks.ablation --budget 20

# Issue 6: the meta-dataset of the learned recommender: each framework's search at 10 s on 130 PMLB
# datasets (about 2 hours on 2 cores; resumable: run it again to go on, or pass ARGS=--minutes 30).
bench-metadata: install
	$(BIN)/python -m benchmarks.metadata $(ARGS)

# Issue 6: each meta-dataset run's chosen configuration scored by 5-fold cross-validation x 2 on all
# rows (the labels the ranking learns from; about 60 min with two workers; resumable).
bench-metadata-cv: install
	$(BIN)/python -m benchmarks.metadata_cv --jobs 2 $(ARGS)

# Issue 6: grouped leave-one-dataset-out evaluation of the learned recommender against the baselines.
eval-recommender: install
	$(BIN)/python -m benchmarks.recommender_model --eval-only

# Issue 22: the recommendation's value inside the search: recommended plan vs frameworks taking turns
# vs the oracle plan, share of the gap closed (12 datasets at 10 s: about 7 minutes; resumable;
# ARGS="--datasets 40 --budgets 10 30" for the issue's run, about 1 hour).
bench-search-value: install
	$(BIN)/python -m benchmarks.search_value $(ARGS)

# Issue 6: other learners (k-NN, ridge, hit chance) on meta-features and landmarks, nested selection
# against the same baselines (about 3 minutes; landmarks cached in benchmarks/results).
eval-recommender-alternatives: install
	$(BIN)/python -m benchmarks.recommender_alternatives

# Issue 6: evaluate, then train on the whole meta-dataset and write recommender/learned_model.json.
train-recommender: install
	$(BIN)/python -m benchmarks.recommender_model

# Issue 6: seconds to 99% of the final score, cost-aware allocation against frameworks taking turns,
# every dev-suite dataset at 60 s (2 x 13 x 60 s, about 27 minutes).
bench-allocation: install
	$(BIN)/python -m benchmarks.allocation --budget 60 $(ARGS)

# Issue 7: a generated 1,000,000 x 50 frame at 300 s, one process and two workers (about 12 minutes).
bench-scale: install
	$(BIN)/python -m benchmarks.scale

# Issue 21: the memory a 5-fold bag's models hold on the medium dev datasets, against the search's bound.
bench-bag-memory: install
	$(BIN)/python -m benchmarks.bag_memory $(ARGS)

# Issue 21: one network fit's preprocessing and peak memory on a million rows (about 3 minutes).
bench-network-memory: install
	$(BIN)/python -m benchmarks.network_memory $(ARGS)

# Issue 21: how one fit's seconds grow from 3,000 to 1,000,000 rows against the cost models (about 8 minutes;
# then `python -m benchmarks.cost_growth --ship` writes recommender/row_growth.json from the measurements).
bench-cost-growth: install
	$(BIN)/python -m benchmarks.cost_growth --cap 60 $(ARGS)

# Issue 7: the per-trial overhead of running trials in a child process (about 3 minutes).
bench-isolation: install
	$(BIN)/python -m benchmarks.isolation_overhead

clean:
	rm -rf $(VENV) $(PEERS) build *.egg-info .pytest_cache
