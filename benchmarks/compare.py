"""This project against FLAML and AutoGluon (default and best_quality), side by side, at equal time budgets.

    make peers                                         # the peers' own virtual environments
    python -m benchmarks.compare --budgets 60          # what `make bench` runs (about 50 minutes)
    python -m benchmarks.compare --budgets 300 --resume   # `make bench-300`: issue 21's acceptance run
    python -m benchmarks.compare --budgets 30 --datasets iris diabetes --systems automl flaml
    python -m benchmarks.compare --report benchmarks/results/compare_60s.jsonl   # re-render only
    # how much one small test set decides: the same dataset on other outer 75/25 splits
    python -m benchmarks.compare --budgets 300 --datasets hitters --splits 0 1 2 3 4 --systems automl autogluon-best
    # ablation: this project without one search feature, under its own label
    python -m benchmarks.compare --budgets 30 --systems automl --label no-ensemble \
        --automl-options '{"ensemble": false}' --out benchmarks/results/ablation_30s.jsonl

Every system runs in a fresh process of its own interpreter (this project's ``.venv``, the peers'
``.venv-peers/<name>``), one after another on the same machine, on the split convention of
``benchmarks/_suite.py``. Per run the driver records the holdout metrics, the fit-and-predict wall
seconds, the peak memory of the process tree (sampled every 0.2 s with psutil) and the chosen model,
appending one JSON line per run to ``benchmarks/results/compare_<budget>s.jsonl`` as it finishes.
The report (a Markdown table and a PNG chart next to the JSON lines) gives per dataset the
normalised score ``(s - s_constant) / (s_best - s_constant)``, where ``s_best`` is the best system
in that run and ``s_constant`` the score of the training prior or mean, each system's gap behind its
best peer per dataset (the worst case, not only the mean), and per system the mean and the worst
normalised score, wins/ties/losses against each other system (ties within 0.005), the mean rank
and whether the time promise (wall <= budget x 1.05 + 5 s) held.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._suite import (
    HIGHER_IS_BETTER,
    MAIN_METRIC,
    constant_scores,
    load_split,
    normalised,
    outside_training_range,
    parse_split_name,
    read_manifest,
    split_name,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SUITE = ROOT.parent / "shared" / "datasets" / "dev"
RESULTS = Path(__file__).resolve().parent / "results"
RUNNER = Path(__file__).resolve().parent / "_run_system.py"
SYSTEMS = ("automl", "flaml", "autogluon", "autogluon-best")
#: The peer systems and the virtual environment (under .venv-peers) each runs in.
PEER_VENVS = {"flaml": "flaml", "autogluon": "autogluon", "autogluon-best": "autogluon"}
TIE = 0.005
#: A run that has not finished by budget x 3 + 120 s is killed and recorded as failed.
KILL_FACTOR, KILL_EXTRA = 3.0, 120.0


def interpreter(system: str) -> Path:
    if system == "automl":
        return Path(sys.executable)
    return ROOT / ".venv-peers" / PEER_VENVS[system] / "bin" / "python"


def _tree_rss(proc: Any) -> int:
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_one(
    system: str, suite: Path, dataset: str, budget: float, seed: int, options: str = "{}", split: int = 0
) -> dict[str, Any]:
    """Run one system in its own process; the record it printed plus wall time and peak memory."""
    import psutil

    python = interpreter(system)
    if not python.exists():
        return {"error": f"{python} missing: run `make peers` first"}
    cmd = [str(python), str(RUNNER), "--system", system, "--suite", str(suite), "--dataset", dataset,
           "--budget", str(budget), "--seed", str(seed), "--split", str(split), "--options", options]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.NoSuchProcess:
                return
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=budget * KILL_FACTOR + KILL_EXTRA)
    except subprocess.TimeoutExpired:
        for child in ps.children(recursive=True):
            child.kill()
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr = f"killed after {time.monotonic() - started:.0f}s\n" + stderr
    stop.set()
    sampler.join()
    process_s = time.monotonic() - started
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    record: dict[str, Any] = {"process_s": round(process_s, 2), "peak_mb": round(peak / 2**20)}
    if line is None:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-5:])
        return {**record, "error": f"exit {proc.returncode}: {tail}"}
    return {**record, **json.loads(line[len("RESULT "):])}


def versions() -> dict[str, str]:
    out = {}
    for system, dist in (("automl", "automl-recommender"), ("flaml", "flaml"), ("autogluon", "autogluon.tabular")):
        # autogluon-best is the same package as autogluon, with presets="best_quality".
        python = interpreter(system)
        if python.exists():
            code = f"import importlib.metadata as m; print(m.version({dist!r}))"
            res = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
            out[system] = res.stdout.strip() or "?"
    return out


# -- report -----------------------------------------------------------------------------------
#: The paths whose content is "this project" for --resume: a commit that changes only benchmarks,
#: results or docs runs the same system.
CODE_PATHS = ("automl", "search_spaces", "recommender", "pyproject.toml")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def source_commit() -> str:
    """This project's git commit (with ``-dirty`` when its code has uncommitted changes), or ``unknown``."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def code_version(commit: str) -> str | None:
    """The git trees of CODE_PATHS at ``commit`` (None for a dirty or unknown one)."""
    if commit.endswith(("-dirty", "unknown")):
        return None
    try:
        return _git("rev-parse", *(f"{commit}:{p}" for p in CODE_PATHS)).replace("\n", " ")
    except (OSError, subprocess.CalledProcessError):
        return None


