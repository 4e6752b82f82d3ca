"""The search's features: cost-aware framework allocation, pruner choice, ensemble switch, options."""

from __future__ import annotations

import pytest

from automl.errors import InputError
from automl.search._allocation import CostAwareAllocator, UniformAllocator
from tests.conftest import make_frame


def test_cheap_frameworks_are_tried_first_and_slow_ones_rarely():
    alloc = CostAwareAllocator({"fast": 0.2, "slow": 20.0}, seed=0)
    picks = [alloc.choose(60.0) for _ in range(200)]
    assert picks.count("fast") > 0.9 * len(picks)


def test_a_framework_that_does_not_fit_in_the_time_left_is_not_drawn():
    alloc = CostAwareAllocator({"fast": 0.5, "slow": 30.0}, seed=0)
    assert {alloc.choose(5.0) for _ in range(100)} == {"fast"}
    # When nothing fits, the cheapest is returned (its own deadline truncates it).
    assert CostAwareAllocator({"a": 50.0, "b": 40.0}).choose(1.0) == "b"


def test_uniform_allocation_takes_turns_whatever_the_cost():
    alloc = UniformAllocator({"fast": 0.2, "slow": 20.0, "mid": 2.0}, seed=0)
    assert [alloc.choose(60.0) for _ in range(6)] == ["fast", "slow", "mid"] * 2
    assert {alloc.choose(5.0) for _ in range(4)} == {"fast", "mid"}  # what cannot finish is skipped


def test_observed_cost_replaces_the_prediction():
    alloc = CostAwareAllocator({"a": 0.1, "b": 0.1}, seed=0)
    for _ in range(3):
        alloc.observe("a", 10.0, 0.5)  # predicted cheap, turns out slow
        alloc.observe("b", 0.1, 0.5)
    assert alloc.arms["a"].cost == pytest.approx(10.0)
    picks = [alloc.choose(100.0) for _ in range(300)]
    assert picks.count("b") > picks.count("a")


def test_a_stalled_leader_yields_turns_to_an_improving_framework():
    alloc = CostAwareAllocator({"lead": 1.0, "rising": 1.0}, seed=0)
    alloc.observe("lead", 1.0, 0.90)
    for _ in range(30):  # the leader stops improving
        alloc.observe("lead", 1.0, 0.80)
    alloc.observe("rising", 1.0, 0.85)
    alloc.observe("rising", 1.0, 0.89)  # improving fast, close behind
    eci = alloc.eci()
    assert eci["rising"] < eci["lead"]


def test_failures_make_a_framework_dearer():
    alloc = CostAwareAllocator({"broken": 0.5, "ok": 1.0}, seed=0)
    before = alloc.eci()["broken"]
    for _ in range(5):
        alloc.observe("broken", 0.5, None)
    assert alloc.eci()["broken"] > 5 * before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ensemble": "yes"}, "ensemble must be True or False"),
        ({"search_options": {"pruner": "hyperband"}}, r"search_options\['pruner'\] must be one of"),
        ({"search_options": {"allocation": "random"}}, r"search_options\['allocation'\]"),
        ({"search_options": {"portfolio": 1}}, r"search_options\['portfolio'\]"),
        ({"search_options": {"selection": "caruana"}}, r"search_options\['selection'\] must be one of"),
        ({"search_options": {"selection_rows": "mean"}}, r"search_options\['selection_rows'\] must be one of"),
        ({"search_options": {"speed": "max"}}, "unknown key 'speed'"),
        ({"search_options": ["sha"]}, "search_options must be a dict"),
    ],
)
def test_bad_search_options_fail_before_training(kwargs, match):
    import automl

    with pytest.raises(InputError, match=match):
        automl.fit(make_frame("binary", n=60), "y", time_budget=5, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        {"pruner": "median", "allocation": "sampler", "portfolio": False},
        {"pruner": "none", "allocation": "cost", "portfolio": True},
        {"pruner": "sha", "allocation": "uniform"},
    ],
)
@pytest.mark.slow
def test_each_feature_setting_runs_a_search(options):
    import automl

    df = make_frame("binary", n=200)
    result = automl.fit(
        df, "y", time_budget=30, n_trials=8, frameworks=["sklearn", "xgboost"], verbosity=0,
        ensemble=False, search_options=options,
    )
    assert result.ensemble == [] or result.ensemble is None
    assert len(result.leaderboard) == 8
    assert result.predict(df.drop(columns="y")).shape == (200,)


