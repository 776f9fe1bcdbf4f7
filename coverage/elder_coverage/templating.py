"""Jinja2 templates with autoescape for every HTML page and fragment elder-coverage writes.

The rule: a template is always our own source text, and data (names, codes, notes) enters only
as a template *variable*, escaped on output. No string from the data is ever compiled as a
template, so ``{{ 7*191 }}`` in a facility name stays ``{{ 7*191 }}``. Values placed inside
``<script>`` go through the ``js`` filter (:func:`js_literal`), never through HTML escaping.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jinja2
from markupsafe import Markup

_JS_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def js_literal(obj: Any) -> str:
    """JSON text of ``obj`` that is safe to paste inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&`` and ``'`` are written as ``\\uXXXX`` escapes, so no value can close
    the script block or open a comment; NaN is refused (it is not JSON).
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in _JS_ESCAPES.items():
        text = text.replace(ch, esc)
    return text


ENV = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["js"] = lambda value: Markup(js_literal(value))


@functools.cache
def _compiled(source: str) -> jinja2.Template:
    return ENV.from_string(source)


def render(source: str, /, **context: Any) -> str:
    """Render one of our template sources with ``context``; every value is autoescaped.

    Parameters
    ----------
    source : str
        Template text written in this package (a module constant), never data.
    **context
        Values, escaped on output unless marked :class:`markupsafe.Markup`.
    """
    return _compiled(source).render(**context)


__all__ = ["ENV", "Markup", "js_literal", "render"]
