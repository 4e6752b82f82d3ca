"""Plots of a result, as matplotlib figures: optimisation history, score against fit time, importance.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no GUI backend), so they
work in scripts, notebooks and the CLI alike; pass ``ax=`` to draw into an axes of your own.
Optuna's plotly visualisations stay reachable from ``result.study``
(``optuna.visualization.plot_optimization_history(result.study)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.errors import InputError
from search_spaces import all_adapters

if TYPE_CHECKING:
    from automl.result import AutoMLResult

#: Every saved plot is this size: 8 x 5 inches at 100 dpi, 800 x 500 pixels.
FIGSIZE = (8.0, 5.0)
DPI = 100
#: Permutation importance is computed on at most this many rows.
IMPORTANCE_MAX_ROWS = 5_000
#: The colour of a name no adapter is registered under.
UNKNOWN_COLOUR = "#7f7f7f"


def framework_colours() -> dict[str, str]:
    """Each registered framework's plot colour: its adapter's ``colour``, else the next colour of
    matplotlib's cycle that no adapter claims (in registration order, so the same in every plot)."""
    from matplotlib import rcParams
    from matplotlib.colors import to_hex

    adapters = all_adapters()
    claimed = {to_hex(a.colour) for a in adapters if a.colour is not None}
    cycle = [to_hex(c) for c in rcParams["axes.prop_cycle"].by_key().get("color", [])]
    free = [c for c in cycle if c not in claimed] or [UNKNOWN_COLOUR]
    uncoloured = [a.name for a in adapters if a.colour is None]
    return {
        a.name: a.colour if a.colour is not None else free[uncoloured.index(a.name) % len(free)] for a in adapters
    }


class _Colours(Mapping[str, str]):
    """:func:`framework_colours` as a read-only mapping, read at each lookup (adapters may register later)."""

    def __getitem__(self, framework: str) -> str:
        return framework_colours()[framework]

    def __iter__(self) -> Iterator[str]:
        return iter(framework_colours())

    def __len__(self) -> int:
        return len(framework_colours())


#: One colour per framework, stable across plots.
COLOURS: Mapping[str, str] = _Colours()


def _axes(ax: Any) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    _notebook_display(Figure)
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _notebook_display(figure_type: type) -> None:
    """In IPython, show a returned Figure as PNG unless a format is set up for figures already.

    A Figure made without pyplot has no display format of its own until ``%matplotlib inline``
    runs; without it, a cell ending in ``result.plot_history()`` would only show its repr.
    """
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters:
        return
    for mime in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        try:
            formatters[mime].lookup_by_type(figure_type)
            return  # the user's (or the inline backend's) choice stands
        except (KeyError, TypeError):
            continue
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, {"png"})


def _colour(framework: str) -> str:
    return framework_colours().get(framework, UNKNOWN_COLOUR)


def _finished(result: AutoMLResult) -> pd.DataFrame:
    """Completed trials with their metric value and, when the study is there, seconds since start."""
    board = result.leaderboard
    if board.empty:
        raise InputError("the result has no trials to plot (the search finished none within its budget)")
    done = board[board["state"] == "COMPLETE"].copy()
    if done.empty:
        raise InputError("no trial completed, so there is nothing to plot; give the search a larger time_budget")
    done["value"] = done[result.metric.display_name].astype(float)
    done["elapsed"] = np.nan
    if result.study is not None:
        trials = {t.number: t for t in result.study.trials}
        starts = [t.datetime_start for t in trials.values() if t.datetime_start is not None]
        if starts:
            t0 = min(starts)
            done["elapsed"] = [
                (trials[n].datetime_complete - t0).total_seconds()
                if n in trials and trials[n].datetime_complete is not None else np.nan
                for n in done["trial"]
            ]
    return done


