"""Cost-aware choice of the next trial's framework.

The study's sampler would spread trials over frameworks by score alone, so a framework whose trial
costs 20 s takes as many turns as one that costs 0.2 s, and eats a small budget. This allocator
follows FLAML's *estimated cost for improvement* (ECI; Wang et al., "FLAML: a fast and lightweight
AutoML library", MLSys 2021): for each framework, the seconds it is expected to need before its next
improvement, and, for one behind the leader, before it catches up at its recent rate of progress.
The next framework is drawn with probability proportional to ``1 / ECI``; before a framework has a
result its ECI is its predicted seconds per trial (the recommender's cost model, then the median of
its own trials), so cheap frameworks are tried first and slow ones only when time allows.
Frameworks whose typical trial would not finish in the time left are not drawn (when none would,
the cheapest is: the trial's own deadline then truncates it).

Until a framework has a result, its draw weight is also multiplied by its *prior*: the share of the
meta-dataset's similar datasets where it reached the best candidate's score (the recommender's
evidence, ``Candidate.top_share``), relative to the highest such share, floored at ``MIN_PRIOR``. A
network that reached the best on 1 of 15 similar datasets, against a booster on 6, is drawn about
a sixth as often for its first trial; once it has a result, its own progress decides.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

#: A framework is drawn only when its typical trial fits this many times into the time left.
FIT_FACTOR = 1.0
#: Floor on any ECI, so that one lucky framework cannot take every turn.
MIN_ECI_SECONDS = 0.05
#: Floor on a framework's prior, so that evidence never rules a candidate out of the search.
MIN_PRIOR = 0.1


def priors(top_shares: Mapping[str, float | None], frameworks: Collection[str]) -> dict[str, float]:
    """Each framework's prior: its top share over the highest among ``frameworks``, at least
    ``MIN_PRIOR``; 1 for all when none has evidence, and for one without evidence."""
    known = {f: float(v) for f, v in top_shares.items() if f in frameworks and v is not None}
    high = max(known.values(), default=0.0)
    if high <= 0:
        return {f: 1.0 for f in frameworks}
    return {f: max(MIN_PRIOR, known[f] / high) if f in known else 1.0 for f in frameworks}


@dataclass
class _Arm:
    predicted: float  # seconds per trial from the cost model, until trials say otherwise
    spent: float = 0.0
    trials: int = 0
    seconds: list[float] = field(default_factory=list)
    best: float = -math.inf
    prev_best: float = -math.inf
    spent_at_best: float = 0.0
    spent_at_prev_best: float = 0.0

    @property
    def cost(self) -> float:
        """Typical seconds per trial: the median observed, else the prediction."""
        return float(np.median(self.seconds)) if self.seconds else self.predicted


class CostAwareAllocator:
    def __init__(self, predicted_seconds: dict[str, float], seed: int = 0,
                 prior: Mapping[str, float] | None = None) -> None:
        self.arms = {f: _Arm(max(float(s), MIN_ECI_SECONDS)) for f, s in predicted_seconds.items()}
        self.rng = np.random.default_rng(seed)
        self.prior = {f: float((prior or {}).get(f, 1.0)) for f in self.arms}

    def untried(self, framework: str) -> bool:
        """No result yet (its prior still weighs on its draws)."""
        return not math.isfinite(self.arms[framework].best)

    def observe(self, framework: str, seconds: float, value: float | None) -> None:
        """A finished trial: its wall seconds and its score (None when it failed or was pruned)."""
        arm = self.arms.get(framework)
        if arm is None:
            return
        arm.spent += seconds
        arm.trials += 1
        arm.seconds.append(seconds)
        if value is not None and math.isfinite(value) and value > arm.best:
            arm.prev_best, arm.spent_at_prev_best = arm.best, arm.spent_at_best
            arm.best, arm.spent_at_best = value, arm.spent

    def eci(self) -> dict[str, float]:
        """Estimated seconds each framework needs to improve (on the leader, for those behind)."""
        leader = max((a.best for a in self.arms.values()), default=-math.inf)
        out = {}
        for name, arm in self.arms.items():
            if not math.isfinite(arm.best):
                # No result yet: one trial's cost (a framework that only failed gets dearer each time).
                out[name] = arm.cost * (1 + arm.trials)
                continue
            # Seconds since the last improvement, or what the last improvement took, whichever is more.
            since = arm.spent - arm.spent_at_best
            took = arm.spent_at_best - arm.spent_at_prev_best
            eci = max(since, took, arm.cost)
            if arm.best < leader:
                gain = arm.best - arm.prev_best if math.isfinite(arm.prev_best) else 0.0
                if gain > 0 and took > 0:
                    eci = max(eci, (leader - arm.best) / (gain / took))  # catch up at the recent rate
                else:
                    eci = max(eci, 2 * arm.spent)
            out[name] = max(eci, MIN_ECI_SECONDS)
        return out

    def choose(self, seconds_left: float, allowed: Collection[str] | None = None) -> str:
        """The next framework among ``allowed`` (default: all); the cheapest when no framework's
        typical trial fits in ``seconds_left``."""
        arms = [f for f in self.arms if allowed is None or f in allowed] or list(self.arms)
        eci = {f: e for f, e in self.eci().items() if f in arms and self.arms[f].cost * FIT_FACTOR <= seconds_left}
        if not eci:
            return min(arms, key=lambda f: self.arms[f].cost)
        names = list(eci)
        weights = np.array([(self.prior[f] if self.untried(f) else 1.0) / eci[f] for f in names])
        return str(names[int(self.rng.choice(len(names), p=weights / weights.sum()))])


class UniformAllocator(CostAwareAllocator):
    """The baseline the cost-aware allocation is measured against: frameworks take turns, whatever
    their cost or progress (a framework whose typical trial would not finish in time is skipped)."""

    def __init__(self, predicted_seconds: dict[str, float], seed: int = 0,
                 prior: Mapping[str, float] | None = None) -> None:
        super().__init__(predicted_seconds, seed)  # turns ignore any prior
        self._turn = 0

    def choose(self, seconds_left: float, allowed: Collection[str] | None = None) -> str:
        names = [f for f in self.arms if allowed is None or f in allowed] or list(self.arms)
        for k in range(len(names)):
            name = names[(self._turn + k) % len(names)]
            if self.arms[name].cost * FIT_FACTOR <= seconds_left:
                self._turn = (self._turn + k + 1) % len(names)
                return name
        return min(names, key=lambda f: self.arms[f].cost)
