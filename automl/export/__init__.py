"""Exports of a fitted model to other runtimes (ONNX)."""