@pytest.mark.slow
def test_cost_aware_allocation_spreads_trials_over_frameworks():
    import automl

    df = make_frame("regression", n=200)
    result = automl.fit(
        df, "y", time_budget=30, n_trials=24, frameworks=["sklearn", "xgboost"], verbosity=0,
        search_options={"allocation": "cost", "portfolio": False},
    )
    counts = result.leaderboard["framework"].value_counts()
    assert set(counts.index) == {"sklearn", "xgboost"}


@pytest.mark.slow
def test_large_data_searches_on_a_row_sample_and_refits_on_all(monkeypatch):
    import automl
    from automl.search import _resampling, _time_plan

    # Shrink the thresholds so that 600 rows count as large: a holdout, and too few trials fit.
    monkeypatch.setattr(_resampling, "CV3_MAX_ROWS", 100)
    monkeypatch.setattr(_time_plan, "SUBSAMPLE_MIN_ROWS", 150)
    monkeypatch.setattr(_time_plan, "SUBSAMPLE_MIN_TRIALS", 10**9)
    df = make_frame("binary", n=600)
    result = automl.fit(df, "y", time_budget=30, n_trials=4, frameworks=["sklearn"], verbosity=0, ensemble=False)
    note = next(m for m in result.messages if "trials trained on" in m)
    assert "150 of 480 training rows" in note
    assert result.refit.startswith("refitted on all rows in ")
    assert result.predict(df.drop(columns="y")).shape == (600,)

    off = automl.fit(
        df, "y", time_budget=30, n_trials=2, frameworks=["sklearn"], verbosity=0, search_options={"subsample": False}
    )
    assert not any("trials trained on" in m for m in off.messages)


@pytest.mark.parametrize(("given", "expected"), [(None, "10000"), ("300000", "300000")])
def test_import_shortens_openmp_spinning_unless_told(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    if given:
        env["GOMP_SPINCOUNT"] = given
    code = "import os, automl; print(os.environ['GOMP_SPINCOUNT'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == expected


def test_refit_reserve_keeps_time_for_an_ensemble_only_while_it_is_cheap() -> None:
    """On large data, keeping back three trials' refit for an ensemble starved the search (1M rows)."""
    import numpy as np

    from automl.search import _time_plan as s
    from automl.search._best import BestSoFar, Candidates, OutOfFold
    from automl.search._settings import SearchSettings

    settings = SearchSettings(time_budget=300.0, n_trials=None, seed=0, n_jobs=1, started=0.0)
    candidates = Candidates()
    best = BestSoFar(number=0, fold_seconds=2.0)
    plan = s.TimePlan(settings, refit_factor=5.0, best=best, candidates=candidates)  # refit: 10 s
    # Ensemble: 3 x 4 s x 5 = 60 s <= 25% of 300 s.
    candidates.entries = {n: OutOfFold(0.9, np.zeros(1), 4.0, f"fw/m{n}") for n in range(3)}
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS + 60.0 * s.REFIT_SAFETY)
    # mfeat_factors at 300 s: the three best trials were near-identical linear models (~1 s), greedy
    # selection took linear + LightGBM, and the refit of that ensemble did not fit in what was kept back.
    candidates.entries = {n: OutOfFold(0.95 - n / 1000, np.zeros(1), 0.2, "sklearn/linear") for n in range(3)}
    candidates.entries[3] = OutOfFold(0.94, np.zeros(1), 3.0, "lightgbm/lightgbm")
    candidates.entries[4] = OutOfFold(0.93, np.zeros(1), 5.0, "xgboost/xgboost")
    candidates.entries[5] = OutOfFold(0.92, np.zeros(1), 9.0, "catboost/catboost")  # fourth family: not counted
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS + (0.2 + 3.0 + 5.0) * 5.0 * s.REFIT_SAFETY)
    candidates.entries = {n: OutOfFold(0.9, np.zeros(1), 4.0, f"fw/m{n}") for n in range(3)}
    plan.refit_factor = 16.7  # the 1M-row run: ensemble 200 s > 25%, so only the best trial's refit counts
    assert 3 * 4.0 * 16.7 > s.ENSEMBLE_RESERVE_SHARE * 300
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS + 2.0 * 16.7 * s.REFIT_SAFETY)
    best.cut = True  # its fit was stopped at its deadline: it keeps its own model, no refit or ensemble waits
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS)
    plan.refit_factor = 5.0  # not even a cheap ensemble's
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS)
    best.cut = False
    settings.worker = True  # workers never refit
    assert plan.refit_reserve() == 0.0


