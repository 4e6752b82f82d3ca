"""Train the learned recommender on the meta-dataset and measure it with grouped leave-one-dataset-out.

    python -m benchmarks.recommender_model            # evaluate, then train on everything and write the model
    python -m benchmarks.recommender_model --eval-only
    make eval-recommender                             # the same, printing the table

Reads ``benchmarks/results/metadata_runs.jsonl`` and ``metadata_trials.jsonl`` (built by
``python -m benchmarks.metadata``). The evaluation holds out one group of near-duplicate
datasets at a time (``group``), trains on the rest and predicts the held-out datasets:

- ranking: top-1 hit rate (the recommended framework within 0.005 normalised of the best one on
  that dataset) and mean regret (best normalised minus the recommended one's), for the learned
  ranking, "always XGBoost", "always the framework best on average" (on the training groups) and
  the rule-based ranking the table recorded; trained and judged on the cross-validated scores of
  ``python -m benchmarks.metadata_cv`` (``metadata_cv.jsonl``) when every run has one, else on the
  holdout scores, and shown on the other label too where the table has it (``--label`` chooses);
- cost: for every finished trial of the held-out datasets, the predicted seconds of one fold
  against the measured ones: median absolute log ratio and the share within a factor of 2, for the
  learned per-trial model and for the rule-based cost model;
- per run: the per-framework cost (what a recommendation shows) against the run's median fold, and
  the memory a search adds against "the framework's median on the other datasets".

The table goes to stdout and ``benchmarks/results/recommender_eval.md``; without ``--eval-only``
the model trained on all datasets goes to ``recommender/learned_model.json``, holding only the
parts the evaluation shows better than what they replace (:func:`parts_to_ship`); when neither
part is, no file is written (an existing one is removed) and the rules rank and cost.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import recommender_gap as gap
from benchmarks._censored import censored_ridge
from benchmarks.metadata import RUNS, load_runs, load_trials, trials_path
from benchmarks.recommender_gap import Pick
from benchmarks.recommender_rankers import (
    ANCHORED_RANKING,
    EXPECTED_RANKING,
    NETWORK_FIRST_RANKING,
    SHIPPED_RANKING,
    column_means,
    expected_order,
    expected_scores,
    order_by,
    select_expected,
    shipped_order,
    similarity_distances,
    standardise,
)
from recommender.evidence import Evidence
from recommender.learned import MODEL_FILE, LearnedModel, Linear, Neighbours, TrialCost, config_features
from recommender.meta import FEATURES, feature_vector

ROOT = Path(__file__).resolve().parents[1]
EVAL_MD = ROOT / "benchmarks" / "results" / "recommender_eval.md"
#: A recommended framework within this much normalised score of the best one is a hit.
HIT_TOLERANCE = 0.005
#: The ridge penalty of the cost models (on standardised inputs).
RIDGE_ALPHA = 1.0
#: The score model's settings tried by the inner grouped leave-one-dataset-out: neighbours, which
#: meta-features measure similarity (all, or size, shape, column types and task only) and the
#: shrinkage towards each framework's mean (1: the neighbours alone; 0.5: half way).
K_CHOICES = (3, 5, 7, 11)
COMPACT = ("log_rows", "log_features", "categorical_share", "low_cardinality_share", "log_classes", "regression")
COLUMN_CHOICES: dict[str, tuple[str, ...] | None] = {"all": None, "compact": COMPACT}
SHRINK_CHOICES = (1.0, 0.5)
#: The rows of the cost table: the per-trial model (with the trial's configuration; what a search
#: could plan by) and the per-framework one (a typical configuration; what a recommendation shows,
#: like the rule-based cost).
LEARNED_TRIAL = "learned, per trial (with its configuration)"
LEARNED_TYPICAL = "learned, per framework (what a recommendation shows)"
LEARNED_RANKING = "learned (k-NN, nested selection)"
#: The rows of the per-run tables: a framework's typical trial, and the memory a search adds.
LEARNED_FRAMEWORK = "learned, per framework"
LEARNED_MEMORY = "learned"
MEDIAN_MEMORY = "the framework's median on the other datasets"
#: The single best solver: the framework best on average over the training groups (0% of the gap closed).
SBS = "always the best on average"
ORACLE = "oracle (each dataset's best framework, in hindsight)"
BASELINES = ("always XGBoost", SBS, "rule-based")
#: Hyper-parameters used by the per-trial cost model: numeric ones present in this share of a framework's trials.
MIN_PARAM_SHARE = 0.1
#: What a framework's score on a dataset is, for training and judging the ranking: the run's holdout
#: (25% of the rows; tens of rows on most PMLB datasets, so close wins are noise) or the chosen
#: configuration's repeated 5-fold cross-validation on all rows (``python -m benchmarks.metadata_cv``).
LABELS = {"cv": "normalised_cv", "holdout": "normalised_score"}
LABEL_NAMES = {"cv": "cross-validated on all rows", "holdout": "25% holdout"}


# -- data ------------------------------------------------------------------------------------------
def meta_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k[5:]: v for k, v in row.items() if k.startswith("meta.")}


def label_column(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    return LABELS[label]


def primary_label(runs: pd.DataFrame) -> str:
    """``cv`` when every run with a holdout score has a cross-validated one too, else ``holdout``."""
    ok = runs[(runs.status == "ok") & runs.normalised_score.notna()] if len(runs) else runs
    has_cv = "normalised_cv" in runs and len(ok) and ok.cv_score.notna().all()
    return "cv" if has_cv else "holdout"


def labels_to_report(runs: pd.DataFrame, first: str | None = None) -> tuple[str, ...]:
    """``first`` (default :func:`primary_label`), then the other label where the table has any of it."""
    first = first or primary_label(runs)
    other = "holdout" if first == "cv" else "cv"
    return (first, other) if LABELS[other] in runs and runs[LABELS[other]].notna().any() else (first,)


def dataset_table(runs: pd.DataFrame, label: str = "holdout") -> pd.DataFrame:
    """One row per dataset: group, task, meta-features, and each framework's normalised score
    (``label``: the holdout's, or the cross-validated one of :mod:`benchmarks.metadata_cv`)."""
    column = label_column(label)
    ok = runs[(runs.status == "ok") & runs[column].notna()] if column in runs else runs.iloc[:0]
    scores = ok.pivot_table(index="dataset", columns="framework", values=column, aggfunc="first")
    first = ok.drop_duplicates("dataset").set_index("dataset")
    table = pd.DataFrame({"group": first.group, "task": first.task})
    table["meta"] = [meta_of(r) for r in first.to_dict("records")]
    return table.join(scores)


def ridge(X: np.ndarray, y: np.ndarray, names: list[str], alpha: float = RIDGE_ALPHA) -> Linear:
    """Closed-form ridge on standardised inputs (the intercept is not penalised)."""
    mean, scale = standardise(X)
    Z = (X - mean) / scale
    intercept = float(y.mean())
    coef = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (y - intercept))
    resid = y - intercept - Z @ coef
    spread = float(resid.std()) if len(y) > 1 else 0.0
    return Linear(tuple(names), mean, scale, coef, intercept, spread, float(y.min()) - 1.0, float(y.max()) + 1.0)


