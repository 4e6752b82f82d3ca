"""Adding a framework takes one adapter class: a toy one, registered here and nowhere else, is
ranked with reasons, searched, plotted in its colour and refused by the ONNX export by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from matplotlib.colors import to_hex, to_rgba

import automl
from automl.export.onnx import OnnxExportError
from automl.report._plots import COLOURS, framework_colours
from search_spaces import Config, FeatureSpec, FrameworkAdapter, RankingFacts, register, unregister
from search_spaces._spec import TASKS
from tests.conftest import make_frame


class ToyAdapter(FrameworkAdapter):
    """One regularised linear model with one hyper-parameter, on the library's preprocessing."""

    name = "toy"
    display_name = "Toy"
    distribution = "scikit-learn"
    import_name = "sklearn"
    tasks = frozenset(TASKS)
    relative_cost = 0.2
    prior_score = 0.55
    colour = "#17becf"

    def score_rules(self, facts: RankingFacts) -> list[tuple[float, str]]:
        rules = [(0.0, "a toy: one regularised linear model")]
        if facts.n_rows < 1_000:
            rules.append((0.01, f"only {facts.n_rows:,} rows: a linear model may be enough"))
        return rules

    def families(self, spec: FeatureSpec) -> list[str]:
        return ["linear"]

    def suggest(self, trial: Any, spec: FeatureSpec) -> Config:
        family = self.suggest_family(trial, spec)
        strength = self.scoped(trial, family).suggest_float("strength", 1e-2, 1e2, log=True)
        return Config(self.name, family, {"strength": strength})

    def default_configs(self, spec: FeatureSpec) -> list[Config]:
        return [Config(self.name, "linear", {"strength": 1.0})]

    def build(self, config: Config, spec: FeatureSpec, *, device: str = "cpu", seed: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        from search_spaces._preprocess import make_preprocessor, with_preprocessing

        strength = config.params["strength"]
        model = LogisticRegression(C=1 / strength, max_iter=500) if spec.is_classification else Ridge(alpha=strength)
        return with_preprocessing(make_preprocessor(spec, categorical="onehot", scale=True), model)


@pytest.fixture
def toy() -> Iterator[type[ToyAdapter]]:
    register(ToyAdapter)
    try:
        yield ToyAdapter
    finally:
        unregister("toy")


def test_ranked_with_its_prior_rules_and_reasons(toy: type[ToyAdapter]) -> None:
    rec = automl.recommend(make_frame("binary", n=120), "y", frameworks=["sklearn", "toy"], time_budget=30)
    by_name = {c.framework: c for c in rec.candidates}
    assert set(by_name) == {"sklearn", "toy"}
    cand = by_name["toy"]
    assert cand.display_name == "Toy" and cand.device == "cpu"
    assert cand.score == pytest.approx(0.55 + 0.01)
    assert cand.reasons[:2] == ("a toy: one regularised linear model", "only 120 rows: a linear model may be enough")
    assert any(r.startswith("predicted") for r in cand.reasons)


def test_searched_plotted_and_refused_by_onnx_export(toy: type[ToyAdapter], tmp_path: Any) -> None:
    # No datetime column: the export could translate everything else, so only the framework refuses it.
    df = make_frame("binary", n=120).drop(columns="when")
    result = automl.fit(
        df, "y", frameworks=["toy"], time_budget=5, n_trials=3, n_jobs=1,
        ensemble=False, verbosity=0, search_options={"cv_repeats": 1},
    )
    board = result.leaderboard
    assert result.best_framework == "toy"
    assert (board["framework"] == "toy").sum() >= 1 and set(board["framework"]) == {"toy"}
    assert (board["state"] == "COMPLETE").any()
    assert result.predict(df.head(10)).shape == (10,)

    fig = result.plot_history()
    drawn = {c.get_label(): c for c in fig.axes[0].collections}
    assert "toy" in drawn
    assert tuple(drawn["toy"].get_facecolor()[0][:3]) == pytest.approx(to_rgba("#17becf")[:3])

    with pytest.raises(OnnxExportError, match="framework 'toy' declares no ONNX converter"):
        result.export_onnx(tmp_path / "toy.onnx")
    assert not (tmp_path / "toy.onnx").exists()


def test_a_framework_without_a_colour_takes_a_free_one_of_the_cycle(
    toy: type[ToyAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib import rcParams

    assert COLOURS["toy"] == "#17becf"
    monkeypatch.setattr(toy, "colour", None)
    colours = framework_colours()
    cycle = [to_hex(c) for c in rcParams["axes.prop_cycle"].by_key()["color"]]
    others = {colour for name, colour in colours.items() if name != "toy"}
    assert colours["toy"] in cycle and colours["toy"] not in others
    assert COLOURS["toy"] == colours["toy"]
