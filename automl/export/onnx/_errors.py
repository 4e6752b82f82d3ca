"""The export's error type, shared by every part of the package."""

from __future__ import annotations

from automl.errors import InputError


class OnnxExportError(InputError, NotImplementedError):
    """The model uses something the ONNX export cannot represent; the message says what and what to do.

    An :class:`~automl.errors.InputError` (a ``ValueError``) and a ``NotImplementedError``, so either
    ``except`` catches it.
    """
