"""Estimators that misbehave in fit or predict, for the isolated-trial tests (importable by the child)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from search_spaces._budget import current_budget


class _Classifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class RunsUntilItsDeadline(_Classifier):
    """An iterative learner that would never converge: it stops only at its fit budget's deadline."""

    def fit(self, X, y):
        budget = current_budget()
        while not budget.expired():
            time.sleep(0.05)
        self.truncated_ = True
        return super().fit(X, y)


class LearnsUntilItsDeadline(ClassifierMixin, BaseEstimator):
    """A logistic regression that, like an unconverged network, trains until its fit budget's deadline."""

    def fit(self, X, y):
        budget = current_budget()
        while not budget.expired():
            time.sleep(0.05)
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline

        self.model_ = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, y)
        self.classes_, self.truncated_ = self.model_.classes_, True
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


class Raises(_Classifier):
    def fit(self, X, y):
        raise ValueError("this configuration cannot be fitted")


class PredictsNaN(_Classifier):
    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), np.nan)


class Hangs(_Classifier):
    """Sleeps in fit; with ``ignore_sigterm`` it also ignores SIGTERM, so only SIGKILL stops it."""

    def __init__(self, seconds: float = 60.0, ignore_sigterm: bool = False) -> None:
        self.seconds = seconds
        self.ignore_sigterm = ignore_sigterm

    def fit(self, X, y):
        if self.ignore_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(self.seconds)
        return super().fit(X, y)


class EatsMemory(_Classifier):
    """Allocates (and touches) ``mb`` megabytes in 50 MB steps, then holds them."""

    def __init__(self, mb: int = 1000) -> None:
        self.mb = mb

    def fit(self, X, y):
        held = []
        for _ in range(self.mb // 50):
            held.append(np.ones(50 * 2**20 // 8))
            time.sleep(0.02)
        time.sleep(30)
        return super().fit(X, y)


class KillsItself(_Classifier):
    """Ends its process from inside fit: a segfault (``how="segv"``) or ``os._exit(3)``.

    With ``orphan_pid_file`` it first forks a process that sleeps (holding the process's pipes
    open) and writes that process's id to the file.
    """

    def __init__(self, how: str = "segv", orphan_pid_file: str | None = None) -> None:
        self.how = how
        self.orphan_pid_file = orphan_pid_file

    def fit(self, X, y):
        if self.orphan_pid_file is not None:
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            with open(self.orphan_pid_file, "w") as f:
                f.write(str(pid))
        if self.how == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(3)


class Reports(ClassifierMixin, BaseEstimator):
    """Reports ``n_steps`` intermediate scores (as an iterative learner does), then fits a logistic regression."""

    def __init__(self, n_steps: int = 5) -> None:
        self.n_steps = n_steps

    def fit(self, X, y):
        budget = current_budget()
        for step in range(self.n_steps):
            budget.emit(step, 0.5 + step / 100)
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline

        self.model_ = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)