def test_the_reserve_counts_the_members_greedy_selection_picks_and_a_trial_leaves_room_for_its_refit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """diabetes at 300 s: the members chosen at the end needed 4.7 s to refit and 0.5 s were left; the
    reserve had counted the best trial of each of the three best families."""
    import numpy as np

    from automl.search import _time_plan as s
    from automl.search._best import BestSoFar, Candidates
    from automl.search._settings import SearchSettings

    clock = [1000.0]
    monkeypatch.setattr(s.time, "monotonic", lambda: clock[0])
    settings = SearchSettings(time_budget=300.0, n_trials=None, seed=0, n_jobs=1, started=1000.0)
    candidates, best = Candidates(), BestSoFar(number=0, fold_seconds=0.1)
    plan = s.TimePlan(settings, refit_factor=1.25, best=best, candidates=candidates)
    for n, (seconds, model) in enumerate([(0.1, "sklearn/linear"), (0.2, "lightgbm/lightgbm"), (0.3, "xgboost/xgboost"),
                                          (2.0, "torch/realmlp"), (1.6, "torch/realmlp")]):
        candidates.remember(n, 0.9 - n / 100, np.zeros(3), seconds, model)
    families = (0.1 + 0.2 + 0.3) * 1.25
    assert plan.ensemble_estimate() == pytest.approx(families)  # no selection to ask yet
    calls = []

    def selection(weights: dict[int, float]):  # each selection takes 0.1 s
        def select() -> dict[int, float]:
            calls.append(1)
            clock[0] += 0.1
            return weights
        return select

    plan.select = selection({0: 0.4, 3: 0.3, 4: 0.3})  # two torch RealMLPs and the linear model
    members = (0.1 + 2.0 + 1.6) * 1.25
    assert plan.ensemble_estimate() == pytest.approx(members)
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS + members * s.REFIT_SAFETY)
    assert len(calls) == 1  # cached: the candidates did not change
    plan.select = selection({0: 0.5, 1: 0.5})  # cheaper members now
    candidates.remember(5, 0.5, np.zeros(3), 0.1, "sklearn/knn")
    clock[0] += 1.0
    assert plan.ensemble_estimate() == pytest.approx(members) and len(calls) == 1  # 0.1 s is more than 2% of 1 s
    clock[0] += 0.1 / s.SELECTION_TIME_SHARE
    assert plan.ensemble_estimate() == pytest.approx(families) and len(calls) == 2  # never under the families'

    # A cross-validated trial keeps room for its own refit before the reserve; a bag is never refitted.
    plan.select = None
    clock[0] = settings.deadline - 40.0
    room = plan.trial_deadline() - clock[0]
    assert plan.deadline_of_a_trial(15) - clock[0] == pytest.approx(room / (1 + 1.25 * s.REFIT_SAFETY / 15))
    assert plan.deadline_of_a_trial(1) - clock[0] == pytest.approx(room)  # a holdout trial: as before
    plan.bagged = True  # no refit, but the last selection's 0.1 s is kept for the one at the end
    assert plan.refit_reserve() == pytest.approx(s.REFIT_FIXED_SECONDS + 0.1 * s.REFIT_SAFETY)
    assert plan.deadline_of_a_trial(5) - clock[0] == pytest.approx(plan.trial_deadline() - clock[0])
    clock[0] = settings.started  # early on the cap binds
    assert plan.deadline_of_a_trial(15) - clock[0] == pytest.approx(plan.trial_cap())