# -- models ----------------------------------------------------------------------------------------
def fit_scores(
    table: pd.DataFrame, frameworks: list[str], k: int = 7, columns: str = "all", shrink: float = 1.0
) -> Neighbours:
    X = np.vstack([feature_vector(m, t) for m, t in zip(table.meta, table.task, strict=True)])
    mean, scale = standardise(X)
    scores = {f: table[f].to_numpy(dtype=np.float64) for f in frameworks if f in table}
    names = COLUMN_CHOICES[columns]
    index = None if names is None else tuple(FEATURES.index(n) for n in names)
    return Neighbours(mean, scale, (X - mean) / scale, tuple(table.index), scores, k, index, shrink)


def _ranking_figures(table: pd.DataFrame, frameworks: list[str], predict: Any) -> tuple[float, float]:
    """Mean regret and top-1 hit rate of ``predict(train_table, row) -> {framework: score}``, grouped LODO."""
    regrets, hits = [], []
    for group in table.group.unique():
        train_t, test_t = table[table.group != group], table[table.group == group]
        for _, row in test_t.iterrows():
            available = [f for f in frameworks if f in row and pd.notna(row[f])]
            if not available:
                continue
            best = max(float(row[f]) for f in available)
            got = float(row[_pick(predict(train_t, row), available)])
            regrets.append(best - got)
            hits.append(got >= best - HIT_TOLERANCE)
    return float(np.mean(regrets)), float(np.mean(hits))