def plot_history(result: AutoMLResult, ax: Any = None) -> Any:
    """Every completed trial's validation metric against time, coloured by framework, with the best so far."""
    done = _finished(result)
    fig, ax = _axes(ax)
    use_time = bool(done["elapsed"].notna().all())
    x_col = "elapsed" if use_time else "trial"
    done = done.sort_values(x_col)
    for framework, part in done.groupby("framework", sort=True):
        ax.scatter(part[x_col], part["value"], s=22, alpha=0.75, color=_colour(str(framework)), label=str(framework))
    best = done["value"].cummin() if result.metric.is_loss else done["value"].cummax()
    ax.step(done[x_col], best, where="post", color="black", linewidth=1.2, label="best so far")
    ax.set_xlabel("seconds since the search started" if use_time else "trial")
    ax.set_ylabel(f"validation {result.metric.display_name}")
    ax.set_title("Optimisation history")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_fit_time(result: AutoMLResult, ax: Any = None) -> Any:
    """Validation metric against each trial's fit seconds (log scale), one colour per framework."""
    done = _finished(result)
    done = done[done["fit_seconds"].notna()]
    fig, ax = _axes(ax)
    for framework, part in done.groupby("framework", sort=True):
        ax.scatter(
            part["fit_seconds"].astype(float).clip(lower=1e-3), part["value"], s=22, alpha=0.75,
            color=_colour(str(framework)), label=str(framework),
        )
    ax.set_xscale("log")
    ax.set_xlabel("fit seconds per trial (all folds)")
    ax.set_ylabel(f"validation {result.metric.display_name}")
    ax.set_title("Score against fit time")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize="small")
    return fig


def permutation_importance_frame(
    result: AutoMLResult, df: pd.DataFrame, *, n_repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    """scikit-learn's permutation importance of the best model on ``df``, largest first.

    ``df`` must hold the feature columns and the target; rows with a missing target are dropped and
    at most 5,000 rows (sampled) are used. ``importance`` is the drop in the metric's score
    (greater is better) when the feature is shuffled.
    """
    from sklearn.inspection import permutation_importance

    target = result.profile.target
    if not isinstance(df, pd.DataFrame) or target not in df.columns:
        raise InputError(f"permutation importance needs a DataFrame with the target column {target!r}")
    rows = df[df[target].notna()]
    if len(rows) > IMPORTANCE_MAX_ROWS:
        rows = rows.sample(IMPORTANCE_MAX_ROWS, random_state=seed)
    if len(rows) < 2:
        raise InputError("permutation importance needs at least 2 rows with a target value")
    X, y = result._features(rows), rows[target]
    found = permutation_importance(
        result.best_model, X, y, scoring=result.metric.scorer(), n_repeats=n_repeats, random_state=seed
    )
    frame = pd.DataFrame(
        {"feature": X.columns, "importance": found.importances_mean, "std": found.importances_std}
    )
    return frame.sort_values("importance", ascending=False).reset_index(drop=True)


def plot_importance(
    result: AutoMLResult, df: pd.DataFrame, *, n_repeats: int = 5, top: int = 20, ax: Any = None
) -> Any:
    """Horizontal bars of the ``top`` permutation importances with their standard deviations."""
    frame = permutation_importance_frame(result, df, n_repeats=n_repeats).head(top).iloc[::-1]
    fig, ax = _axes(ax)
    ax.barh(frame["feature"], frame["importance"], xerr=frame["std"], color=_colour(result.best_framework))
    ax.set_xlabel(f"drop in {result.metric.name} score when shuffled")
    ax.set_title(f"Permutation importance ({result.best_framework} / {result.best_model_family})")
    ax.grid(alpha=0.3, axis="x")
    return fig


def save_plots(result: AutoMLResult, directory: str | Path, data: pd.DataFrame | None = None) -> list[Path]:
    """Write ``history.png``, ``fit_time.png`` and, with ``data``, ``importance.png``; return the paths.

    A plot that cannot be drawn (no completed trial) is skipped, not an error.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Any]] = [("history", lambda: plot_history(result)),
                                     ("fit_time", lambda: plot_fit_time(result))]
    if data is not None:
        makers.append(("importance", lambda: plot_importance(result, data)))
    written = []
    for name, make in makers:
        try:
            fig = make()
        except InputError:
            continue
        path = out / f"{name}.png"
        fig.savefig(path, dpi=DPI)
        written.append(path)
    return written
