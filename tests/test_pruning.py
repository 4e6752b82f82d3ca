"""Pruning compares a trial only with earlier trials of its own framework."""

import optuna

from automl.search._pruning import PerFrameworkPruner


def _trial(study: optuna.Study, framework: str, value: float) -> optuna.Trial:
    study.enqueue_trial({"framework": framework})
    trial = study.ask()
    assert trial.suggest_categorical("framework", ["a", "b"]) == framework
    trial.report(value, 10)
    return trial


def _study(values: dict[str, list[float]]) -> optuna.Study:
    pruner = PerFrameworkPruner(optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=0))
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for framework, vs in values.items():
        for v in vs:
            study.tell(_trial(study, framework, v), v)
    return study


def test_a_value_bad_only_against_another_framework_is_not_pruned() -> None:
    study = _study({"a": [-0.2, -0.25, -0.3], "b": [-0.9, -0.8, -0.85]})
    # -0.6 is below framework a's median but above framework b's: only a's trial is pruned.
    for framework, expected in [("b", False), ("a", True)]:
        trial = _trial(study, framework, -0.6)
        assert trial.should_prune() is expected
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)


def test_plain_median_pruner_would_have_pruned_across_frameworks() -> None:
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=0)
    )
    for framework, v in [("a", -0.2), ("a", -0.25), ("a", -0.3), ("b", -0.9)]:
        study.tell(_trial(study, framework, v), v)
    assert _trial(study, "b", -0.6).should_prune()