def test_a_refit_that_cannot_use_all_rows_uses_the_most_that_fit() -> None:
    """1M rows at 300 s: the refit on all rows was predicted at 144 s with 125 s left; a sample fits."""
    import numpy as np
    import pandas as pd

    from automl.search._refit import refit_sample
    from automl.search._time_plan import REFIT_SAFETY
    from recommender import profile_dataset

    y = pd.Series(np.repeat(["a", "b"], [900, 100]))
    spec = profile_dataset(pd.DataFrame({"x": np.arange(1000.0), "y": y}), "y").feature_spec()

    def sample_for(left: float, needed: float) -> np.ndarray | None:  # trials fitted on 60 rows
        return refit_sample(y, classification=spec.is_classification, refit_factor=1000 / 60, seed=0,
                            left=left, needed=needed)

    sample = sample_for(left=125.0, needed=144.0)
    assert len(sample) == int(1000 * 125.0 / (144.0 * REFIT_SAFETY))  # 694 rows
    assert len(set(sample)) == len(sample) and (np.diff(sample) > 0).all()
    assert (y.iloc[sample] == "b").mean() == pytest.approx(0.1, abs=0.01)  # stratified
    assert sample_for(left=10.0, needed=144.0) is None  # 55 rows: not twice the trial's 60
    assert sample_for(left=200.0, needed=144.0) is None  # all rows fit: the normal refit


def test_the_first_trial_is_the_baseline_an_adapter_names(monkeypatch):
    """The first trial is the default of the family an adapter declares as the baseline (scikit-learn's
    histogram boosting), whatever the frameworks' order; with none declared, the first default."""
    import optuna

    from automl.search._scheduler import Scheduler
    from automl.search._settings import SearchSettings
    from recommender import profile_dataset
    from search_spaces import get_adapter
    from search_spaces.sklearn_adapter import SklearnAdapter

    spec = profile_dataset(make_frame("binary", n=100), "y").feature_spec()
    settings = SearchSettings(
        time_budget=60, n_trials=None, seed=0, n_jobs=1, started=0.0, allocation="sampler", portfolio=False
    )
    adapters = {f: get_adapter(f) for f in ("xgboost", "sklearn")}

    def first_trial() -> dict:
        study = optuna.create_study(direction="maximize")
        Scheduler(list(adapters), adapters, None, settings, None).enqueue_defaults(study, spec)
        return study.trials[0].system_attrs["fixed_params"]

    assert SklearnAdapter.baseline_family == "hgb"
    first = first_trial()
    assert (first["framework"], first["sklearn.family"]) == ("sklearn", "hgb")
    monkeypatch.setattr(SklearnAdapter, "baseline_family", None)
    assert first_trial()["framework"] == "xgboost"


def test_a_trials_folds_share_its_time_and_a_cut_short_trial_trains_a_few_folds_properly() -> None:
    """A network (or booster) stops at its fold's share, so the first fold cannot eat the whole trial;
    one that its deadline cuts short spreads the time over at most three folds, not fifteen."""
    import time

    import numpy as np
    import pandas as pd
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.metrics import get_scorer

    from automl.search._folds import TIME_LIMITED_FOLDS, fit_folds
    from search_spaces._budget import current_budget

    seen: list[float] = []

    class RecordsItsDeadline(RegressorMixin, BaseEstimator):
        def __init__(self, cut_short: bool = False, shorten: bool = False) -> None:
            self.cut_short, self.shorten = cut_short, shorten

        def fit(self, X, y):
            seen.append(current_budget().seconds_left())
            self.mean_, self.truncated_, self.shortened_ = float(np.mean(y)), self.cut_short, self.shorten
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    X = pd.DataFrame({"a": np.arange(60.0)})
    y = pd.Series(np.arange(60.0))
    splits = [(np.arange(60)[np.arange(60) % 6 != k], np.arange(60)[np.arange(60) % 6 == k]) for k in range(6)]

    def run(cut_short: bool, shorten: bool = False):
        seen.clear()
        return fit_folds(
            RecordsItsDeadline(cut_short, shorten), X, y, splits, get_scorer("neg_root_mean_squared_error"),
            deadline=time.monotonic() + 60.0, report=None, n_threads=1, classes=None, keep_oof=False,
            metric_name="rmse",
        )

    result = run(cut_short=False)
    assert len(result.scores) == 6 and not result.truncated and TIME_LIMITED_FOLDS == 3
    # The first fold may use a third; once it finished in time, the time left is shared by every
    # fold left, and what a fold leaves unused passes on.
    assert [round(s) for s in seen] == [20, 12, 15, 20, 30, 60]
    assert not result.cut
    result = run(cut_short=True)  # each fit reports itself cut short: a third of the time left (instant fits here)
    assert [round(s) for s in seen] == [20, 20, 20, 20, 30, 60]
    assert result.cut  # its first fold's fit was stopped: the refit would be too
    # A network that fits its schedule to its deadline is time-limited the same way, but its folds
    # are complete fits: the trial is not truncated, so its out-of-fold predictions can be ensembled.
    result = run(cut_short=False, shorten=True)
    assert [round(s) for s in seen] == [20, 20, 20, 20, 30, 60]
    assert result.shortened and not result.truncated and len(result.scores) == 6


