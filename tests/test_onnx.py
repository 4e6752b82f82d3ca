"""ONNX export: the exported graph, run by onnxruntime, predicts what the fitted pipeline predicts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from automl.errors import InputError  # noqa: E402
from automl.export.onnx import OnnxExportError, export_onnx, onnx_feed  # noqa: E402
from automl.search._ensemble import WeightedEnsemble  # noqa: E402
from recommender import profile_dataset  # noqa: E402
from search_spaces import get_adapter  # noqa: E402
from search_spaces._base import Config  # noqa: E402
from tests.conftest import make_frame, with_target  # noqa: E402

# The native pipelines warn about the unknown categories _novel feeds them, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Found unknown categories:UserWarning")

#: Networks train for a few epochs only: parity does not need a good model.
TEST_EPOCHS = 3
ATOL = 1e-4


def _frame(task: str, n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric (one with missing values, one far from zero), string categoricals with missing values
    (3, 12 and 40 levels: the last has infrequent one-hot levels), and three kinds of two-valued column."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 1, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    shop = rng.choice([f"s{i}" for i in range(12)], size=n)
    df = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "big": rng.normal(1000.0, 50.0, size=n),
            "colour": pd.Series(colour, dtype=object),
            "shop": pd.Series(shop, dtype=object),
            "zip": pd.Series(rng.choice([f"z{i:02d}" for i in range(40)], size=n), dtype=object),
            "flag": rng.random(n) > 0.5,
            "member": rng.integers(0, 2, size=n),
            "answer": pd.Series(rng.choice(["yes", "no"], size=n), dtype=object),
        }
    )
    df.loc[df.index[::17], "colour"] = None
    df.loc[df.index[::11], "shop"] = None
    df.loc[df.index[::19], "answer"] = None
    df.loc[df.index[::13], "x2"] = np.nan
    signal = (
        2 * x1 + (colour == "red") - np.nan_to_num(df["x2"].to_numpy()) + np.isin(shop, ["s0", "s1", "s2"])
        + (df["big"].to_numpy() - 1000.0) / 50.0 + 0.5 * df["flag"].to_numpy()
    )
    return with_target(df, signal, task, rng)


def _novel(X: pd.DataFrame) -> pd.DataFrame:
    """Rows the model never saw: unknown categories and missing values where training had none."""
    rows = X.head(30).copy()
    rows.loc[rows.index[::2], "colour"] = "purple"
    rows.loc[rows.index[::3], "shop"] = "s99"
    rows.loc[rows.index[1::4], "zip"] = None
    rows.loc[rows.index[::5], "answer"] = "maybe"
    rows.loc[rows.index[1::3], "member"] = 7
    rows.loc[rows.index[::4], "x1"] = np.nan
    return rows


def _fit(framework: str, family: str, task: str, **params):
    df = _frame(task)
    spec = profile_dataset(df, "y").feature_spec()
    adapter = get_adapter(framework)
    defaults = {c.family: c for c in adapter.default_configs(spec)}
    base = dict(defaults[family].params) if family in defaults else {}
    est = adapter.build(Config(framework, family, {**base, **params}), spec, seed=0)
    if "model__max_epochs" in est.get_params():
        est.set_params(model__max_epochs=TEST_EPOCHS)
    X = df[list(spec.columns)]
    return est.fit(X, df["y"]), X, spec


def _export(model, X, spec, path, **kwargs):
    classes = getattr(model, "classes_", None) if spec.is_classification else None
    return export_onnx(
        model, path, feature_columns=list(spec.columns), feature_dtypes={c: str(X[c].dtype) for c in X.columns},
        task=spec.task, classes=classes, **kwargs,
    )


def _run(path, X: pd.DataFrame) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, onnx_feed(X, session)), strict=True))


def _assert_parity(model, X: pd.DataFrame, spec, tmp_path) -> dict[str, np.ndarray]:
    path = _export(model, X, spec, tmp_path / "model.onnx")
    assert path.exists()
    rows = pd.concat([X, _novel(X)], ignore_index=True)
    out = _run(path, rows)
    if spec.task == "regression":
        assert set(out) == {"prediction"}
        np.testing.assert_allclose(out["prediction"], model.predict(rows), atol=ATOL)
        return out
    assert set(out) == {"label", "probabilities"}
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(out["probabilities"], proba, atol=ATOL)
    top2 = np.sort(proba, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5  # exact ties may break either way in float32
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(out["label"][clear], model.predict(rows)[clear])
    return out


# -- parity, framework by framework ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "task"),
    [
        ("hgb", "binary"), ("hgb", "multiclass"), ("hgb", "regression"),
        ("rf", "binary"), ("rf", "multiclass"), ("rf", "regression"),
        ("linear", "binary"), ("linear", "multiclass"), ("linear", "regression"),
        ("extra_trees", "multiclass"),
    ],
)
def test_sklearn_parity(family: str, task: str, tmp_path) -> None:
    params = {"n_estimators": 60, "max_features": 0.5, "min_samples_leaf": 1} if family in ("rf", "extra_trees") else {}
    if task != "regression" and family == "extra_trees":
        params["class_weight"] = "none"
    model, X, spec = _fit("sklearn", family, task, **params)
    _assert_parity(model, X, spec, tmp_path)


def test_hgb_reencoding_its_categories_is_reproduced(tmp_path) -> None:
    """scikit-learn's HGB moves categorical features to the front and re-encodes them by rank."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    from search_spaces._preprocess import make_preprocessor

    df = _frame("regression")
    df["level"] = np.random.default_rng(3).choice([3, 5, 8, 13], size=len(df))  # sparse integer codes
    df["y"] += df["level"] / 5
    spec = profile_dataset(df, "y").feature_spec()
    X = df[list(spec.columns)]
    pre = make_preprocessor(spec, categorical="ordinal", impute=False)
    n_out = pre.fit_transform(X).shape[1]
    level = pre.output_indices_["num"].start + spec.numeric.index("level")  # not one of the leading codes
    hgb = HistGradientBoostingRegressor(categorical_features=[0, level], max_iter=30, random_state=0)
    model = Pipeline([("preprocess", pre), ("model", hgb)]).fit(X, df["y"])
    assert hgb.n_features_in_ == n_out
    rows = X.copy()
    rows.loc[rows.index[::7], "level"] = 4  # never seen: follows the missing values
    path = _export(model, X, spec, tmp_path / "m.onnx")
    np.testing.assert_allclose(_run(path, rows)["prediction"], model.predict(rows), atol=ATOL)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_sklearn_knn_parity(task: str, tmp_path) -> None:
    model, X, spec = _fit("sklearn", "knn", task, n_neighbors=7, weights="uniform")
    _assert_parity(model, X, spec, tmp_path)


