"""The verdict after a search: which frameworks are tied with the best, within the validation noise.

:func:`framework_report` reads the leaderboard (every trial's framework, state, score, seconds and
fold scores) and gives one row per framework: its best validation score, its trials (complete,
pruned, failed), the seconds its trials took, and whether it is **tied with the best** framework.

Tied, with k folds: the two frameworks' best trials were scored on the same folds, so the test is
paired. With ``d`` the per-fold differences (best framework minus this one) over the ``n`` folds
both scored, the framework is tied when ``mean(d) <= se``, one standard error of the difference,
``se = sqrt((1/n + n_test/n_train) * var(d))``: Nadeau and Bengio's correction (Machine Learning
52, 2003) for the folds' overlapping training rows (``n_test/n_train = 1/(k-1)`` for k-fold),
without which the naive ``var(d)/n`` calls differences significant far too often. One standard
error is a deliberately lenient bar: "tied" means the folds cannot tell the two apart, not that
they are equal. The best framework is tied with itself. The best score of each framework is the
maximum over its trials, so every figure is optimistic by the search's own selection; the
comparison is between equally selected numbers.

With a holdout (one split), the search rescored each framework's best kept trial on bootstrap
resamples of the validation rows (:mod:`automl.search._noise`); the same rule applies to the
mean and standard error of the bootstrap differences. When neither is available (a framework with
one fold score, or no out-of-fold predictions kept) the noise is unmeasured and the row says so.

Why a small object and not a DataFrame with ``attrs``: pandas drops ``attrs`` on most operations,
and a notebook should show the verdict above the table. :class:`FrameworkReport` has
``.verdict`` (one line), ``.to_frame()`` (the table), ``_repr_html_`` and ``str()`` for both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from automl.result import AutoMLResult

COLUMNS = ("framework", "best_score", "trials_complete", "trials_pruned", "trials_failed", "seconds",
           "tied_with_best", "note")


def paired_tie(best: list[float], other: list[float], test_over_train: float | None) -> tuple[bool | None, str]:
    """Whether ``other``'s fold scores are within one corrected standard error of ``best``'s (paired
    on the folds both scored, in order); ``None`` when fewer than two folds are common."""
    n = min(len(best), len(other))
    if n < 2:
        return None, "one fold score: noise unmeasured"
    d = np.asarray(best[:n], dtype=float) - np.asarray(other[:n], dtype=float)
    ratio = 1.0 / (n - 1) if test_over_train is None else test_over_train
    se = math.sqrt((1.0 / n + ratio) * float(d.var(ddof=1)))
    return bool(d.mean() <= se), f"{d.mean():.4g} below the best, standard error {se:.2g} over {n} folds"


def _folds_k(validation: str) -> int | None:
    match = re.search(r"(\d+)-fold", validation or "")
    return int(match.group(1)) if match else None


@dataclass
class FrameworkReport:
    """Each framework's evidence after a search, and the verdict (see the module's docstring)."""

    rows: pd.DataFrame
    verdict: str
    metric: str
    method: str
    result: Any = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.rows.copy()

    def to_dict(self) -> dict[str, Any]:
        records = json_records(self.rows)
        return {"verdict": self.verdict, "metric": self.metric, "method": self.method, "frameworks": records}

    def __str__(self) -> str:
        table = self.rows.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.5g}")
        return f"{self.verdict}\n{table}\nNoise: {self.method}"

    def _repr_html_(self) -> str:
        esc = self.verdict.replace("&", "&amp;").replace("<", "&lt;")
        return (f"<div><b>Which framework?</b> {esc}" + self.rows.to_html(index=False, na_rep="")
                + f"<small>Noise: {self.method}</small></div>")

    def save_to_metadata(self, path: str | Path, data: pd.DataFrame, *, dataset: str | None = None) -> Path:
        """Append one line per framework to the JSONL file ``path`` in the meta-dataset's run format
        (:mod:`recommender.metadata_format`): opt-in, nothing is written otherwise. ``data``: the
        frame the search fitted (with the target), for the constant predictor's score that
        normalises the frameworks' validation scores."""
        from recommender.metadata_format import append_runs

        if self.result is None:
            raise ValueError("this report has no result to describe; use result.framework_report()")
        return append_runs(path, metadata_lines(self, data, dataset))


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records"))


def _counts(sub: pd.DataFrame) -> tuple[int, int, int]:
    states = sub["state"].value_counts()
    return int(states.get("COMPLETE", 0)), int(states.get("PRUNED", 0)), int(states.get("FAIL", 0))


def _noise_lookup(result: AutoMLResult) -> dict[str, Any]:
    if result.validation_noise:
        return result.validation_noise
    study = result.study
    return dict(study.user_attrs.get("holdout_noise", {})) if study is not None else {}