def test_a_refit_is_cut_short_when_stopped_mid_way_or_shortened_into_too_little_time() -> None:
    from types import SimpleNamespace

    from automl.search._refit import SHORTENED_REFIT_SHARE, _cut_short

    def fit(truncated: bool = False, shortened: bool = False) -> SimpleNamespace:
        return SimpleNamespace(truncated_=truncated, shortened_=shortened)

    assert _cut_short(fit(truncated=True), given=100.0, needed=10.0)
    assert not _cut_short(fit(), given=1.0, needed=10.0)  # it finished on its own: no matter the time
    # A schedule shortened to its deadline is a complete fit when that deadline was not far short of
    # what its trial predicted, a starved one otherwise.
    assert not _cut_short(fit(shortened=True), given=SHORTENED_REFIT_SHARE * 10.0, needed=10.0)
    assert _cut_short(fit(shortened=True), given=SHORTENED_REFIT_SHARE * 10.0 - 0.1, needed=10.0)


def test_a_framework_too_late_to_load_is_not_drawn() -> None:
    """Near the end, the cheapest framework was Keras, not loaded yet: each draw's trial was pruned at
    once and the next draw picked it again (1,296 pruned trials in the last seconds of one search)."""
    allocator = CostAwareAllocator({"keras": 0.5, "sklearn": 2.0})
    assert allocator.choose(0.1) == "keras"  # nothing fits: the cheapest
    assert allocator.choose(0.1, allowed=["sklearn"]) == "sklearn"
    assert UniformAllocator({"keras": 0.5, "sklearn": 2.0}).choose(100.0, allowed=["sklearn"]) == "sklearn"


def test_evidence_weighs_on_a_frameworks_draws_until_it_has_a_result() -> None:
    from automl.search._allocation import MIN_PRIOR, priors

    prior = priors({"booster": 0.6, "network": 0.06, "weak": 0.0, "unknown": None}, ["booster", "network", "weak",
                                                                                       "unknown"])
    assert prior == {"booster": 1.0, "network": pytest.approx(0.1), "weak": MIN_PRIOR, "unknown": 1.0}
    assert priors({"a": None, "b": 0.0}, ["a", "b"]) == {"a": 1.0, "b": 1.0}  # no evidence: neutral
    alloc = CostAwareAllocator({"booster": 1.0, "network": 1.0}, seed=0, prior={"booster": 1.0, "network": 0.1})
    picks = [alloc.choose(60.0) for _ in range(400)]
    assert 0.05 < picks.count("network") / len(picks) < 0.15  # 0.1 / 1.1 of the draws
    alloc.observe("network", 1.0, 0.9)  # once it has a result, its own progress decides
    alloc.observe("booster", 1.0, 0.8)
    picks = [alloc.choose(60.0) for _ in range(400)]
    assert picks.count("network") > picks.count("booster")


