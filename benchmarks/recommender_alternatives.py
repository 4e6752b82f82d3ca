"""Other ways to learn the ranking, measured the way the shipped one is: do any beat the baselines?

    python -m benchmarks.recommender_alternatives          # make eval-recommender-alternatives

The shipped evaluation (``python -m benchmarks.recommender_model``) tries one learner, k nearest
neighbours on the meta-features. This script tries three families on three sets of inputs, each
judged by grouped leave-one-dataset-out on the cross-validated labels (``normalised_cv``) of the
meta-dataset, against "the framework best on average" on the training groups:

- learners: k-NN (the shipped one: distance-weighted, shrunk towards each framework's mean), ridge
  regression of each framework's normalised score, and logistic regression of each framework's
  chance to be a hit (within 0.005 normalised of the best; ranked by that probability);
- inputs: the compact meta-features of the shipped model; landmarks, the 3-fold cross-validated
  score of four cheap models on at most 1,000 training rows (a linear model, a depth-5 tree, a
  stump, 5 nearest neighbours; summarised as tree minus linear, neighbours minus linear, the best
  of them, and the stump against that best: how linear, local and hard the problem looks); both.

Every cell of the grid is a choice made after seeing the outer result, so the row that counts is
the **nested** one: inside each outer training split, a grouped 5-fold cross-validation picks the
cell with the lowest regret (then best hit rate), which then predicts the held-out group. The
landmarks of each dataset (its benchmark training split, as the search sees it) are cached in
``benchmarks/results/metadata_landmarks.jsonl``; the table goes to stdout and
``benchmarks/results/recommender_alternatives.md``. Scores only (nothing timed): it may run beside
other work.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import _suite
from benchmarks import recommender_gap as gap
from benchmarks.metadata import POOL, _read, load_runs, load_split
from benchmarks.metadata_cv import CV_RUNS
from benchmarks.portfolio import RESULTS
from benchmarks.recommender_model import COMPACT, HIT_TOLERANCE, ROOT, dataset_table
from recommender.meta import FEATURES, feature_vector

LANDMARKS = RESULTS / "metadata_landmarks.jsonl"
OUT_MD = RESULTS / "recommender_alternatives.md"
LANDMARK_ROWS = 1000
LANDMARK_MODELS = ("linear", "tree", "stump", "knn")
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "catboost", "keras", "torch")
INNER_FOLDS = 5
SBS = "always the best on average"
NESTED = "nested: a cell chosen inside each training split"

Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (train mask, test mask) -> scores per framework


# -- landmarks ---------------------------------------------------------------------------------------
def landmarks(X: pd.DataFrame, y: pd.Series, task: str, seed: int = 0) -> dict[str, float]:
    """The 3-fold cross-validated score (AUC, one-vs-rest weighted for multiclass; R^2) of four cheap
    models on at most LANDMARK_ROWS rows."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    regression = task == "regression"
    if len(X) > LANDMARK_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=LANDMARK_ROWS, random_state=seed,
                                      stratify=None if regression else y)
    if not regression:
        y = y.astype(str)
    prepare = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         make_column_selector(dtype_include="number")),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", max_categories=20)),
         make_column_selector(dtype_exclude="number")),
    ])
    if regression:
        cv, scoring = KFold(3, shuffle=True, random_state=seed), "r2"
        models = {"linear": Ridge(1.0), "tree": DecisionTreeRegressor(max_depth=5, random_state=seed),
                  "stump": DecisionTreeRegressor(max_depth=1, random_state=seed), "knn": KNeighborsRegressor(5)}
    else:
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        scoring = "roc_auc" if task == "binary" else "roc_auc_ovr_weighted"
        models = {"linear": LogisticRegression(max_iter=300), "stump": DecisionTreeClassifier(max_depth=1),
                  "tree": DecisionTreeClassifier(max_depth=5, random_state=seed), "knn": KNeighborsClassifier(5)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: float(np.mean(cross_val_score(make_pipeline(prepare, model), X, y, cv=cv, scoring=scoring)))
                for name, model in models.items()}


def build_landmarks(datasets: list[str], path: Path = LANDMARKS, pool: Path = POOL) -> pd.DataFrame:
    """The landmarks of ``datasets`` (computed on the benchmark training split; cached in ``path``)."""
    rows = {json.loads(line)["dataset"]: json.loads(line) for line in path.read_text().splitlines()} \
        if path.exists() else {}
    manifest = {e["name"]: e for e in _suite.read_manifest(pool)}
    for name in datasets:
        if name in rows:
            continue
        entry = manifest[name]
        train, _, _ = load_split(entry, pool)
        row = {"dataset": name, "task": entry["task"], "rows": min(len(train), LANDMARK_ROWS),
               **landmarks(train.drop(columns=[entry["target"]]), train[entry["target"]], entry["task"])}
        rows[name] = row
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return pd.DataFrame([rows[n] for n in datasets]).set_index("dataset")