@pytest.mark.parametrize(
    ("task", "categorical"),
    [("binary", "native"), ("multiclass", "native"), ("regression", "native"), ("multiclass", "onehot")],
)
def test_xgboost_parity(task: str, categorical: str, tmp_path) -> None:
    pytest.importorskip("xgboost")
    pytest.importorskip("onnxmltools")
    model, X, spec = _fit("xgboost", "gbtree", task, categorical=categorical)
    n_codes = len(spec.categorical) + len(spec.boolean) if categorical == "native" else 0
    assert model.named_steps["model"].n_categorical == n_codes
    _assert_parity(model, X, spec, tmp_path)


@pytest.mark.parametrize(
    ("task", "categorical"),
    [("binary", "native"), ("multiclass", "native"), ("regression", "native"), ("binary", "onehot")],
)
def test_lightgbm_parity(task: str, categorical: str, tmp_path) -> None:
    pytest.importorskip("lightgbm")
    pytest.importorskip("onnxmltools")
    model, X, spec = _fit("lightgbm", "gbdt", task, categorical=categorical)
    _assert_parity(model, X, spec, tmp_path)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_catboost_parity_with_onehot_categories(task: str, tmp_path) -> None:
    pytest.importorskip("catboost")
    model, X, spec = _fit("catboost", "oblivious", task, categorical="onehot")
    _assert_parity(model, X, spec, tmp_path)