def test_weak_evidence_and_a_dear_trial_keep_a_framework_out_of_the_first_queue() -> None:
    """Its configurations wait for the allocator; when drawn, its trials start from its defaults."""
    import optuna

    from automl.search._scheduler import Scheduler
    from automl.search._settings import SearchSettings
    from recommender import profile_dataset
    from recommender.ranking import Candidate, Recommendation
    from search_spaces import get_adapter

    spec = profile_dataset(make_frame("binary", n=100), "y").feature_spec()
    settings = SearchSettings(time_budget=60, n_trials=None, seed=0, n_jobs=1, started=0.0, allocation="cost",
                              portfolio=False)

    def candidate(framework: str, seconds: float, top: float) -> Candidate:
        return Candidate(framework, framework, 0.5, seconds / 12, seconds, "cpu", (), 0.95, (0.9, 1.0), 15, top)

    class Plan:
        def trial_seconds_left(self) -> float:
            return 50.0

        def too_late_to_load(self, adapter: object) -> bool:
            return False

    adapters = {f: get_adapter(f) for f in ("sklearn", "torch")}
    rec = Recommendation((candidate("sklearn", 0.5, 0.6), candidate("torch", 10.0, 0.06)), (), 60, "test")
    scheduler = Scheduler(list(adapters), adapters, rec, settings, Plan())
    study = optuna.create_study(direction="maximize")
    scheduler.enqueue_defaults(study, spec)
    assert {c.framework for c in scheduler._queue} == {"sklearn"}
    torch_defaults = [c.family for c in adapters["torch"].default_configs(spec)]
    assert [c.family for c in scheduler._deferred["torch"]] == torch_defaults
    scheduler._queue = []  # the first queue is spent: the allocator draws
    scheduler.allocator.prior["sklearn"] = 1e-9  # make the draw torch's
    study.ask()  # the baseline
    scheduler.next_framework(study)
    fixed = study.get_trials(states=(optuna.trial.TrialState.WAITING,))[0].system_attrs["fixed_params"]
    assert (fixed["framework"], fixed["torch.family"]) == ("torch", torch_defaults[0])
    # Strong evidence or a cheap trial keeps it in the queue.
    for top, seconds in ((0.6, 10.0), (0.06, 1.0)):
        rec = Recommendation((candidate("sklearn", 0.5, 0.6), candidate("torch", seconds, top)), (), 60, "test")
        scheduler = Scheduler(list(adapters), adapters, rec, settings, Plan())
        scheduler.enqueue_defaults(optuna.create_study(direction="maximize"), spec)
        assert "torch" in {c.framework for c in scheduler._queue} and not scheduler._deferred
    # A framework the user named is tried: its defaults queue whatever the evidence says.
    rec = Recommendation((candidate("sklearn", 0.5, 0.6), candidate("torch", 10.0, 0.06)), (), 60, "test")
    named = SearchSettings(time_budget=60, n_trials=None, seed=0, n_jobs=1, started=0.0, allocation="cost",
                           portfolio=False, named=("sklearn", "torch"))
    scheduler = Scheduler(list(adapters), adapters, rec, named, Plan())
    scheduler.enqueue_defaults(optuna.create_study(direction="maximize"), spec)
    assert "torch" in {c.framework for c in scheduler._queue} and not scheduler._deferred


def test_the_frameworks_a_user_names_reach_the_search_settings() -> None:
    from automl._run import prepare

    def named(frameworks: list[str] | None) -> tuple[str, ...]:
        return prepare(
            make_frame("binary", n=60), "y", time_budget=10, n_trials=None, metric=None, frameworks=frameworks,
            task=None, device="cpu", seed=0, n_jobs=1, keras_hypermodel=None, ensemble=True, search_options=None,
        ).named

    assert named(None) == ()
    assert named(["sklearn", "XGBoost"]) == ("sklearn", "xgboost")


