"""The Jinja environment every generated file is rendered in."""

from __future__ import annotations

import functools

import jinja2

from ..resources import templates_dir
from .text import attribute, call


@functools.cache
def environment() -> jinja2.Environment:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    templates.globals["call"] = call
    templates.filters["attribute"] = attribute
    return templates
