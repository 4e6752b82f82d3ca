"""Ridge regression of log seconds where some measurements are lower bounds (a Tobit model).

The meta-dataset's searches ran at a 10 s budget, so many trials were cut at their deadline: a cut
fold's seconds say only that the whole fit takes *at least* that long. Leaving those trials out keeps
the fast ones (most Keras trials were cut, so its cost model saw only the quickest 11 of 130); taking
them as measurements takes lower bounds for costs. Either way the model learns costs too low, the more
so the larger the data. The censored likelihood (Tobin, 1958) uses each cut trial for what it is:

    uncensored i:  log N(y_i; mu_i, s)          censored i:  log P(Y >= y_i) = log sf((y_i - mu_i) / s)

with ``mu = intercept + Z @ coef`` on standardised inputs ``Z``, maximised with scipy's L-BFGS and a
ridge penalty on ``coef`` scaled so that, with nothing censored, the fit is the closed-form ridge.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from benchmarks.recommender_rankers import standardise
from recommender.learned import Linear


def censored_ridge(X: np.ndarray, y: np.ndarray, censored: np.ndarray, names: list[str], alpha: float) -> Linear:
    """A :class:`Linear` model of ``y`` (log10 seconds) where ``censored[i]`` marks ``y[i]`` as a lower bound."""
    censored = np.asarray(censored, dtype=bool)
    mean, scale = standardise(X)
    Z = (X - mean) / scale
    # Start from the ridge that takes every value as measured; its residual spread scales the penalty.
    intercept0 = float(y.mean())
    coef0 = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (y - intercept0))
    s0 = max(float((y - intercept0 - Z @ coef0).std()), 1e-3)
    penalty = alpha / s0**2
    exact = ~censored

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b0, coef, log_s = theta[0], theta[1:-1], theta[-1]
        s = np.exp(log_s)
        z = (y - b0 - Z @ coef) / s
        zu, zc = z[exact], z[censored]
        log_sf = stats.norm.logsf(zc)
        value = 0.5 * float(zu @ zu) + exact.sum() * log_s - float(log_sf.sum()) + 0.5 * penalty * float(coef @ coef)
        mills = np.exp(stats.norm.logpdf(zc) - log_sf)  # d(-log sf)/dz
        d_mu = np.zeros_like(z)  # d loss / d mu_i
        d_mu[exact] = -zu / s
        d_mu[censored] = -mills / s
        d_log_s = float(exact.sum() - zu @ zu - mills @ zc)
        grad = np.concatenate([[d_mu.sum()], Z.T @ d_mu + penalty * coef, [d_log_s]])
        return value, grad

    start = np.concatenate([[intercept0], coef0, [np.log(s0)]])
    fit = optimize.minimize(loss, start, jac=True, method="L-BFGS-B")
    b0, coef, s = float(fit.x[0]), fit.x[1:-1], float(np.exp(fit.x[-1]))
    return Linear(tuple(names), mean, scale, coef, b0, s, float(y.min()) - 1.0, float(y.max()) + 1.0)