def test_ensemble_members_that_fit_their_schedule_to_a_deadline_refit_last_on_their_share() -> None:
    """A network member fits its schedule to whatever deadline it gets: given the whole refit time it
    would leave the next member none. The other members refit first; the networks share what is left
    by their trials' predicted seconds, and a shortened refit is a complete member."""
    import time
    from types import SimpleNamespace

    from automl.search._refit import Refitter
    from search_spaces._budget import current_budget

    given: dict[str, float] = {}

    class Member:
        def __init__(self, name: str, network: bool) -> None:
            self.name, self.network = name, network

        def fit(self, X, y):
            given[self.name] = current_budget().seconds_left()
            self.truncated_, self.shortened_ = False, self.network
            return self

        def __getitem__(self, i):
            return self

    adapter = SimpleNamespace(build=lambda config, spec, **kw: Member(config.family, config.family.startswith("net")))
    deadline = time.monotonic() + 100.0
    refitter = object.__new__(Refitter)
    refitter.adapters, refitter.spec, refitter.X, refitter.y = {"f": adapter}, None, None, None
    refitter.settings = SimpleNamespace(seed=0)
    refitter.cores = SimpleNamespace(threads=lambda: 1)
    refitter.plan = SimpleNamespace(
        refit_factor=1.0, trial_refit_seconds=lambda t: t.user_attrs.get("fold_seconds", 0.0),
        refit_seconds_left=lambda: deadline - time.monotonic(),
    )

    def trial(family: str, seconds: float) -> SimpleNamespace:
        attrs = {"family": family, "config": {}, "fold_seconds": seconds}
        if family.startswith("net"):
            attrs["shortened"] = True
        return SimpleNamespace(params={"framework": "f"}, user_attrs=attrs)

    trials = {0: trial("best", 1.0), 1: trial("net_a", 30.0), 2: trial("trees", 5.0), 3: trial("net_b", 10.0)}
    outcome = SimpleNamespace(best_trial=SimpleNamespace(number=0), best_model="the refitted best", refit="")
    members = refitter._refit_members(trials, outcome)
    assert members is not None and members[0] == "the refitted best"
    assert [m.name for m in members[1:]] == ["net_a", "trees", "net_b"]  # the ensemble's order, weights line up
    assert list(given) == ["trees", "net_a", "net_b"]  # networks last
    assert given["trees"] == pytest.approx(100.0 - 40.0, abs=0.5)  # the networks' 30 + 10 s kept back
    assert given["net_a"] == pytest.approx(100.0 * 30 / 40, abs=0.5)
    assert given["net_b"] == pytest.approx(100.0, abs=0.5)  # the last: all that is left (fits are instant here)
    assert outcome.refit == ""


def test_an_ensemble_whose_refit_does_not_fit_gives_way_to_one_of_cheaper_members() -> None:
    """mfeat_factors at 300 s kept a single model: the ensemble that validated better needed ~33 s to
    refit its members (networks) with 5 s left. The costliest member leaves the pool and selection
    runs again while the ensemble still validates better than the best trial."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd
    from sklearn.metrics import get_scorer

    from automl.metrics import resolve_metric
    from automl.search._refit import Refitter

    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(size=400))
    noise = {n: rng.normal(size=400) for n in range(3)}
    preds = {0: y.to_numpy() + noise[0], 1: y.to_numpy() + noise[1], 2: y.to_numpy() + noise[2]}
    seconds = {0: 1.0, 1: 100.0, 2: 1.0}  # trial 1 (a network, say) costs 100 s to refit
    study = SimpleNamespace(trials={n: SimpleNamespace(user_attrs={"fold_seconds": s}) for n, s in seconds.items()})
    refitter = object.__new__(Refitter)
    refitter.metric, refitter.classes = resolve_metric("rmse", "regression"), None
    refitter.y, refitter.eval_index = y, np.arange(400)
    refitter.settings = SimpleNamespace(selection="bootstrap", time_budget=300.0, seed=0)
    left = {"seconds": 10.0}
    refitter.plan = SimpleNamespace(
        refit_factor=1.0, trial_refit_seconds=lambda t: t.user_attrs.get("fold_seconds", 0.0),
        refit_seconds_left=lambda: left["seconds"],
    )
    scorer = get_scorer("neg_root_mean_squared_error")
    best_value = -1.0  # trial 0 alone: RMSE about 1; any two of them average to about 0.71
    outcome = SimpleNamespace(best_trial=SimpleNamespace(number=0), refit="refitted")
    everything = {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}

    weights, score, needed, without = refitter._affordable(
        study, preds, (y, scorer, None, np.arange(400), best_value), everything, -0.58, outcome)
    assert set(weights) == {0, 2} and score > best_value and needed == 1.0
    assert without.startswith("; without trial(s) 1: one of 3 trials validated better (0.58) but refitting")
    assert "needed ~101.0s and 10.0s were left" in without

    left["seconds"] = 0.5  # not even the cheap member fits: no ensemble, and why
    judge = (y, scorer, None, np.arange(400), best_value)
    assert refitter._affordable(study, preds, judge, everything, -0.58, outcome) is None
    assert outcome.refit.startswith("refitted; no ensemble: one of 3 trials validated better (0.58)")
    assert outcome.refit.endswith("and none without the 2 costliest validated better")
