"""The docs' generator (``docs/_ext/gi_docs.py``) imported for the tests (it is no part
of the package: Sphinx loads it from ``docs/_ext``)."""

from __future__ import annotations

import importlib.util
import sys

from tests.helpers import ROOT

_PATH = ROOT / "docs" / "_ext" / "gi_docs.py"
_SPEC = importlib.util.spec_from_file_location("gi_docs", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
gi_docs = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("gi_docs", gi_docs)
_SPEC.loader.exec_module(gi_docs)

__all__ = ["gi_docs"]
