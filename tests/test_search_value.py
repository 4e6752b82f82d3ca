"""The recommendation's value inside the search: the gap-closed figure of benchmarks.search_value."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmarks import search_value


def test_gap_closed_is_zero_at_turns_and_one_at_the_oracle():
    table = pd.DataFrame({"recommended": [0.9, 0.8], "turns": [0.9, 0.8], "oracle": [1.0, 1.0]})
    assert search_value.gap_figures(table)["gap"] == pytest.approx(0.0)
    table["recommended"] = table["oracle"]
    assert search_value.gap_figures(table)["gap"] == pytest.approx(1.0)
    table["recommended"] = [0.95, 0.9]
    fig = search_value.gap_figures(table)
    assert fig["gap"] == pytest.approx(0.5) and fig["low"] <= 0.5 <= fig["high"]


def test_report_normalises_each_dataset_among_the_three_plans(tmp_path):
    rows = []
    for dataset, scores in {"a": (0.9, 0.8, 1.0), "b": (0.7, 0.7, 0.7)}.items():
        for plan, auc in zip(search_value.PLANS, scores, strict=True):
            rows.append({"dataset": dataset, "task": "binary", "budget": 10.0, "plan": plan, "auc": auc,
                         "constant": {"auc": 0.5}, "wall_s": 10.0, "best": "x"})
    path = tmp_path / "search_value.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    text = search_value.render(path)
    assert "| recommended | 0.9000 | 1 |" in text and "| turns | 0.8000 | 1 |" in text
    assert "| oracle | 1.0000 | 2 |" in text
    assert "share of the gap closed (turns 0%, oracle 100%): **50.0%**" in text
    assert path.with_suffix(".md").read_text() == text


def test_meta_winners_takes_each_datasets_best_framework(tmp_path):
    runs = tmp_path / "runs.jsonl"
    runs.write_text("\n".join(json.dumps(r) for r in [
        {"dataset": "a", "framework": "xgboost", "normalised_score": 0.9},
        {"dataset": "a", "framework": "torch", "normalised_score": 1.0},
        {"dataset": "b", "framework": "sklearn", "normalised_score": None},
    ]))
    assert search_value.meta_winners(runs) == {"a": "torch"}


def test_no_gap_when_the_oracle_plan_does_not_beat_turns(tmp_path):
    rows = [{"dataset": "a", "task": "binary", "budget": 10.0, "plan": plan, "auc": auc, "constant": {"auc": 0.5},
             "wall_s": 10.0, "best": "x"} for plan, auc in zip(search_value.PLANS, (0.9, 1.0, 0.8), strict=True)]
    path = tmp_path / "search_value.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert "share of the gap closed: **undefined**: the oracle plan" in search_value.render(path)
