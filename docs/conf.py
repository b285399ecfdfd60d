"""Sphinx configuration: MyST Markdown pages, the furo theme, and ``gi_docs``, which
writes the reference (CLI, rules, invariants, schemas, corpus, findings) and every count
from the repository at build time, so no figure in the docs is typed by hand."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS / "_ext"), str(DOCS.parent)]

import gi_docs  # noqa: E402 (the path above first)

project = "gi-conform"
author = "the gi-conform authors"
copyright = "the gi-conform authors"
release = gi_docs.version()

extensions = ["myst_parser", "gi_docs"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext", "examples"]
myst_enable_extensions = ["substitution", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_substitutions = gi_docs.substitutions()

html_theme = "furo"
html_title = f"gi-conform {release}"
html_static_path: list[str] = []
smartquotes = False  # code-like text (JSON, quotes in messages) stays as written
