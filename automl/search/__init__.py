"""The search: one Optuna study across the frameworks' spaces inside a time budget.

The loop asks the study for a trial, the scheduler picks its framework, the trial runner fits it
on the folds (in a child process when isolated), the pruner stops weak trials early, and the
refit and ensemble selection turn the best trials into the final model. The run's specification
(:class:`RunSpec`) lives in the study, so that resume and workers rebuild the same search.
"""

from automl.search._search import Search
from automl.search._settings import SearchOutcome, SearchSettings
from automl.search._spec import RunSpec

__all__ = ["RunSpec", "Search", "SearchOutcome", "SearchSettings"]
