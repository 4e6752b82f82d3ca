"""One ONNX graph for a fitted result: raw columns in, predictions out (extra: ``[onnx]``)."""

from automl.export.onnx._export import OnnxExportError, export_onnx, onnx_feed

__all__ = ["OnnxExportError", "export_onnx", "onnx_feed"]
