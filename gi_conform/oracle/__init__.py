"""The conformance oracle: check any implementation against the reference (issue 4).

``gi-conform check`` and ``pytest --gi-impl SPEC`` are the front ends; this package is
their engine. Importing it costs nothing: the names below load on first use. Hypothesis
loads only when a check generates documents and jsonschema only when it validates the
protocol, so ``gi-conform argv`` (run once per case by ``cmd:`` implementations) starts
without either.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gi_conform.oracle.model import (
        Answer,
        CaseResult,
        CheckCase,
        CheckOptions,
        Failure,
        ImplInfo,
        Mode,
        Outcome,
        Verdict,
    )
    from gi_conform.oracle.runner import CheckRun, run_check

__all__ = [
    "Answer",
    "CaseResult",
    "CheckCase",
    "CheckOptions",
    "CheckRun",
    "Failure",
    "ImplInfo",
    "Mode",
    "Outcome",
    "Verdict",
    "run_check",
]

_HOME = {
    "CheckOptions": "model",
    "CheckRun": "runner",
    "run_check": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"gi_conform.oracle.{_HOME.get(name, 'model')}")
    return getattr(module, name)
