"""Implementations that game a score instead of converting: the headline must not reward them.

``reject_everything`` refuses every document; ``accept_everything`` is the reference on
valid documents and accepts every invalid one too (with an empty argv, or the document
written back unchanged in round-trip mode, or a bare verdict). Both follow the
``python:MODULE:FUNCTION`` contract; ``REJECT_COMMAND`` is the first as a ``cmd:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gi_conform.oracle.impls import reference_answer

Reply = dict[str, object]

REJECT_COMMAND = "cmd:echo 'error: refused' >&2; exit 1; : {}"
"""A ``cmd:`` that rejects every document deliberately (exit 1, a diagnostic on stderr)."""


def reject_everything(case: Mapping[str, Any]) -> Reply:
    return {"accepted": False, "message": "error: refused"}


def accept_everything(case: Mapping[str, Any]) -> Reply:
    """Right on every valid document; accepts the invalid ones as a verdict only."""
    reply = reference_answer(case)
    if reply.get("accepted") is True:
        return reply
    if case.get("mode") == "roundtrip":
        return {"accepted": True, "xml": None}
    return {"accepted": True, "argv": []}


def skip_everything(case: Mapping[str, Any]) -> Reply:
    """Declines every document: nothing is checked, so the run must not pass."""
    return {"skipped": True, "reason": "not supported"}
