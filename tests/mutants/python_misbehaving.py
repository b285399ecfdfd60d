"""``python:`` implementations whose replies are no answer, or hide a crash.

An exception escaping a function is already a crash; these return instead:
  not_a_mapping       a list, not a run reply
  malformed           ``{"accepted": "yes"}``: none of the reply shapes
  hello_argv          accepted, with an argv that holds no QEMU option
  stack_as_rejection  catches its own exception and returns the traceback as a rejection
  prose_xml           round-trip mode: accepted, with ``xml`` that is no XML at all
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from tests.mutants.mutants import reference


def not_a_mapping(case: Mapping[str, Any]) -> object:
    return ["-numa", "node,nodeid=0"]


def malformed(case: Mapping[str, Any]) -> dict[str, object]:
    return {"accepted": "yes"}


def hello_argv(case: Mapping[str, Any]) -> dict[str, object]:
    return {"accepted": True, "argv": ["hello", "world"]}


def stack_as_rejection(case: Mapping[str, Any]) -> dict[str, object]:
    try:
        cells: dict[str, int] = {}
        return {"accepted": True, "argv": [str(cells["cells"])]}
    except KeyError:
        return {"accepted": False, "message": traceback.format_exc()}


def prose_xml(case: Mapping[str, Any]) -> dict[str, object]:
    reply = reference(case)
    if reply.get("accepted") is True:
        return {"accepted": True, "xml": "the document, written back"}
    return reply
