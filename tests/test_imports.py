"""`import automl` must not load any heavy framework."""

import subprocess
import sys

HEAVY = ("tensorflow", "keras", "torch", "xgboost", "autokeras", "keras_tuner", "lightgbm", "catboost")


def test_import_automl_loads_no_framework() -> None:
    code = (
        "import sys, automl, recommender, search_spaces\n"
        "automl.hardware(); [search_spaces.get_adapter(n).metadata() for n in ('xgboost', 'lightgbm', 'catboost')]\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_layering_search_spaces_does_not_import_upper_layers() -> None:
    code = "import sys, search_spaces; print([m for m in ('automl', 'recommender') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
