"""ONNX export: one self-contained graph from the raw feature columns to the fitted model's predictions.

    >>> from automl.export.onnx import export_onnx, onnx_feed
    >>> export_onnx(result.best_model, "model.onnx", feature_columns=result.feature_columns,
    ...             feature_dtypes=result.feature_dtypes, task=result.task, classes=result.classes_)
    >>> session = onnxruntime.InferenceSession("model.onnx")
    >>> label, proba = session.run(None, onnx_feed(new_df, session))

(``result.export_onnx("model.onnx")`` does the first step.) Needs the ``[onnx]`` extra.

**Inputs**, one per feature column, shape ``[N, 1]`` (the skl2onnx convention): ``tensor(float)`` for
numeric columns and for categorical/boolean columns whose pandas dtype is numeric or bool (missing =
NaN; booleans as 0/1), ``tensor(string)`` for the other categorical columns (missing =
``"__missing__"``, the marker the library's own preprocessing uses). :func:`onnx_feed` turns a
DataFrame into exactly that. **Outputs**: ``label`` [N] and ``probabilities`` [N, n_classes] (float,
columns in ``classes`` order) for classification; ``prediction`` [N] (float) for regression.

The parts, one module each:

- ``_preprocessing``: the fitted ``ColumnTransformer`` as standard ONNX ops written here.
- ``_converters``: which converter applies to an estimator. Each framework adapter names one in
  ``FrameworkAdapter.onnx_converter``; an adapter that names none is refused before anything is
  written. The writers are in ``_estimators`` (skl2onnx, onnxmltools for XGBoost and LightGBM,
  CatBoost's own export, ``torch.onnx.export``, Keras' tf2onnx export) and ``_hgb`` (histogram
  gradient boosting, written here because skl2onnx ignores its categorical splits).
- ``_heads``: the weighted sum of an ensemble's members and the named outputs.
- ``_graph``: the graph being written, and joining the parts with ``onnx.compose``; an ensemble's
  members share the inputs.
- ``_export``: the two public functions; everything is built in memory and checked before the file
  is written (through a temporary file and a rename), so a failed export leaves no file.

Computation is in float32, as in skl2onnx: expect agreement with the native model to about 1e-5,
less for features whose magnitude dwarfs their spread.
"""

from automl.export.onnx._errors import OnnxExportError
from automl.export.onnx._export import export_onnx, onnx_feed

__all__ = ["OnnxExportError", "export_onnx", "onnx_feed"]