def framework_report(result: AutoMLResult) -> FrameworkReport:
    """One row per framework (best first) and the verdict; see the module's docstring."""
    board, metric = result.leaderboard, result.metric
    if not {"framework", "state", "score", "trial"} <= set(board.columns):  # an empty or foreign leaderboard
        board = pd.DataFrame(columns=["trial", "framework", "score", "state", "fit_seconds"])
    frameworks = list(dict.fromkeys([*board["framework"].dropna(), *result.recommendation.frameworks]))
    best_rows: dict[str, pd.Series] = {}
    for f in frameworks:
        done = board[(board["framework"] == f) & (board["state"] == "COMPLETE") & board["score"].notna()]
        if len(done):
            best_rows[f] = done.sort_values(["score", "trial"], ascending=[False, True]).iloc[0]
    top = max(best_rows, key=lambda f: best_rows[f]["score"]) if best_rows else None
    holdout = "holdout" in (result.validation or "") and _folds_k(result.validation) is None
    k = _folds_k(result.validation)
    ratio = None if k is None or k < 2 else 1.0 / (k - 1)
    noise = _noise_lookup(result) if holdout else {}
    rows = []
    for f in frameworks:
        sub = board[board["framework"] == f]
        complete, pruned, failed = _counts(sub)
        seconds_col = "seconds" if "seconds" in sub and sub["seconds"].notna().any() else "fit_seconds"
        seconds = float(pd.to_numeric(sub[seconds_col], errors="coerce").fillna(0).sum()) if len(sub) else 0.0
        row = best_rows.get(f)
        tied, note = _tie(f, top, row, best_rows, holdout, noise, ratio)
        if row is None:
            note = "no trial ran" if not len(sub) else "no trial finished"
        rows.append({"framework": f, "best_score": None if row is None else metric.display(float(row["score"])),
                     "trials_complete": complete, "trials_pruned": pruned, "trials_failed": failed,
                     "seconds": round(seconds, 2), "tied_with_best": tied, "note": note})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    order = frame["framework"].map(lambda f: -best_rows[f]["score"] if f in best_rows else math.inf)
    frame = frame.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    frame = frame.rename(columns={"best_score": f"best_{metric.display_name}"})
    method = _method(holdout, noise, k)
    return FrameworkReport(frame, _verdict(frame, top, holdout and not noise.get("frameworks")), metric.display_name,
                           method, result)


def _tie(f: str, top: str | None, row: Any, best_rows: dict[str, Any], holdout: bool, noise: dict[str, Any],
         ratio: float | None) -> tuple[bool | None, str]:
    if row is None or top is None:
        return None, ""
    if f == top:
        return True, "best"
    if holdout:
        entry = noise.get("frameworks", {}).get(f)
        if noise.get("against") != top or entry is None:
            return None, noise.get("unmeasured") or "holdout: noise unmeasured (no out-of-fold predictions kept)"
        tied = entry["difference"] <= entry["se"]
        return tied, f"{entry['difference']:.4g} below the best, bootstrap standard error {entry['se']:.2g}"
    folds_top, folds_f = row_folds(best_rows[top]), row_folds(row)
    return paired_tie(folds_top, folds_f, ratio)


def row_folds(row: Any) -> list[float]:
    folds = row.get("fold_scores") if hasattr(row, "get") else None
    return [float(v) for v in folds] if isinstance(folds, (list, tuple, np.ndarray)) else []


def _method(holdout: bool, noise: dict[str, Any], k: int | None) -> str:
    if holdout:
        return noise.get("method") or noise.get("unmeasured") or "holdout: noise unmeasured"
    folds = f"{k}-fold" if k else "the folds"
    return (f"paired differences over {folds} of each framework's best trial; tied within one standard error "
            "(Nadeau-Bengio corrected)")


def _verdict(frame: pd.DataFrame, top: str | None, unmeasured: bool) -> str:
    if top is None:
        return "No framework finished a trial: no evidence to choose one."
    tied = [f for f, t in zip(frame["framework"], frame["tied_with_best"], strict=True) if t is True and f != top]
    if unmeasured:
        return f"{top} scored best; the validation noise is unmeasured, so ties with it are unknown."
    if not tied:
        return f"Use {top}: it beats every other framework by more than the validation noise."
    return (f"{top} scored best, but {', '.join(tied)} {'is' if len(tied) == 1 else 'are'} tied with it within "
            "the validation noise: choose among them on speed or other needs.")


def metadata_lines(report: FrameworkReport, data: pd.DataFrame, dataset: str | None) -> list[dict[str, Any]]:
    """The report as meta-dataset run lines, one per framework with a finished trial."""
    from recommender.meta import meta_features
    from recommender.metadata_format import normalised, run_line

    result = report.result
    constant = constant_score(result, data)
    frame = report.rows
    score_col = f"best_{result.metric.display_name}"
    scores = {f: result.metric.display(s) if s is not None and not pd.isna(s) else None  # back to greater-is-better
              for f, s in zip(frame["framework"], frame[score_col], strict=True)}
    best = max((s for s in scores.values() if s is not None), default=None)
    name = dataset or (Path(result.run_dir).name if result.run_dir else "user_dataset")
    meta = meta_features(result.profile)
    lines = []
    for rec in frame.to_dict("records"):
        score = scores[rec["framework"]]
        lines.append(run_line(
            dataset=name, task=result.task, framework=rec["framework"], budget=result.time_budget,
            hardware=result.hardware.to_dict(), meta=meta, validation=result.validation, rows=result.profile.n_rows,
            features=result.profile.n_features, counts=(rec["trials_complete"], rec["trials_pruned"],
                                                        rec["trials_failed"]),
            metric=result.metric.name, score=score, constant=constant, best=best,
            normalised_score=normalised(score, constant, best), tied_with_best=rec["tied_with_best"],
        ))
    return lines


def constant_score(result: AutoMLResult, data: pd.DataFrame) -> float | None:
    """The validation metric of the constant predictor (class priors, or the mean) on ``data``'s rows."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    target = result.profile.target
    if not isinstance(data, pd.DataFrame) or target not in data.columns:
        raise ValueError(f"data must be the DataFrame the search fitted, with its target column {target!r}")
    y = data[target].dropna()
    X = np.zeros((len(y), 1))
    model = DummyRegressor() if result.task == "regression" else DummyClassifier(strategy="prior")
    try:
        return float(result.metric.scorer()(model.fit(X, y), X, y))
    except ValueError:
        return None
