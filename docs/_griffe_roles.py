"""A griffe extension for the API reference: Sphinx roles in docstrings become code spans.

The docstrings cross-reference with reStructuredText roles (``:func:`resume```,
``:class:`~automl.errors.InputError```), which Markdown would print as they are. This shows the
target as code instead (``~`` keeps the last name only, as Sphinx does).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|exc|data|obj|const):`(~?)([^`]+)`")


def _plain(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrites ``:role:`target``` as ```target``` in every docstring of the loaded packages."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_plain, obj.docstring.value)
