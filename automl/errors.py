"""Error types users can catch."""

from __future__ import annotations


class InputError(ValueError):
    """The arguments or data passed in break a rule; the message names what, the rule and the fix."""


class NotFittedError(RuntimeError):
    """A result or estimator was used before it was fitted."""


class UserError(InputError):
    """A mistake in the command line or an input file: the CLI reports it without a traceback."""
