"""The error a run directory that cannot be loaded raises (shared by the model and run-directory modules)."""

from __future__ import annotations

from automl.errors import InputError


class RunDirectoryError(InputError):
    """A run directory that cannot be loaded: missing, tampered, incompatible or from a newer format."""
