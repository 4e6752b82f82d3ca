"""Quick start: profile, recommend, search and predict on scikit-learn's bundled wine data.

    python examples/quickstart.py            # 30 s budget
    python examples/quickstart.py 10         # another budget, in seconds
"""

import logging
import sys

from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

import automl

logging.basicConfig(level=logging.INFO, format="%(message)s")
budget = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0

df = load_wine(as_frame=True).frame
train, test = train_test_split(df, test_size=0.25, random_state=0, stratify=df["target"])

print(automl.hardware().summary())
print(automl.profile(train, "target").summary())
print(automl.recommend(train, "target", time_budget=budget).summary())

result = automl.fit(train, "target", time_budget=budget)
print(result.summary())
print(result.leaderboard.drop(columns=["params"]).head(10).to_string(index=False))

accuracy = (result.predict(test) == test["target"]).mean()
print(f"holdout accuracy: {accuracy:.3f}")
print(result.predict_proba(test).head())
