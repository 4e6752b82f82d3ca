"""The search: one Optuna study across the frameworks' spaces inside a time budget.

The loop asks the study for a trial, the scheduler picks its framework, the trial runner fits it
on the folds (in a child process when isolated), the pruner stops weak trials early, and the
refit and ensemble selection turn the best trials into the final model.
"""

from automl.search._search import Search, SearchOutcome, SearchSettings

__all__ = ["Search", "SearchOutcome", "SearchSettings"]
