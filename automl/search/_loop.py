"""The trial loop: ask the study for a trial, run it, tell the result, until something says stop.

Trials run through Optuna's ask-and-tell interface so that the loop, not a timer thread, decides
when the next trial may start: only when it can finish before the time kept back for the refit,
while ``n_trials`` is not reached, no Ctrl-C came and (for a worker) the main process goes on.
"""

from __future__ import annotations

import logging
import time

import optuna

from automl._progress import Progress
from automl.metrics import Metric
from automl.search import _study
from automl.search._interrupts import Interrupts
from automl.search._scheduler import Scheduler
from automl.search._settings import SearchSettings
from automl.search._study_setup import best_trial, count_done
from automl.search._time_plan import TimePlan
from automl.search._trials import TrialRunner
from search_spaces import FrameworkAdapter

logger = logging.getLogger("automl")

#: How long a process of a shared study waits before checking again on trials others are running.
WAIT_SECONDS = 0.5
#: The seconds searched are written to a persistent study at most this often.
USED_EVERY_SECONDS = 2.0


class TrialLoop:
    """Runs the study's trials until the budget, ``n_trials``, Ctrl-C or the main process stops it."""

    def __init__(
        self, settings: SearchSettings, metric: Metric, adapters: dict[str, FrameworkAdapter], *,
        plan: TimePlan, scheduler: Scheduler, runner: TrialRunner, interrupts: Interrupts, progress: Progress,
        used_before: float = 0.0,
    ) -> None:
        self.settings, self.metric, self.adapters = settings, metric, adapters
        self.plan, self.scheduler, self.runner = plan, scheduler, runner
        self.interrupts, self.progress = interrupts, progress
        #: This process's trials by state (a worker's summary).
        self.mine: dict[str, int] = {}
        self._used_before = self._used_saved = used_before  # seconds searched in earlier sessions

    def run(self, study: optuna.Study) -> bool:
        """Run trials until the search stops; True if Ctrl-C interrupted it."""
        while not self.should_stop(study):
            _study.fail_stale_trials(study)  # a dead worker's trial is failed and queued again
            if self._others_finish_the_count(study):
                time.sleep(WAIT_SECONDS)  # until they finish, or their heartbeat stops and the trial is retried
                continue
            self.scheduler.next_framework(study)
            if self._run_trial(study):
                return True
        return bool(self.interrupts.count)

    def _run_trial(self, study: optuna.Study) -> bool:
        """Ask, run and tell one trial; True when Ctrl-C interrupted it."""
        trial = study.ask()
        trial_started = time.monotonic()
        value = None
        state = optuna.trial.TrialState.FAIL
        try:
            with _study.heartbeat(study, trial), self.interrupts.arm():
                value = self.runner(trial)
        except optuna.TrialPruned as e:
            trial.set_user_attr("failure", str(e) or "pruned")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            state = optuna.trial.TrialState.PRUNED
        except KeyboardInterrupt:
            trial.set_user_attr("failure", "interrupted by the user (Ctrl-C)")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if self.interrupts.aborted:
                raise
            _study.retry_trial(study, trial._trial_id)  # run again when the search is resumed
            self.interrupts.count = max(self.interrupts.count, 1)
            return True
        except Exception as e:  # a failed trial is recorded and the search goes on
            reason = f"{type(e).__name__}: {e}"
            trial.set_user_attr("failure", reason[:500])
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            logger.warning("trial %d failed: %s", trial.number, reason)
        else:
            study.tell(trial, value)
            state = optuna.trial.TrialState.COMPLETE
            self._log_trial(study, trial.number, value)
        finally:
            fw = str(trial.params.get("framework", ""))
            self.scheduler.observe(fw, time.monotonic() - trial_started, value)
        self.mine[state.name] = self.mine.get(state.name, 0) + 1
        self.record_used(study)
        best = best_trial(study)
        self.progress.trial_finished(
            None if best is None else self.metric.display(best.value),  # type: ignore[arg-type]
            None if best is None else f"{best.params.get('framework')}/{best.user_attrs.get('family')}",
        )
        return False

    def should_stop(self, study: optuna.Study) -> bool:
        if self.interrupts.count:
            return True
        if self.settings.n_trials is not None and count_done(study) >= self.settings.n_trials:
            return True
        if self.plan.no_time_for_a_trial():
            return True
        if self.settings.worker and study.user_attrs.get(_study.STATE_ATTR) == "finished":
            logger.info("the study's main process finished the search: this worker stops")
            return True
        if all(self.plan.too_late_to_load(a) for a in self.adapters.values()):
            # Otherwise every trial is pruned at once, in a tight loop, until the deadline.
            logger.info("too little time left to load %s: stopping the search", " or ".join(self.adapters))
            return True
        return False

    def _others_finish_the_count(self, study: optuna.Study) -> bool:
        """With ``n_trials`` in a shared study: the trials other processes are running complete the count."""
        if self.settings.n_trials is None or self.settings.storage is None:
            return False
        running = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))
        return running > 0 and count_done(study) + running >= self.settings.n_trials

    def record_used(self, study: optuna.Study, force: bool = False) -> None:
        """Seconds searched so far (all sessions), kept in a persistent study for resume's budget."""
        if self.settings.storage is None or self.settings.worker:
            return
        used = self._used_before + time.monotonic() - self.settings.started
        if force or used - self._used_saved >= USED_EVERY_SECONDS:
            study.set_user_attr(_study.USED_ATTR, round(used, 2))
            self._used_saved = used

    def _log_trial(self, study: optuna.Study, number: int, value: float) -> None:
        t = study.trials[number]
        best = study.best_trial
        left = self.settings.deadline - time.monotonic()
        logger.log(
            logging.INFO if self.settings.verbosity >= 2 else logging.DEBUG,
            "trial %d %s/%s %s=%.5g in %.2fs | best %.5g (%s/%s, trial %d) | %.0fs left",
            number, t.params.get("framework"), t.user_attrs.get("family"), self.metric.display_name,
            self.metric.display(value), t.user_attrs.get("fit_seconds", 0.0),
            self.metric.display(best.value), best.params.get("framework"), best.user_attrs.get("family"),
            best.number, max(left, 0.0),
        )