def already_run(path: Path, commit: str) -> set[tuple[str, str, float]]:
    """(system, dataset, budget) of the runs in ``path`` that ``--resume`` skips: the peers' runs, and
    this project's runs at a commit whose code is the same as ``commit``'s."""
    if not path.exists():
        return set()
    mine = code_version(commit)
    versions: dict[str, str | None] = {}
    done = set()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        peer = row["system"] in SYSTEMS and row["system"] != "automl"
        theirs = row.get("commit")
        if theirs is not None and theirs not in versions:
            versions[theirs] = code_version(theirs)
        if peer or (mine is not None and theirs is not None and versions[theirs] == mine):
            done.add((row["system"], row["dataset"], float(row["budget"])))
    return done


def load_rows(path: Path) -> pd.DataFrame:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    if not rows:
        raise SystemExit(f"{path} holds no runs")
    df = pd.DataFrame(rows)
    # The newest run of each system (label), dataset and budget: a file can gather ablations run apart.
    return df.drop_duplicates(["system", "dataset", "budget"], keep="last").reset_index(drop=True)


def summarise(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per dataset x system table, per system summary, pairwise wins/ties/losses)."""
    df = df.copy()
    df["main"] = [row.get(MAIN_METRIC[row["task"]], np.nan) for _, row in df.iterrows()]
    df["norm"] = np.nan
    for _, g in df.groupby(["budget", "dataset"]):
        metric = MAIN_METRIC[g["task"].iloc[0]]
        values = g["main"].astype(float)
        best = values.max() if HIGHER_IS_BETTER[metric] else values.min()
        const = float(g["constant"].iloc[0][metric])
        df.loc[g.index, "norm"] = [normalised(v, const, best) for v in values]
    df["norm"] = df["norm"].fillna(0.0)  # a failed run scores like the constant predictor
    df["rank"] = df.groupby(["budget", "dataset"])["norm"].rank(ascending=False, method="min")
    df["promise"] = df["fit_predict_s"].astype(float) <= df["budget"] * 1.05 + 5
    summary = df.groupby(["budget", "system"]).agg(
        mean_normalised=("norm", "mean"), worst_normalised=("norm", "min"), mean_rank=("rank", "mean"),
        datasets=("dataset", "count"),
        promise_kept=("promise", "sum"), max_wall_s=("fit_predict_s", "max"), max_peak_mb=("peak_mb", "max"),
    ).reset_index()
    pairs = []
    for budget, g in df.groupby("budget"):
        wide = g.pivot(index="dataset", columns="system", values="norm")
        for a in wide.columns:
            for b in wide.columns:
                if a != b:
                    d = wide[a] - wide[b]
                    pairs.append({"budget": budget, "system": a, "versus": b, "wins": int((d > TIE).sum()),
                                  "ties": int((d.abs() <= TIE).sum()), "losses": int((d < -TIE).sum())})
    columns = ["budget", "system", "versus", "wins", "ties", "losses"]
    return df, summary, pd.DataFrame(pairs, columns=columns)


def render(path: Path, suite: Path = DEFAULT_SUITE) -> str:
    """Write ``<stem>.md`` and ``<stem>.png`` next to the JSON lines; return the Markdown."""
    df, summary, pairs = summarise(load_rows(path))
    lines = [f"# {path.stem}: {', '.join(sorted(df.system.unique()))}", ""]
    meta = df.iloc[0]
    runs = ", ".join(sorted(df["invocation"].unique()))
    lines.append(f"Invocation(s) {runs} on {meta.get('machine', '?')}; versions {meta.get('versions', {})}.")
    if "commit" in df:
        ours = df.loc[~df.system.isin(list(PEER_VENVS)), "commit"].dropna()
        commits = ", ".join(sorted(str(c) for c in ours.unique()))
        lines.append(f"This project's commit(s): {commits or 'not recorded'}.")
    lines.append("Normalised score: (s - s_constant) / (s_best - s_constant), s_best the best system in this run.")
    lines.append("")
    for budget, g in df.groupby("budget"):
        lines.append(f"## Budget {budget:g} s")
        lines.append("")
        wide = g.pivot(index="dataset", columns="system", values="norm")
        raw = g.pivot(index="dataset", columns="system", values="main")
        wall = g.pivot(index="dataset", columns="system", values="fit_predict_s")
        best = g.pivot(index="dataset", columns="system", values="best")
        systems = list(wide.columns)
        order = [e for e in g.drop_duplicates("dataset")["dataset"]]
        head = ["dataset", "metric", *[f"{s} norm" for s in systems], *[f"{s} score" for s in systems],
                *[f"{s} wall s" for s in systems], *[f"{s} model" for s in systems]]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for d in order:
            task = g[g.dataset == d]["task"].iloc[0]
            cells = [d, MAIN_METRIC[task]]
            cells += [f"{wide.loc[d, s]:.3f}" for s in systems]
            cells += [f"{raw.loc[d, s]:.5g}" for s in systems]
            cells += [f"{wall.loc[d, s]:.1f}" for s in systems]
            cells += [str(best.loc[d, s]) for s in systems]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        s = summary[summary.budget == budget]
        lines += ["| system | mean normalised | worst normalised | mean rank | time promise kept | max wall s | "
                  "max peak MB |", "|---|---|---|---|---|---|---|"]
        for _, r in s.sort_values("mean_normalised", ascending=False).iterrows():
            lines.append(f"| {r.system} | {r.mean_normalised:.4f} | {r.worst_normalised:.4f} | {r.mean_rank:.2f} | "
                         f"{int(r.promise_kept)}/{int(r.datasets)} | {r.max_wall_s:.1f} | {r.max_peak_mb:.0f} |")
        lines += ["", *gap_lines(wide, order)]
        lines.append("")
        p = pairs[pairs.budget == budget]
        if len(p):
            lines += ["| system | versus | wins | ties | losses |", "|---|---|---|---|---|"]
        for _, r in p.iterrows():
            lines.append(f"| {r.system} | {r.versus} | {r.wins} | {r.ties} | {r.losses} |")
        if "automl" in wide.columns and wide.shape[1] > 1:
            others = wide.drop(columns="automl")
            trail = others.min(axis=1) - wide["automl"]
            worst = trail.idxmax()
            lines.append("")
            lines.append(f"Largest gap by which automl trails every other system: {max(trail.max(), 0):.3f} "
                         f"({worst if trail.max() > 0 else 'none'}).")
        lines += extrapolation_lines(g, suite)
        failed = g[g["error"].notna()] if "error" in g else g.iloc[0:0]
        for _, r in failed.iterrows():
            lines.append(f"- {r.system} on {r.dataset} failed: {str(r.error).splitlines()[0][:200]}")
        lines.append("")
    text = "\n".join(lines)
    path.with_suffix(".md").write_text(text)
    chart(df, path.with_suffix(".png"))
    return text


def extrapolation_lines(g: pd.DataFrame, suite: Path) -> list[str]:
    """Per regression dataset in ``g`` (when ``suite`` has it): the test rows whose target lies outside
    the training rows' range, which no tree ensemble can predict (see ``_suite.outside_training_range``)."""
    if not (suite / "manifest.json").exists():
        return []
    entries = {e["name"]: e for e in read_manifest(suite)}
    cells = []
    for dataset in g.loc[g.task == "regression", "dataset"].drop_duplicates():
        name, split = parse_split_name(str(dataset))
        if name not in entries:
            continue
        train, test = load_split(entries[name], suite, split)
        cells.append(f"{dataset} {outside_training_range(train, test, entries[name]['target'])}/{len(test)}")
    return [f"Regression test rows outside the training target range: {', '.join(cells)}.", ""] if cells else []


