"""Ask which framework suits a dataset on this machine, without training anything.

    python examples/recommend_only.py
"""

import numpy as np
import pandas as pd

import automl

rng = np.random.default_rng(0)
n = 50_000
df = pd.DataFrame(
    {
        "age": rng.integers(18, 90, n),
        "income": rng.lognormal(10, 1, n),
        "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n),
        "signed_up": pd.date_range("2020-01-01", periods=n, freq="min"),
        "customer_id": np.arange(n),
    }
)
df["churned"] = rng.random(n) < 0.1

print(automl.profile(df, "churned").summary())
print()
print(automl.recommend(df, "churned", time_budget=120).summary())
