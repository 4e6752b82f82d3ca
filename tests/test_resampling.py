"""Validation plans: repeated 5-fold on small data, 3-fold up to 10k rows, a holdout above."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.search._resampling import CV5_REPEATS, fits_per_trial, make_resampling


def test_small_data_repeats_the_five_folds_with_new_partitions():
    y = pd.Series(np.repeat([0, 1, 2], 40))
    plan = make_resampling(y, classification=True, seed=0)
    assert plan.kind == "cv" and plan.repeats == CV5_REPEATS and plan.n_splits == 5 * CV5_REPEATS
    assert plan.describe() == f"stratified 5-fold cross-validation, repeated {CV5_REPEATS} times"
    for r in range(CV5_REPEATS):
        folds = plan.splits[5 * r: 5 * (r + 1)]
        held_out = np.sort(np.concatenate([va for _, va in folds]))
        assert np.array_equal(held_out, np.arange(len(y)))  # each repeat holds every row out once
        for _, va in folds:
            assert sorted(np.bincount(y.iloc[va])) == [8, 8, 8]  # stratified
    first, second = plan.splits[0][1], plan.splits[5][1]
    assert not np.array_equal(np.sort(first), np.sort(second))  # a new partition each repeat
    assert fits_per_trial(len(y)) == 4.0 * CV5_REPEATS


def test_larger_data_is_not_repeated():
    y = pd.Series(np.arange(3000, dtype=float))
    plan = make_resampling(y, classification=False, seed=0)
    assert (plan.kind, plan.n_splits, plan.repeats) == ("cv", 3, 1)
    assert plan.describe() == "3-fold cross-validation"
    holdout = make_resampling(pd.Series(np.arange(20_000, dtype=float)), classification=False, seed=0)
    assert holdout.kind == "holdout" and holdout.repeats == 1


@pytest.mark.slow
@pytest.mark.cv_repeats
def test_fit_draws_small_data_cross_validation_three_times_by_default():
    import automl
    from tests.conftest import make_frame

    result = automl.fit(make_frame("binary", n=120), "y", n_trials=1, frameworks=["sklearn"], verbosity=0)
    assert result.validation == (f"stratified 5-fold cross-validation, repeated {CV5_REPEATS} times (the final "
                                 "model averages the first repeat's 5 fold models, a network's all 15, no refit)")