def gap_lines(wide: pd.DataFrame, order: list[str]) -> list[str]:
    """Per dataset, how far each system trails the best other system (its best peer): the worst
    case, not only the mean."""
    if wide.shape[1] < 2:
        return []
    systems = list(wide.columns)
    lines = ["Gap behind the best peer (the best other system on that dataset; negative: ahead of it):", "",
             "| dataset | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    gaps = pd.DataFrame({s: wide.drop(columns=s).max(axis=1) - wide[s] for s in systems}).loc[order]
    for d, row in gaps.iterrows():
        lines.append(f"| {d} | " + " | ".join(f"{v:+.3f}" for v in row) + " |")
    worst = gaps.max()
    lines.append("| **largest gap** | " + " | ".join(
        f"**{worst[s]:+.3f}** ({gaps[s].idxmax()})" for s in systems) + " |")
    return [*lines, ""]


def chart(df: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted(df.budget.unique())
    fig, axes = plt.subplots(len(budgets), 1, figsize=(11, 4.2 * len(budgets)), squeeze=False)
    for ax, budget in zip(axes[:, 0], budgets, strict=True):
        g = df[df.budget == budget]
        wide = g.pivot(index="dataset", columns="system", values="norm")
        wide = wide.loc[list(g.drop_duplicates("dataset")["dataset"])]
        width = 0.8 / wide.shape[1]
        x = np.arange(len(wide))
        for i, system in enumerate(wide.columns):
            mean = wide[system].mean()
            ax.bar(x + i * width, wide[system].clip(lower=0.4), width, label=f"{system} (mean {mean:.3f})")
        ax.set_xticks(x + width * (wide.shape[1] - 1) / 2, wide.index, rotation=30, ha="right")
        ax.set_ylim(0.4, 1.01)
        ax.set_ylabel("normalised score (1 = best)")
        ax.set_title(f"Holdout score at a {budget:g} s budget (bars below 0.4 are cut)")
        ax.legend(loc="lower center", ncol=wide.shape[1], framealpha=0.95)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", default=[60.0])
    ap.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    ap.add_argument("--datasets", nargs="*", help="names from the suite's manifest (default: all)")
    ap.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="a folder with a manifest.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--splits", type=int, nargs="+", default=[0],
                    help="outer 75/25 splits (random states; 0 is the suite's): split N>0 of a dataset is "
                         "reported as <dataset>@splitN, normalised against its own best system")
    ap.add_argument("--out", type=Path, help="JSON-lines file (default benchmarks/results/compare_<budgets>s.jsonl)")
    ap.add_argument("--report", type=Path, help="only re-render the report of an existing JSON-lines file")
    ap.add_argument("--automl-options", default="{}", help="JSON: fit's ensemble and search_options (ablations)")
    ap.add_argument("--label", help="name this project's runs (default 'automl'), e.g. for an ablation")
    ap.add_argument("--resume", action="store_true",
                    help="skip runs already in --out: a peer's run on the same dataset and budget, this "
                         "project's run at a commit with the same code (a long run can go on later)")
    args = ap.parse_args(argv)
    if args.report:
        print(render(args.report, args.suite))
        return 0
    entries = [e for e in read_manifest(args.suite) if not args.datasets or e["name"] in args.datasets]
    unknown = set(args.datasets or ()) - {e["name"] for e in entries}
    if unknown:
        ap.error(f"--datasets: {sorted(unknown)} not in {args.suite / 'manifest.json'}")
    out = args.out or RESULTS / f"compare_{'_'.join(f'{b:g}' for b in args.budgets)}s.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    invocation = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    import psutil

    machine = f"{platform.machine()} {psutil.cpu_count()} cores {psutil.virtual_memory().total / 2**30:.0f} GiB"
    env = versions()
    commit = source_commit()
    finished = already_run(out, commit) if args.resume else set()
    total = len(args.budgets) * len(entries) * len(args.splits) * len(args.systems)
    done = 0
    for budget in args.budgets:
        for entry, split in ((e, k) for e in entries for k in args.splits):
            train, test = load_split(entry, args.suite, split)
            constant = constant_scores(entry["task"], train, test, entry["target"])
            dataset = split_name(entry["name"], split)
            for system in args.systems:
                done += 1
                name = (args.label or system) if system == "automl" else system
                if (name, dataset, budget) in finished:
                    print(f"[{done}/{total}] {budget:g}s {dataset:<20} {name:<10} already in {out.name}")
                    continue
                options = args.automl_options if system == "automl" else "{}"
                record = run_one(system, args.suite, entry["name"], budget, args.seed, options, split)
                row = {"invocation": invocation, "machine": machine, "versions": env, "system": name,
                       "commit": commit, "seed": args.seed, "split": split,
                       "options": json.loads(options),
                       "dataset": dataset, "task": entry["task"], "budget": budget, "constant": constant,
                       **record}
                row.setdefault("fit_predict_s", record.get("process_s", math.nan))
                with out.open("a") as fh:
                    fh.write(json.dumps(row, default=str) + "\n")
                metric = MAIN_METRIC[entry["task"]]
                print(f"[{done}/{total}] {budget:g}s {dataset:<20} {name:<10} {metric}="
                      f"{row.get(metric, float('nan')):.5g} wall={row['fit_predict_s']:.1f}s "
                      f"peak={row['peak_mb']}MB best={row.get('best')} {row.get('error', '')[:120]}", flush=True)
    print()
    print(render(out, args.suite))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