def select_scores(table: pd.DataFrame, frameworks: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The score model's settings with the lowest mean regret (then the best top-1) in grouped
    leave-one-dataset-out over ``table`` alone, and the figures of every setting tried."""
    tried = {}
    for k in K_CHOICES:
        for columns in COLUMN_CHOICES:
            for shrink in SHRINK_CHOICES:
                settings = {"k": k, "columns": columns, "shrink": shrink}

                def predict(train_t: pd.DataFrame, row: pd.Series, settings: dict = settings) -> dict[str, float]:
                    model = fit_scores(train_t, frameworks, **settings)
                    return {f: v for f, (v, _) in model.predict(feature_vector(row.meta, row.task)).items()}

                regret, top1 = _ranking_figures(table, frameworks, predict)
                tried[f"k={k} {columns} shrink={shrink}"] = {**settings, "regret": regret, "top1": top1}
    best = min(tried.values(), key=lambda r: (round(r["regret"], 6), -r["top1"]))
    return {key: best[key] for key in ("k", "columns", "shrink")}, tried


def mark_cut_medians(runs: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with ``median_cut``: the run's median fold seconds are a lower bound, because at least half
    of its finished trials were cut at their deadline (the median is then a cut fold's seconds or below)."""
    share = cost_trials(trials).groupby(["dataset", "framework"]).cut.mean()
    keys = pd.MultiIndex.from_arrays([runs.dataset, runs.framework])
    return runs.assign(median_cut=(share.reindex(keys).fillna(0.0).to_numpy() >= 0.5))


def run_censored(runs: pd.DataFrame) -> pd.Series:
    """Per run: its median fold seconds are a lower bound (:func:`mark_cut_medians`; False where not marked)."""
    if "median_cut" not in runs:
        return pd.Series(False, index=runs.index)
    return runs.median_cut.fillna(False).astype(bool)


def fit_fold_seconds(runs: pd.DataFrame, framework: str, censoring: bool = False) -> Linear | None:
    rows = runs[(runs.framework == framework) & (runs.status == "ok") & (runs.fold_seconds_median > 0)
                & runs.fold_train_rows.notna()]
    if len(rows) < 3:
        return None
    X = np.vstack([feature_vector(meta_of(r), r["task"], r["fold_train_rows"]) for r in rows.to_dict("records")])
    y = np.log10(rows.fold_seconds_median.to_numpy(dtype=float))
    if not censoring:  # every median taken as a measurement (the model before the censored fit)
        return ridge(X, y, list(FEATURES))
    return censored_ridge(X, y, run_censored(rows).to_numpy(), list(FEATURES), RIDGE_ALPHA)


def fit_memory(runs: pd.DataFrame, framework: str) -> Linear | None:
    rows = runs[(runs.framework == framework) & (runs.status == "ok") & runs.peak_mb.notna()]
    if len(rows) < 3:
        return None
    X = np.vstack([feature_vector(meta_of(r), r["task"]) for r in rows.to_dict("records")])
    added = (rows.peak_mb - rows.baseline_mb).clip(lower=1.0).to_numpy(dtype=float)
    return ridge(X, np.log10(added), list(FEATURES))


def cost_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials with their fold seconds, and ``cut``: the fold was stopped at the trial's deadline, so
    its seconds are a lower bound of what the whole fit takes (see :mod:`benchmarks._censored`)."""
    t = trials[(trials.state == "COMPLETE") & trials.fold_seconds.notna() & (trials.fold_seconds > 0)
               & trials.fold_train_rows.notna()]
    return t.assign(cut=t.truncated.astype("boolean").fillna(False).astype(bool))


def fit_trial_seconds(
    trials: pd.DataFrame, metas: Mapping[str, dict], framework: str, censoring: bool = False
) -> TrialCost | None:
    t = cost_trials(trials[trials.framework == framework])
    if not censoring:  # the cut trials left out (the model before the censored fit)
        t = t[~t.cut]
    t = t[t.dataset.isin(list(metas))]
    if len(t) < 5:
        return None
    families = sorted(t.family.dropna().unique())
    counts: dict[str, int] = {}
    for config in t.config:
        for p, v in (config or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                counts[p] = counts.get(p, 0) + 1
    params = sorted(p for p, n in counts.items() if n >= MIN_PARAM_SHARE * len(t))
    X = np.vstack([
        np.concatenate([feature_vector(metas[r["dataset"]], r["task"], r["fold_train_rows"]),
                        config_features(r["family"], r["config"] or {}, families, params)])
        for r in t.to_dict("records")
    ])
    names = [*FEATURES, *(f"family={f}" for f in families), *params]
    y = np.log10(t.fold_seconds.to_numpy(dtype=float))
    model = censored_ridge(X, y, t.cut.to_numpy(), names, RIDGE_ALPHA) if censoring else ridge(X, y, names)
    return TrialCost(families, params, model)


def train(runs: pd.DataFrame, trials: pd.DataFrame, frameworks: list[str], label: str = "holdout", *,
          scores: bool = True, censoring: bool = False) -> LearnedModel:
    """The score model on ``label`` (unless ``scores`` is False) and the cost models (``censoring``: cut
    fits as lower bounds, see :mod:`benchmarks._censored`; off by default, as shipped: ``--costs-only``
    compares the two)."""
    ok = runs[runs.status == "ok"]
    metas = dict(zip(ok.dataset, (meta_of(r) for r in ok.to_dict("records")), strict=True))
    fold = {f: m for f in frameworks if (m := fit_fold_seconds(runs, f, censoring)) is not None}
    trial = {f: m for f in frameworks if (m := fit_trial_seconds(trials, metas, f, censoring)) is not None}
    memory = {f: m for f in frameworks if (m := fit_memory(runs, f)) is not None}
    score = None
    if scores:
        table = dataset_table(runs, label)
        settings, _ = select_scores(table, frameworks)
        score = fit_scores(table, frameworks, **settings)
    return LearnedModel(score, fold, trial, memory, {})


def fit_evidence(runs: pd.DataFrame, label: str) -> Evidence | None:
    """Every dataset's meta-features and each framework's normalised score (``label``): what a
    recommendation quotes for similar datasets (:mod:`recommender.evidence`); shipped whatever the
    evaluation says of the learned ranking, since it is the measurements, not a prediction."""
    table = dataset_table(runs, label)
    frameworks = [f for f in sorted(runs.framework.unique()) if f in table]
    if table.empty or not frameworks:
        return None
    X = np.vstack([feature_vector(m, t) for m, t in zip(table.meta, table.task, strict=True)])
    budgets = sorted(runs.budget.dropna().unique().tolist())
    return Evidence.from_table(X, table.index, {f: table[f].to_numpy(dtype=np.float64) for f in frameworks},
                               label=label, budget=float(budgets[0]) if len(budgets) == 1 else None)


def refresh_evidence(runs: pd.DataFrame, path: Path, label: str | None = None) -> int:
    """Write the table's evidence into the model file at ``path``, its other parts unchanged."""
    evidence = fit_evidence(runs, label or primary_label(runs))
    if evidence is None:
        print("no evidence: the table has no scored runs")
        return 1
    old = LearnedModel.from_dict(json.loads(path.read_text())) if path.is_file() else LearnedModel(None, {}, {}, {}, {})
    trained_on = {**old.trained_on, "evidence": {
        "label": evidence.label, "datasets": len(evidence.datasets), "frameworks": evidence.frameworks,
        "commit": _head(), "date": datetime.date.today().isoformat(),
        "command": "python -m benchmarks.recommender_model --evidence-only"}}
    LearnedModel(old.score, old.seconds_per_fold, old.trial_seconds, old.memory_mb, trained_on, evidence).save(path)
    print(f"wrote the evidence ({evidence.label} labels, {len(evidence.datasets)} datasets, "
          f"{', '.join(evidence.frameworks)}) into {path}")
    for f in evidence.frameworks:
        v = evidence.scores[f][~np.isnan(evidence.scores[f])]
        print(f"  {f:9s} normalised score on {len(v)} datasets: median {np.median(v):.3f}, mean {v.mean():.3f}, "
              f"best (1.0) on {int((v >= 1.0).sum())}")
    return 0


CENSORED, UNCENSORED = "cut fits as lower bounds", "cut fits left out (trials) or taken as measured (runs)"


def refresh_costs(runs: pd.DataFrame, trials: pd.DataFrame, frameworks: list[str], path: Path,
                  eval_only: bool = False) -> int:
    """Evaluate the cost models fitted both ways (grouped leave-one-dataset-out, cut fits judged as lower
    bounds) and write the better one's cost models into the model file at ``path`` if it beats the
    rule-based cost there (:func:`parts_to_ship`); the score model and the evidence stay as they are."""
    results = {CENSORED: evaluate_costs(runs, trials, frameworks, censoring=True),
               UNCENSORED: evaluate_costs(runs, trials, frameworks, censoring=False)}
    for name, result in results.items():
        print(f"\n## {name}\n")
        for part in ("cost", "run_cost"):
            for method, figures in result[part].items():
                unit = "trials" if part == "cost" else "runs"
                print(f"  {method:<52} {figures[unit]:>5} {unit}: median |log ratio| "
                      f"{figures['median_abs_log_ratio']:.3f}, within 2x {figures['within_2x']:.3f}")

    def key(name: str) -> tuple[float, float]:
        figures = results[name]["cost"][LEARNED_TYPICAL]
        return figures["median_abs_log_ratio"], -figures["within_2x"]

    best = min(results, key=key)
    ships = parts_to_ship({"ranking": {}, "cost": results[best]["cost"]})["cost"]
    print(f"\nbetter: {best}; {'beats' if ships else 'does not beat'} the rule-based cost")
    if eval_only or not ships:
        return 0
    old = LearnedModel.from_dict(json.loads(path.read_text()))
    fitted = train(runs, trials, frameworks, scores=False, censoring=best == CENSORED)
    trained_on = {**old.trained_on, "costs": {
        "fitted": best, "trials": int(len(trials)), "runs": int(len(runs)), "commit": _head(),
        "date": datetime.date.today().isoformat(), "command": "python -m benchmarks.recommender_model --costs-only",
        "evaluation": json.loads(json.dumps(results))}}
    LearnedModel(old.score, fitted.seconds_per_fold, fitted.trial_seconds, old.memory_mb, trained_on,
                 old.evidence).save(path)
    print(f"wrote the cost models ({best}) into {path}")
    return 0


def _head() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


# -- evaluation ------------------------------------------------------------------------------------
def _pick(scores: Mapping[str, float], available: list[str]) -> str:
    return max(available, key=lambda f: (scores.get(f, -math.inf), f == "xgboost"))


def evaluate_ranking(runs: pd.DataFrame, frameworks: list[str], label: str = "holdout") -> dict[str, Any]:
    """Grouped leave-one-dataset-out of the learned ranking and the baselines, trained and judged on ``label``:
    per ranker the mean regret, the share of the gap closed between the single best solver and the oracle
    with its paired bootstrap interval over groups, and the top-1 / top-2 hit rates
    (:mod:`benchmarks.recommender_gap`).

    "rule-based" orders by the rules' scores the runs recorded (``rule_based.score``: today's rules on the
    meta-dataset's machine, two cores and no GPU; a run names one framework, so no evidence entered them).
    :data:`SHIPPED_RANKING` is the order the packaged recommender gives (:func:`shipped_order`), with the
    evidence and the learned costs fitted on the training groups only. :data:`EXPECTED_RANKING` and
    :data:`ANCHORED_RANKING` aim at the regret: their settings are chosen by :func:`select_expected`
    inside the training groups of each split."""
    table = dataset_table(runs, label)
    rule = runs.pivot_table(index="dataset", columns="framework", values="rule_based.score", aggfunc="first")
    present = [f for f in frameworks if f in table]
    S = table[present].to_numpy(dtype=np.float64) if present else np.zeros((len(table), 0))
    groups = table.group.astype(str).to_numpy()
    X = (np.vstack([feature_vector(m, t) for m, t in zip(table.meta, table.task, strict=True)]) if len(table)
         else np.zeros((0, len(FEATURES))))

    def rules_of(name: Any) -> dict[str, float]:
        return rule.loc[name].dropna().to_dict() if name in rule.index else {}

    def available_at(i: int) -> list[str]:
        return [f for j, f in enumerate(present) if not np.isnan(S[i, j])]

    rule_first = np.array([present.index(order_by(rules_of(name), avail)[0]) if (avail := available_at(i)) else -1
                           for i, name in enumerate(table.index)], dtype=int)
    picks: dict[str, list[Pick]] = {}
    chosen: dict[str, dict[str, int]] = {EXPECTED_RANKING: {}, ANCHORED_RANKING: {}}
    for group in sorted(table.group.unique()):
        train_t, test_t = table[table.group != group], table[table.group == group]
        settings, _ = select_scores(train_t, frameworks)
        model = fit_scores(train_t, frameworks, **settings)
        average = train_t[[f for f in frameworks if f in train_t]].mean().to_dict()
        train_mask = (groups != str(group))
        tr = np.flatnonzero(train_mask)
        D = similarity_distances(X, train_mask)
        inner = D[np.ix_(tr, tr)]
        k_e, m_e, _ = select_expected(inner, S[tr], groups[tr])
        k_a, m_a, margin_a = select_expected(inner, S[tr], groups[tr], rule_first[tr])
        for method, text in ((EXPECTED_RANKING, f"k={k_e} m={m_e:g}"),
                             (ANCHORED_RANKING, f"k={k_a} m={m_a:g} margin={margin_a:g}")):
            chosen[method][text] = chosen[method].get(text, 0) + len(test_t)
        prior = column_means(S[tr])
        train_runs = runs[runs.dataset.isin(train_t.index)]
        evidence = fit_evidence(train_runs, label)
        costs = LearnedModel(None, {f: c for f in present if (c := fit_fold_seconds(train_runs, f)) is not None},
                             {}, {}, {})
        for name, row in test_t.iterrows():
            i = table.index.get_loc(name)
            available = available_at(i)
            if not available:
                continue
            best = max(float(row[f]) for f in available)
            learned = {f: v for f, (v, _) in model.predict(feature_vector(row.meta, row.task)).items()}
            by_average = order_by(average, available)
            near = tr[np.argsort(D[i, tr], kind="stable")]
            found = {} if evidence is None else evidence.relative(row.meta, row.task, available)
            rows = row.meta.get("n_rows") or 1
            seconds = {f: s for f in available if (s := costs.fold_seconds(f, row.meta, row.task, rows)) is not None}
            expected = {f: e.expected for f, e in found.items()}

            orders = {
                LEARNED_RANKING: order_by(learned, available),
                "always XGBoost": ["xgboost", *(f for f in by_average if f != "xgboost")]
                if "xgboost" in available else by_average,
                SBS: by_average,
                "rule-based": order_by(rules_of(name), available),
                SHIPPED_RANKING: shipped_order(rules_of(name), expected, seconds, available),
                NETWORK_FIRST_RANKING: shipped_order(rules_of(name), expected, seconds, available, network_first=True),
                EXPECTED_RANKING: expected_order(expected_scores(S[near[:k_e]], prior, m_e), present, available),
                ANCHORED_RANKING: expected_order(expected_scores(S[near[:k_a]], prior, m_a), present, available,
                                                  int(rule_first[i]), margin_a),
            }
            for method, order in orders.items():
                picks.setdefault(method, []).append(
                    Pick(str(group), best, float(row[order[0]]), max(float(row[f]) for f in order[:2])))
    ranking = {method: gap.figures(rows, picks[SBS], HIT_TOLERANCE) for method, rows in picks.items()}
    if SBS in picks:
        ranking[ORACLE] = gap.oracle_row(picks[SBS])
    # A reference, not a method: the one framework with the most hits on all datasets, chosen in hindsight.
    hindsight = {}
    best = table[present].max(axis=1)
    for f in present:
        ok = table[f].notna()
        hindsight[f] = float((table.loc[ok, f] >= best[ok] - HIT_TOLERANCE).mean())
    top = max(hindsight, key=hindsight.get) if hindsight else None
    datasets = int(sum(table[present].notna().any(axis=1))) if present else 0
    return {"label": label, "ranking": ranking, "datasets": datasets,
            "groups": int(table[table[present].notna().any(axis=1)].group.nunique()) if present else 0,
            "hindsight": {"framework": top, "top1": hindsight.get(top)} if top else None,
            "chosen": {method: dict(sorted(c.items(), key=lambda kv: -kv[1])) for method, c in chosen.items()}}


def evaluate_costs(
    runs: pd.DataFrame, trials: pd.DataFrame, frameworks: list[str], censoring: bool = False
) -> dict[str, Any]:
    """Grouped leave-one-dataset-out of the cost models: per trial, per run, and memory. A fit cut at its
    deadline counts with its seconds as a lower bound (:func:`cost_error`), whichever model is judged."""
    table = dataset_table(runs, "holdout")
    rule_cost = runs.set_index(["dataset", "framework"])[["rule_based.seconds_per_fit", "meta.n_rows"]]
    cost_errors: dict[str, list[float]] = {LEARNED_TRIAL: [], LEARNED_TYPICAL: [], "rule-based": []}
    # Per run: the per-framework cost against the run's median fold (the typical trial a recommendation
    # promises), and the memory a search adds against the training runs' median for that framework.
    run_errors: dict[str, list[float]] = {LEARNED_FRAMEWORK: [], "rule-based": []}
    memory_errors: dict[str, list[float]] = {LEARNED_MEMORY: [], MEDIAN_MEMORY: []}
    for group in sorted(table.group.unique()):
        train_t = table[table.group != group]
        test_t = table[table.group == group]
        train_runs = runs[runs.dataset.isin(train_t.index)]
        model = train(train_runs, trials[trials.dataset.isin(train_t.index)], frameworks, scores=False,
                      censoring=censoring)
        seen = train_runs[train_runs.status == "ok"]
        typical_memory = (seen.peak_mb - seen.baseline_mb).clip(lower=1.0).groupby(seen.framework).median().dropna()
        for name, row in test_t.iterrows():
            for r in runs[(runs.dataset == name) & (runs.status == "ok")].to_dict("records"):
                _run_cost_errors(model, typical_memory, row, r, run_errors, memory_errors)
            held = cost_trials(trials[trials.dataset == name])
            for r in held.to_dict("records"):
                measured, cut = r["fold_seconds"], r["cut"]
                predicted = model.trial_fold_seconds(r["framework"], row.meta, row.task, r["fold_train_rows"],
                                                     r["family"], r["config"] or {})
                if predicted is not None:
                    cost_errors[LEARNED_TRIAL].append(cost_error(predicted, measured, cut))
                typical = model.fold_seconds(r["framework"], row.meta, row.task, r["fold_train_rows"])
                if typical is not None:
                    cost_errors[LEARNED_TYPICAL].append(cost_error(typical, measured, cut))
                if (name, r["framework"]) in rule_cost.index:
                    rule_pred = _rule_fold_seconds(*rule_cost.loc[(name, r["framework"])], r["fold_train_rows"])
                    if rule_pred is not None:
                        cost_errors["rule-based"].append(cost_error(rule_pred, measured, cut))
    return {"cost": {method: _error_figures(errs, "trials") for method, errs in cost_errors.items()},
            "run_cost": {method: _error_figures(errs, "runs") for method, errs in run_errors.items()},
            "memory": {method: _error_figures(errs, "runs") for method, errs in memory_errors.items()}}


def evaluate(runs: pd.DataFrame, trials: pd.DataFrame, frameworks: list[str],
             labels: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Ranking figures on each of ``labels`` (default: :func:`primary_label`, then the other one where the
    table has it) and cost figures; the first label's ranking is the one that decides what ships."""
    labels = labels or labels_to_report(runs)
    rankings = {label: evaluate_ranking(runs, frameworks, label) for label in labels}
    main = rankings[labels[0]]
    return {"label": labels[0], "ranking": main["ranking"], "datasets": main["datasets"], "groups": main["groups"],
            "hindsight": main["hindsight"], "rankings": rankings, "agreement": label_agreement(runs, frameworks),
            **evaluate_costs(runs, trials, frameworks)}


def label_agreement(runs: pd.DataFrame, frameworks: list[str]) -> dict[str, Any] | None:
    """How well each label predicts the other on the datasets where every framework has both: the
    share of datasets where the holdout's best framework is a hit by cross-validation, and back."""
    if LABELS["cv"] not in runs:
        return None
    cv, holdout = dataset_table(runs, "cv"), dataset_table(runs, "holdout")
    present = [f for f in frameworks if f in cv and f in holdout]
    both = cv.index[cv[present].notna().all(axis=1)].intersection(holdout.index[holdout[present].notna().all(axis=1)])
    if not len(both) or not present:
        return None
    cv, holdout = cv.loc[both, present].astype(float), holdout.loc[both, present].astype(float)

    def hits(pick_by: pd.DataFrame, judge: pd.DataFrame) -> float:
        chosen = pick_by.idxmax(axis=1)
        got = np.array([judge.at[d, f] for d, f in chosen.items()])
        return float(np.mean(got >= judge.max(axis=1).to_numpy() - HIT_TOLERANCE))

    return {"datasets": int(len(both)), "holdout_best_hits_cv": hits(holdout, cv),
            "cv_best_hits_holdout": hits(cv, holdout)}


def cost_error(predicted: float, measured: float, lower_bound: bool = False) -> float:
    """log(predicted / measured); where ``measured`` is only a lower bound (a fit cut at its deadline), a
    prediction above it is not an error and one below it is wrong by at least the ratio."""
    error = math.log(predicted / measured)
    return min(error, 0.0) if lower_bound else error


def _rule_fold_seconds(per_fit: Any, n_rows: Any, fold_rows: float) -> float | None:
    """The rule-based seconds per fit on all rows, scaled (linearly) to a fold's training rows."""
    if per_fit is None or pd.isna(per_fit) or not n_rows:
        return None
    return max(float(per_fit) * float(fold_rows) / float(n_rows), 1e-6)


def _run_cost_errors(model: LearnedModel, typical_memory: pd.Series, row: pd.Series, run: Mapping[str, Any],
                     run_errors: dict[str, list[float]], memory_errors: dict[str, list[float]]) -> None:
    """Log ratios (predicted / measured) of one held-out run's typical fold seconds and added memory;
    ``typical_memory``: per framework, the median memory a search added on the training datasets."""
    framework, measured = run["framework"], run.get("fold_seconds_median")
    if measured and measured > 0 and pd.notna(run.get("fold_train_rows")):
        cut = bool(run.get("median_cut", False))
        typical = model.fold_seconds(framework, row.meta, row.task, run["fold_train_rows"])
        if typical is not None:
            run_errors[LEARNED_FRAMEWORK].append(cost_error(typical, measured, cut))
        rule_pred = _rule_fold_seconds(run.get("rule_based.seconds_per_fit"), run.get("meta.n_rows"),
                                       run["fold_train_rows"])
        if rule_pred is not None:
            run_errors["rule-based"].append(cost_error(rule_pred, measured, cut))
    if pd.notna(run.get("peak_mb")) and pd.notna(run.get("baseline_mb")):
        added = max(float(run["peak_mb"]) - float(run["baseline_mb"]), 1.0)
        predicted = model.memory(framework, row.meta, row.task)
        if predicted is not None:
            memory_errors[LEARNED_MEMORY].append(math.log(predicted / added))
        if framework in typical_memory.index:
            memory_errors[MEDIAN_MEMORY].append(math.log(float(typical_memory[framework]) / added))


def _error_figures(log_ratios: list[float], unit: str) -> dict[str, Any]:
    e = np.abs(np.array(log_ratios))
    return {
        unit: int(len(e)), "median_abs_log_ratio": float(np.median(e)) if len(e) else None,
        "within_2x": float(np.mean(e <= math.log(2))) if len(e) else None,
    }


def parts_to_ship(result: Mapping[str, Any]) -> dict[str, bool]:
    """Which parts of the model earn their place in the package, by the evaluation:

    - ``score``: the learned ranking closes part of the gap between the single best solver and the
      oracle with the lower bound of its bootstrap interval above 0% (:func:`benchmarks.recommender_gap.ships`),
      and has a lower mean regret than every baseline (the rules it would replace included); the top-1
      hit rate is context, not a criterion (at a 0.005 tolerance it sits at the labels' own noise);
    - ``cost``: the per-framework learned cost (what a recommendation and the allocation use)
      beats the rule-based cost on the median absolute log ratio and on the share within 2x.
    """
    ranking, cost = result["ranking"], result["cost"]
    mine = ranking.get(LEARNED_RANKING)
    score = mine is not None and gap.ships(mine) and all(
        b in ranking and mine["regret"] < ranking[b]["regret"] for b in BASELINES
    )
    learned, rule = cost.get(LEARNED_TYPICAL, {}), cost.get("rule-based", {})
    cost_ok = bool(learned.get("trials")) and bool(rule.get("trials")) and (
        learned["median_abs_log_ratio"] < rule["median_abs_log_ratio"] and learned["within_2x"] > rule["within_2x"]
    )
    return {"score": bool(score), "cost": cost_ok}


def _ranking_lines(r: Mapping[str, Any], decides: bool) -> list[str]:
    label = r.get("label", "holdout")
    lines = [
        f"Ranking, scores {LABEL_NAMES[label]} ({'decides what ships' if decides else 'for comparison'}): grouped "
        f"leave-one-dataset-out over {r['datasets']} datasets in {r['groups']} groups. Regret: the best "
        f"framework's normalised score minus the chosen one's. Gap closed: (regret of the SBS - regret) / "
        f"(regret of the SBS - 0), the SBS (single best solver) being the framework best on average on the "
        f"training groups; interval: paired bootstrap over the held-out groups ({gap.RESAMPLES} resamples, "
        f"seed {gap.SEED}). Hit: within {HIT_TOLERANCE} normalised of the best framework.",
        "",
        *gap.table_lines(r["ranking"], SBS),
    ]
    goal = [m for m, x in r["ranking"].items() if m not in (SBS, ORACLE)
            and gap.ships(x) and x["gap_closed"] >= gap.GOAL]
    lines += ["", f"Goal (at least {gap.GOAL:.0%} of the gap closed, lower bound above 0%): "
                  + (f"reached by {', '.join(goal)}." if goal else "reached by no ranker.")]
    for method, counts in (r.get("chosen") or {}).items():
        if counts:
            lines += ["", f"Settings of \"{method}\" chosen inside the training groups (held-out datasets each): "
                          + ", ".join(f"{s} ({n})" for s, n in counts.items()) + "."]
    if r.get("hindsight"):
        h = r["hindsight"]
        lines += ["", f"Reference: the best fixed framework chosen in hindsight on all datasets ({h['framework']}) "
                      f"hits {h['top1']:.1%}."]
    return lines


def report(result: Mapping[str, Any]) -> str:
    rankings = result.get("rankings") or {result.get("label", "holdout"): result}
    lines: list[str] = []
    for i, r in enumerate(rankings.values()):
        lines += ([""] if i else []) + _ranking_lines(r, decides=i == 0)
    agreement = result.get("agreement")
    if agreement:
        lines += ["", f"Label noise: on {agreement['datasets']} datasets, the framework best on the holdout is a hit "
                      f"by cross-validation on {agreement['holdout_best_hits_cv']:.0%} of them, and the framework "
                      f"best by cross-validation a hit on the holdout on {agreement['cv_best_hits_holdout']:.0%}."]
    lines += ["", "| cost of one fold of a trial | trials | median abs log ratio | within a factor of 2 |",
              "|---|---|---|---|"]
    for method, c in result["cost"].items():
        if c["trials"]:
            lines.append(f"| {method} | {c['trials']} | {c['median_abs_log_ratio']:.3f} | {c['within_2x']:.1%} |")
    tables = (
        ("run_cost", "typical trial of a search (the run's median fold)", "runs"),
        ("memory", "memory a search adds (peak minus baseline)", "runs"),
    )
    for key, title, unit in tables:
        rows = [(m, c) for m, c in result.get(key, {}).items() if c[unit]]
        if rows:
            lines += ["", f"| {title} | {unit} | median abs log ratio | within a factor of 2 |", "|---|---|---|---|"]
            lines += [f"| {m} | {c[unit]} | {c['median_abs_log_ratio']:.3f} | {c['within_2x']:.1%} |" for m, c in rows]
    ship = parts_to_ship(result)
    verdict = {
        (True, True): "the learned ranking and costs both beat what they replace: the package ships both.",
        (False, True): "the learned costs beat the rule-based ones, the learned ranking does not beat every "
                       "baseline: the package ships the costs only and ranks by the rules.",
        (True, False): "the learned ranking beats every baseline, the learned costs do not beat the rules: "
                       "the package ships the ranking with the rule-based costs.",
        (False, False): "neither part beats what it replaces: the package ships no learned model.",
    }[(ship["score"], ship["cost"])]
    lines += ["", f"Verdict: {verdict}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=RUNS)
    ap.add_argument("--eval-only", action="store_true", help="print the evaluation; do not write the model")
    ap.add_argument("--model", type=Path, default=MODEL_FILE)
    ap.add_argument("--report", type=Path, default=EVAL_MD)
    ap.add_argument("--label", choices=sorted(LABELS), default=None,
                    help="the scores that train and judge the ranking (default: cv when every run has one)")
    ap.add_argument("--evidence-only", action="store_true",
                    help="only refresh the evidence in the model file from the table (seconds; no evaluation)")
    ap.add_argument("--costs-only", action="store_true",
                    help="only evaluate the cost models, with cut fits as lower bounds and without, and write the "
                         "better into the model file where it beats the rule-based cost (its other parts unchanged)")
    args = ap.parse_args(argv)
    runs = load_runs(args.runs)
    if args.evidence_only:
        return refresh_evidence(runs, args.model, args.label)
    trials = load_trials(trials_path(args.runs), args.runs)
    frameworks = sorted(runs.framework.unique())
    runs = mark_cut_medians(runs, trials)
    if args.costs_only:
        return refresh_costs(runs, trials, frameworks, args.model, args.eval_only)
    result = evaluate(runs, trials, frameworks, labels_to_report(runs, args.label))
    text = report(result)
    print(text)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    args.report.write_text(
        f"# Recommender evaluation\n\n`python -m benchmarks.recommender_model{' --eval-only' * args.eval_only}` "
        f"(commit {head.strip()}, "
        f"{datetime.date.today().isoformat()})\n\n{text}\n"
    )
    if args.eval_only:
        return 0
    ship = parts_to_ship(result)
    evidence = fit_evidence(runs, result["label"])
    if not any(ship.values()) and evidence is None:
        if args.model.exists():
            args.model.unlink()
            print(f"removed {args.model}: the rebuilt model would not beat the baselines")
        return 0
    model = train(runs, trials, frameworks, result["label"], scores=ship["score"])
    chosen = None
    if model.score is not None:
        chosen = {"k": model.score.k, "shrink": model.score.shrink, "label": result["label"],
                  "columns": "all" if model.score.columns is None else "compact"}
        print(f"score model chosen on all datasets by grouped leave-one-dataset-out: {chosen}")
    trained_on = {
        "datasets": int(runs.dataset.nunique()), "runs": int(len(runs)), "trials": int(len(trials)),
        "budget": sorted(runs.budget.unique().tolist()), "hardware": runs["hardware.cpu_model"].iloc[0],
        "cores_per_model": 1, "commit": head.strip(), "date": datetime.date.today().isoformat(),
        "command": "python -m benchmarks.recommender_model", "evaluation": json.loads(json.dumps(result)),
        "score_model": chosen, "parts": ship,
    }
    LearnedModel(
        model.score if ship["score"] else None,
        *((model.seconds_per_fold, model.trial_seconds, model.memory_mb) if ship["cost"] else ({}, {}, {})),
        trained_on, evidence,
    ).save(args.model)
    print(f"wrote {args.model} ({args.model.stat().st_size / 1024:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
