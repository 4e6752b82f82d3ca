"""`import automl` must not load any heavy framework."""

import subprocess
import sys

# scikit-learn too: it alone took `import automl` from 0.6 s to 1.3 s when two search modules imported it at load.
HEAVY = ("tensorflow", "keras", "torch", "xgboost", "autokeras", "keras_tuner", "lightgbm", "catboost", "sklearn")


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


def test_no_import_cycle_inside_the_packages() -> None:
    from tests._imports_graph import cycles, import_graph

    assert cycles(import_graph()) == []


def test_layering_holds_in_the_source_lazy_imports_included() -> None:
    from tests._imports_graph import import_graph

    layer = {"search_spaces": 0, "recommender": 1, "automl": 2}
    upward = [
        f"{module} imports {dep}"
        for module, deps in import_graph().items()
        for dep in deps
        if layer[dep.split(".")[0]] > layer[module.split(".")[0]]
    ]
    assert upward == []


def test_no_module_over_500_lines_and_no_function_over_80() -> None:
    import ast

    from tests._imports_graph import PACKAGES, ROOT

    too_long = []
    for path in sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")):
        source = path.read_text()
        name = path.relative_to(ROOT)
        if source.count("\n") > 500:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_long == []