def test_catboost_native_categoricals_are_refused(tmp_path) -> None:
    pytest.importorskip("catboost")
    model, X, spec = _fit("catboost", "oblivious", "binary", categorical="native")
    with pytest.raises(OnnxExportError, match=r"CatBoost .*native categorical.*categorical='onehot'"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("family", ["mlp", "realmlp", "tabm"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_torch_parity(task: str, family: str, tmp_path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    model, X, spec = _fit("torch", family, task)
    _assert_parity(model, X, spec, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "batch_norm"), [("binary", False), ("multiclass", True), ("regression", False)])
def test_keras_parity(task: str, batch_norm: bool, tmp_path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras_tuner")
    pytest.importorskip("tf2onnx")
    model, X, spec = _fit("keras", "mlp", task, batch_norm=batch_norm, dropout=0.2)
    _assert_parity(model, X, spec, tmp_path)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_ensemble_parity(task: str, tmp_path) -> None:
    pytest.importorskip("xgboost")
    pytest.importorskip("onnxmltools")
    members = [_fit("sklearn", "hgb", task)[0], _fit("sklearn", "linear", task)[0]]
    xgb, X, spec = _fit("xgboost", "gbtree", task)
    ensemble = WeightedEnsemble(members + [xgb], [0.5, 0.3, 0.2])
    ensemble.fitted_ = True
    _assert_parity(ensemble, X, spec, tmp_path)


def test_mixed_framework_ensemble_parity(tmp_path) -> None:
    """Members converted by torch.onnx, onnxmltools (opset 15, raised to 18) and skl2onnx side by side."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    pytest.importorskip("xgboost")
    pytest.importorskip("onnxmltools")
    net, X, spec = _fit("torch", "mlp", "binary")
    members = [net, _fit("xgboost", "gbtree", "binary")[0], _fit("sklearn", "rf", "binary", n_estimators=30)[0]]
    ensemble = WeightedEnsemble(members, [0.2, 0.4, 0.4])
    ensemble.fitted_ = True
    _assert_parity(ensemble, X, spec, tmp_path)


# -- the graph's interface -------------------------------------------------------------------------


def test_inputs_are_one_per_column_typed_by_dtype(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "hgb", "binary")
    path = _export(model, X, spec, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    types = {i.name: i.type for i in session.get_inputs()}
    assert list(types) == list(spec.columns)
    assert types["colour"] == types["answer"] == "tensor(string)"
    assert types["x1"] == types["flag"] == types["member"] == "tensor(float)"
    assert all(i.shape[1] == 1 for i in session.get_inputs())
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["automl.task"] == "binary" and "yes" in meta["automl.classes"]


def test_verify_passes_and_writes(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "linear", "regression")
    path = _export(model, X, spec, tmp_path / "sub" / "m.onnx", verify=X.head(50))
    assert path.exists() and sorted(p.name for p in path.parent.iterdir()) == ["m.onnx"]


def test_failed_verification_leaves_no_file_and_keeps_the_old_one(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "linear", "binary")
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(OnnxExportError, match="differs from the model"):
        _export(model, X, spec, target, verify=X.head(20), atol=-1.0)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# -- clear errors, raised before any file is written -----------------------------------------------


def test_datetime_columns_are_refused(tmp_path) -> None:
    df = make_frame("binary", n=120)
    spec = profile_dataset(df, "y").feature_spec()
    assert spec.datetime == ("when",)
    adapter = get_adapter("sklearn")
    model = adapter.build(adapter.default_configs(spec)[0], spec).fit(df[list(spec.columns)], df["y"])
    X = df[list(spec.columns)]
    with pytest.raises(OnnxExportError, match=r"datetime columns \['when'\].*drop the datetime columns"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_text_columns_are_refused(tmp_path) -> None:
    df = _frame("binary", n=120)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"])
    rng = np.random.default_rng(0)
    df["note"] = [" ".join(rng.choice(words, size=8)) for _ in range(len(df))]
    spec = profile_dataset(df, "y").feature_spec()
    assert spec.text == ("note",)
    X = df[list(spec.columns)]
    adapter = get_adapter("sklearn")
    model = adapter.build(Config("sklearn", "linear", {"C": 1.0, "class_weight": "none"}), spec).fit(X, df["y"])
    with pytest.raises(OnnxExportError, match=r"text columns \['note'\]"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_knn_with_distance_weights_is_refused(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "knn", "regression", n_neighbors=5, weights="distance")
    with pytest.raises(OnnxExportError, match="weights='uniform'"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_autokeras_is_refused(tmp_path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras_tuner")
    from sklearn.pipeline import Pipeline

    from search_spaces._autokeras_model import AutoKerasClassifierModel

    fitted, X, spec = _fit("sklearn", "linear", "binary")
    model = Pipeline([("preprocess", fitted.named_steps["preprocess"]), ("model", AutoKerasClassifierModel())])
    with pytest.raises(OnnxExportError, match="AutoKeras.*frameworks="):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_xgboost_converter_failure_names_native_categoricals(tmp_path, monkeypatch) -> None:
    pytest.importorskip("xgboost")
    onnxmltools = pytest.importorskip("onnxmltools")
    model, X, spec = _fit("xgboost", "gbtree", "binary")

    def fail(*args, **kwargs):
        raise RuntimeError("unsupported split")

    monkeypatch.setattr(onnxmltools, "convert_xgboost", fail)
    with pytest.raises(OnnxExportError, match=r"native categorical splits.*unsupported split.*categorical='onehot'"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_missing_converter_package_says_what_to_install(tmp_path, monkeypatch) -> None:
    pytest.importorskip("xgboost")
    model, X, spec = _fit("xgboost", "gbtree", "regression")
    monkeypatch.setitem(sys.modules, "onnxmltools", None)  # as if not installed
    with pytest.raises(ImportError, match=r"onnxmltools.*automl-recommender\[onnx\]"):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_unknown_estimator_is_refused(tmp_path) -> None:
    from sklearn.pipeline import Pipeline

    class Mystery:
        classes_ = np.array(["no", "yes"])

        def predict_proba(self, X):
            return np.zeros((len(X), 2))

    fitted, X, spec = _fit("sklearn", "linear", "binary")
    model = Pipeline([("preprocess", fitted.named_steps["preprocess"]), ("model", Mystery())])
    with pytest.raises(OnnxExportError, match="no ONNX converter for .*Mystery"):
        _export(model, X, spec, tmp_path / "m.onnx")


def test_adapter_without_a_converter_is_refused(tmp_path, monkeypatch) -> None:
    """The framework's adapter chooses the converter; one that declares none is refused, naming it."""
    from search_spaces.sklearn_adapter import SklearnAdapter

    model, X, spec = _fit("sklearn", "linear", "binary")
    monkeypatch.setattr(SklearnAdapter, "onnx_converter", None)
    with pytest.raises(
        OnnxExportError,
        match=r"framework 'sklearn' declares no ONNX converter \(FrameworkAdapter.onnx_converter is None\), "
        r"and ONNX export supports catboost, keras, lightgbm, torch, xgboost.*result\.save\(\)",
    ):
        _export(model, X, spec, tmp_path / "m.onnx")
    monkeypatch.setattr(SklearnAdapter, "onnx_converter", "no-such-converter")
    with pytest.raises(OnnxExportError, match=r"declares the ONNX converter 'no-such-converter'.*it has \["):
        _export(model, X, spec, tmp_path / "m.onnx")
    assert not any(tmp_path.iterdir())


def test_the_named_framework_chooses_the_converter(tmp_path) -> None:
    """The result passes each member's framework; the export asks that framework's adapter."""
    from types import SimpleNamespace

    from automl.result import AutoMLResult

    model, X, spec = _fit("sklearn", "linear", "binary")
    ensemble = WeightedEnsemble([model, model], [0.5, 0.5])
    ensemble.fitted_ = True
    result = SimpleNamespace(
        best_model=ensemble, feature_columns=list(spec.columns), task=spec.task, classes_=model.classes_,
        feature_dtypes={c: str(X[c].dtype) for c in X.columns}, best_framework="sklearn",
        ensemble=[{"framework": "sklearn"}, {"framework": "autokeras"}],
    )
    with pytest.raises(OnnxExportError, match="framework 'autokeras' declares no ONNX converter"):
        AutoMLResult.export_onnx(result, tmp_path / "m.onnx")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="names 1 framework.* of 2 member"):
        _export(ensemble, X, spec, tmp_path / "m.onnx", framework="sklearn")
    with pytest.raises(InputError, match="unknown framework 'nope'"):
        _export(model, X, spec, tmp_path / "m.onnx", framework="nope")
    assert not any(tmp_path.iterdir())
    result.ensemble = [{"framework": "sklearn"}, {"framework": "scikit-learn"}]  # an alias works too
    assert AutoMLResult.export_onnx(result, tmp_path / "m.onnx").exists()  # type: ignore[arg-type]


def test_bad_arguments_name_the_rule(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "linear", "binary")
    dtypes = {c: str(X[c].dtype) for c in X.columns}
    cols = list(spec.columns)
    with pytest.raises(InputError, match="task must be one of"):
        export_onnx(model, tmp_path / "m.onnx", feature_columns=cols, feature_dtypes=dtypes, task="ordinal")
    with pytest.raises(InputError, match="differ from the model's classes_"):
        export_onnx(model, tmp_path / "m.onnx", feature_columns=cols, feature_dtypes=dtypes, task="binary",
                    classes=["a", "b"])
    with pytest.raises(InputError, match=r"no entry for \['x1'\]"):
        export_onnx(model, tmp_path / "m.onnx", feature_columns=cols,
                    feature_dtypes={k: v for k, v in dtypes.items() if k != "x1"}, task="binary")
    with pytest.raises(InputError, match=r"reads columns \['x1'\]"):
        export_onnx(model, tmp_path / "m.onnx", feature_columns=[c for c in cols if c != "x1"],
                    feature_dtypes=dtypes, task="binary")
    assert not any(tmp_path.iterdir())


def test_onnx_feed_names_missing_columns(tmp_path) -> None:
    model, X, spec = _fit("sklearn", "linear", "regression")
    path = _export(model, X, spec, tmp_path / "m.onnx")
    with pytest.raises(InputError, match=r"\['shop'\]"):
        onnx_feed(X.drop(columns=["shop"]), path)


def test_import_loads_no_framework() -> None:
    heavy = ["onnx", "onnxruntime", "skl2onnx", "onnxmltools", "torch", "tensorflow", "keras", "xgboost", "lightgbm",
             "catboost"]
    code = f"import sys, automl.export.onnx; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