def landmark_features(lm: pd.DataFrame) -> np.ndarray:
    best = lm[["linear", "tree", "knn"]].max(axis=1)
    return np.column_stack([lm.tree - lm.linear, lm.knn - lm.linear, best, lm.stump / best.clip(lower=1e-3)])


# -- learners ----------------------------------------------------------------------------------------
def _standard(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    return (X - X[train].mean(axis=0)) / (X[train].std(axis=0) + 1e-9)


def average(Y: np.ndarray) -> Predict:
    return lambda train, test: np.tile(Y[train].mean(axis=0), (int(test.sum()), 1))


def neighbours(X: np.ndarray, Y: np.ndarray, k: int, shrink: float) -> Predict:
    def predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        Z = _standard(X, train)
        dist = np.sqrt(((Z[test][:, None, :] - Z[train][None]) ** 2).sum(axis=-1))
        prior = Y[train].mean(axis=0)
        out = []
        for row in dist:
            near = np.argsort(row, kind="stable")[:k]
            weights = 1.0 / (row[near] + 0.25)
            out.append(prior + shrink * (weights @ Y[train][near] / weights.sum() - prior))
        return np.array(out)
    return predict


def ridge(X: np.ndarray, Y: np.ndarray, alpha: float) -> Predict:
    from sklearn.linear_model import Ridge

    def predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        Z = _standard(X, train)
        return np.column_stack([Ridge(alpha).fit(Z[train], Y[train, j]).predict(Z[test]) for j in range(Y.shape[1])])
    return predict


def hit_chance(X: np.ndarray, Y: np.ndarray, C: float) -> Predict:
    from sklearn.linear_model import LogisticRegression

    hits = (Y >= Y.max(axis=1, keepdims=True) - HIT_TOLERANCE).astype(int)

    def predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        Z = _standard(X, train)
        out = []
        for j in range(Y.shape[1]):
            if hits[train, j].min() == hits[train, j].max():  # always or never a hit here
                out.append(np.full(int(test.sum()), float(hits[train, j][0])))
            else:
                out.append(LogisticRegression(C=C).fit(Z[train], hits[train, j]).predict_proba(Z[test])[:, 1])
        return np.column_stack(out)
    return predict


def grid(inputs: Mapping[str, np.ndarray], Y: np.ndarray) -> dict[str, Predict]:
    cells: dict[str, Predict] = {"always the best on average": average(Y)}
    for name, X in inputs.items():
        for k in (11, 21):
            for shrink in (0.5, 1.0):
                cells[f"k-NN k={k} shrink={shrink}, {name}"] = neighbours(X, Y, k, shrink)
        for alpha in (100.0, 1000.0):
            cells[f"ridge alpha={alpha:g}, {name}"] = ridge(X, Y, alpha)
        for C in (0.01, 0.1, 1.0):
            cells[f"hit chance C={C:g}, {name}"] = hit_chance(X, Y, C)
    return cells


# -- evaluation --------------------------------------------------------------------------------------
def repeat_agreement(cv_rows: list[Mapping[str, Any]], higher_is_better: Mapping[str, bool],
                     frameworks: tuple[str, ...] = FRAMEWORKS) -> tuple[int, float, float]:
    """How noisy a winner is: on the datasets whose every framework's configuration was cross-validated
    twice (two 5-fold repeats), normalise each repeat on its own and count how often the framework best
    on the first repeat is a hit on the second, and back. Returns (datasets, first->second, second->first)."""
    scores: dict[str, dict[str, tuple[list[float], float]]] = {}
    for r in cv_rows:
        if r.get("status") == "ok" and len(r.get("cv_fold_scores") or []) == 2:
            scores.setdefault(r["dataset"], {})[r["framework"]] = (r["cv_fold_scores"], r["cv_constant"])
    repeats: list[np.ndarray] = []  # per dataset: frameworks x 2 normalised scores
    for dataset, runs in scores.items():
        if dataset not in higher_is_better or any(f not in runs for f in frameworks):
            continue
        sign = 1.0 if higher_is_better[dataset] else -1.0
        raw = np.array([runs[f][0] for f in frameworks]) * sign  # higher is better
        constant = sign * runs[frameworks[0]][1]
        best = raw.max(axis=0)
        if np.all(best > constant):
            repeats.append(np.clip((raw - constant) / (best - constant), 0.0, None))
    if not repeats:
        return 0, float("nan"), float("nan")
    first, second = (np.array([r[:, k] for r in repeats]) for k in (0, 1))
    rows = np.arange(len(repeats))
    return len(repeats), figures(second, rows, first.argmax(axis=1))[0], figures(first, rows, second.argmax(axis=1))[0]


def figures(Y: np.ndarray, rows: np.ndarray, picks: np.ndarray) -> tuple[float, float]:
    """(top-1 hit rate, mean regret) of picking column ``picks`` on ``rows`` of Y."""
    got = Y[rows, picks]
    best = Y[rows].max(axis=1)
    return float(np.mean(got >= best - HIT_TOLERANCE)), float(np.mean(best - got))


def lodo_scores(Y: np.ndarray, groups: np.ndarray, predict: Predict) -> np.ndarray:
    """Each dataset's predicted scores per framework, from the model trained without its group."""
    scores = np.zeros(Y.shape)
    for group in np.unique(groups):
        test = groups == group
        scores[test] = predict(~test, test)
    return scores


def grouped_lodo(Y: np.ndarray, groups: np.ndarray, predict: Predict) -> tuple[float, float]:
    return figures(Y, np.arange(len(Y)), lodo_scores(Y, groups, predict).argmax(axis=1))


def gap_picks(Y: np.ndarray, groups: np.ndarray, scores: np.ndarray) -> list[gap.Pick]:
    """The :class:`benchmarks.recommender_gap.Pick` of every dataset for a ranking by ``scores``."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return [gap.Pick(str(g), float(Y[i].max()), float(Y[i, order[i, 0]]), float(Y[i, order[i, :2]].max()))
            for i, g in enumerate(groups)]


def nested_lodo(
    Y: np.ndarray, groups: np.ndarray, cells: Mapping[str, Predict]
) -> tuple[float, float, dict[str, int], np.ndarray]:
    """Grouped leave-one-dataset-out where each outer training split picks its cell by grouped
    INNER_FOLDS-fold cross-validation (lowest regret, then best hit rate); also every held-out
    dataset's predicted scores per framework."""
    from sklearn.model_selection import GroupKFold

    index = np.arange(len(Y))
    scores = np.zeros(Y.shape)
    chosen: dict[str, int] = {}
    for group in np.unique(groups):
        outer_test = groups == group
        inside = index[~outer_test]

        def inner(cell: Predict, inside: np.ndarray = inside) -> tuple[float, float]:
            regrets, hits = [], []
            folds = GroupKFold(min(INNER_FOLDS, len(np.unique(groups[inside]))))
            for a, b in folds.split(inside, groups=groups[inside]):
                train, test = np.isin(index, inside[a]), np.isin(index, inside[b])
                top1, regret = figures(Y, index[test], cell(train, test).argmax(axis=1))
                regrets.append(regret * test.sum())
                hits.append(top1 * test.sum())
            return sum(regrets) / len(inside), -sum(hits) / len(inside)

        name = min(cells, key=lambda n: inner(cells[n]))
        chosen[name] = chosen.get(name, 0) + int(outer_test.sum())
        scores[outer_test] = cells[name](~outer_test, outer_test)
    top1, regret = figures(Y, index, scores.argmax(axis=1))
    return top1, regret, chosen, scores


def evaluate(table: pd.DataFrame, lm: pd.DataFrame, rules: pd.DataFrame) -> dict[str, Any]:
    frameworks = [f for f in FRAMEWORKS if f in table]
    Y = table[frameworks].to_numpy(dtype=float)
    groups = table.group.to_numpy()
    meta = np.vstack([feature_vector(m, t) for m, t in zip(table.meta, table.task, strict=True)])
    compact = meta[:, [FEATURES.index(c) for c in COMPACT]]
    marks = landmark_features(lm.loc[table.index])
    inputs = {"meta-features": compact, "landmarks": marks, "both": np.hstack([compact, marks])}
    cells = grid(inputs, Y)
    rows = {name: grouped_lodo(Y, groups, cell) for name, cell in cells.items()}
    xgb = frameworks.index("xgboost")
    rows["always XGBoost"] = figures(Y, np.arange(len(Y)), np.full(len(Y), xgb))
    rule_scores = rules.loc[table.index, frameworks].fillna(-np.inf).to_numpy()
    rows["rule-based"] = figures(Y, np.arange(len(Y)), rule_scores.argmax(axis=1))
    top1, regret, chosen, nested_scores = nested_lodo(Y, groups, cells)
    # The gap closed (benchmarks.recommender_gap): the SBS is the best on average on the training groups.
    sbs_scores = lodo_scores(Y, groups, cells[SBS])
    xgb_scores = sbs_scores.copy()
    xgb_scores[:, xgb] = np.inf
    rankings = {NESTED: nested_scores, "always XGBoost": xgb_scores, "rule-based": rule_scores, SBS: sbs_scores}
    sbs = gap_picks(Y, groups, sbs_scores)
    gaps = {name: gap.figures(gap_picks(Y, groups, sc), sbs, HIT_TOLERANCE) for name, sc in rankings.items()}
    return {"datasets": len(Y), "groups": int(len(np.unique(groups))), "cells": rows,
            "nested": {"top1": top1, "regret": regret, "chosen": chosen}, "gap": gaps}


def report(result: Mapping[str, Any], commit: str) -> str:
    baselines = ("always the best on average", "always XGBoost", "rule-based")
    lines = [
        "# Other learned rankings",
        "",
        f"`python -m benchmarks.recommender_alternatives` (commit {commit}, {datetime.date.today()}): grouped "
        f"leave-one-dataset-out over {result['datasets']} datasets in {result['groups']} groups, cross-validated "
        f"labels (hit: within {HIT_TOLERANCE} normalised of the best framework).",
        "",
        "| ranking | top-1 hit rate | mean regret |",
        "|---|---|---|",
    ]
    n = result["nested"]
    lines.append(f"| **nested: a cell chosen inside each training split** | **{n['top1']:.1%}** "
                 f"| **{n['regret']:.4f}** |")
    for name in baselines:
        top1, regret = result["cells"][name]
        lines.append(f"| {name} | {top1:.1%} | {regret:.4f} |")
    lines += ["", "Each cell alone (chosen after seeing these figures: optimistic):", "",
              "| cell | top-1 hit rate | mean regret |", "|---|---|---|"]
    for name, (top1, regret) in sorted(result["cells"].items(), key=lambda kv: (kv[1][1], -kv[1][0])):
        if name not in baselines:
            lines.append(f"| {name} | {top1:.1%} | {regret:.4f} |")
    chosen = ", ".join(f"{k} ({v})" for k, v in sorted(n["chosen"].items(), key=lambda kv: -kv[1]))
    beats = all(n["top1"] > result["cells"][b][0] and n["regret"] < result["cells"][b][1] for b in baselines)
    lines += ["", f"Cells the nested selection used (held-out datasets): {chosen}."]
    if "noise" in result:
        count, forward, back = result["noise"]
        lines += ["", f"Label noise: on the {count} datasets whose six configurations were each cross-validated twice, "
                  f"the framework best on the first 5-fold repeat is a hit on the second on {forward:.0%} of them, "
                  f"and back {back:.0%}: the same models, rescored on reshuffled folds, change winner that often."]
    if "gap" in result:
        lines += ["", "The share of the gap closed between the single best solver (SBS: the best on average on the "
                  f"training groups, 0%) and the oracle (100%), paired bootstrap over groups ({gap.RESAMPLES} "
                  f"resamples, seed {gap.SEED}):", "", *gap.table_lines(result["gap"], SBS)]
    verdict = "beats" if beats else "does not beat"
    lines += ["", f"Verdict: the nested ranking {verdict} every baseline on both figures."]
    if "gap" in result:
        ships = gap.ships(result["gap"][NESTED])
        lines += [f"By the gap closed, the nested ranking {'ships' if ships else 'does not ship'} (its interval's "
                  f"lower bound is {'above' if ships else 'not above'} 0%)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", type=Path, default=OUT_MD)
    ap.add_argument("--landmarks", type=Path, default=LANDMARKS, help="landmark cache (default %(default)s)")
    args = ap.parse_args(argv)
    runs = load_runs()
    table = dataset_table(runs, "cv")
    table = table[table[[f for f in FRAMEWORKS if f in table]].notna().all(axis=1)]
    if table.empty:
        raise SystemExit("no dataset has cross-validated scores for every framework: run "
                         "python -m benchmarks.metadata and python -m benchmarks.metadata_cv first")
    lm = build_landmarks(list(table.index), args.landmarks)
    rules = runs.pivot_table(index="dataset", columns="framework", values="rule_based.score", aggfunc="first")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    result = evaluate(table, lm, rules)
    direction = runs.groupby("dataset").higher_is_better.first().astype(bool).to_dict()
    result["noise"] = repeat_agreement(_read(CV_RUNS), direction)
    text = report(result, head.stdout.strip() or "unknown")
    print(text)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
