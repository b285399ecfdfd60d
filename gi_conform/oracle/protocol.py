"""The line-delimited JSON protocol between the harness and an implementation.

Modelled on bowtie's: ``start`` (version check, implementation info), ``run`` (one case,
one reply with the same ``seq``), ``stop``. Every message has a JSON Schema in
``reference/protocol/``; the version is an integer so an implementation can refuse a
harness it does not understand. The same replies serve ``python:`` implementations
in-process, so one decoder reads both.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from gi_conform.oracle.contract import crash_signature, unreadable_argv, unreadable_xml
from gi_conform.oracle.model import Answer, ErrorKind, ImplInfo, Verdict
from gi_conform.resources import reference_dir
from gi_conform.rules import catalogue

__all__ = [
    "MESSAGES",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "decode_run_line",
    "decode_run_reply",
    "decode_start_reply",
    "rule_ids_in",
    "run_request",
    "schema",
    "schema_problems",
    "start_request",
    "stop_request",
]

PROTOCOL_VERSION = 1
MESSAGES = ("start", "start-reply", "run", "run-reply", "stop")
"""Every message name; each has ``reference/protocol/NAME.json``."""

_RULE_ID = re.compile(r"\b[A-Z]+(?:-[A-Z0-9]+)+\b")


class ProtocolError(ValueError):
    """Raised when a reply does not follow the protocol; the message says how."""


@dataclass(frozen=True)
class _Line:
    """Helper for building request lines with stable key order."""

    payload: Mapping[str, object]

    def encode(self) -> bytes:
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def start_request() -> bytes:
    return _Line({"cmd": "start", "version": PROTOCOL_VERSION}).encode()


def run_request(seq: int, case_id: str, xml: str, profile: str, mode: str = "argv") -> bytes:
    """A run line; ``mode`` is written only when it is not ``argv`` (so argv-mode lines
    are exactly what implementations written before round trips expect)."""
    case: dict[str, str] = {"id": case_id, "xml": xml, "profile": profile}
    if mode != "argv":
        case["mode"] = mode
    return _Line({"cmd": "run", "seq": seq, "case": case}).encode()


def stop_request() -> bytes:
    return _Line({"cmd": "stop"}).encode()


@cache
def schema(name: str) -> Mapping[str, Any]:
    """The JSON Schema of one message (see :data:`MESSAGES`)."""
    if name not in MESSAGES:
        raise KeyError(f"no protocol message named {name!r}")
    path = reference_dir() / "protocol" / f"{name}.json"
    loaded: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def schema_problems(name: str, message: object) -> list[str]:
    """How ``message`` breaks its schema, most relevant first (needs ``jsonschema``)."""
    # Imported by name: jsonschema ships no type stubs, and only this option needs it.
    jsonschema = importlib.import_module("jsonschema")
    validator = jsonschema.Draft202012Validator(schema(name))
    errors = list(validator.iter_errors(message))
    best = jsonschema.exceptions.best_match(errors)
    if best is None:
        return []
    ordered = [best, *(error for error in errors if error is not best)]
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in ordered
    ]


def _load(line: bytes) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError(f"reply is not JSON: {_preview(line)}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"reply is not a JSON object: {_preview(line)}")
    return data


def _preview(line: bytes, limit: int = 120) -> str:
    text = line.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def decode_start_reply(line: bytes, *, validate: bool = False) -> ImplInfo:
    """The implementation's info from its ``start`` reply; checks the version."""
    data = _load(line)
    if validate:
        problems = schema_problems("start-reply", data)
        if problems:
            raise ProtocolError("start reply breaks its schema: " + "; ".join(problems))
    version = data.get("version")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"implementation speaks protocol version {version!r}, the harness {PROTOCOL_VERSION}"
        )
    info = data.get("implementation")
    if not isinstance(info, dict) or not isinstance(info.get("name"), str):
        raise ProtocolError("start reply lacks implementation.name")
    dialects = info.get("dialects")
    modes = info.get("modes")
    return ImplInfo(
        name=info["name"],
        version=str(info.get("version", "")),
        dialects=tuple(str(d) for d in dialects) if isinstance(dialects, list) else None,
        language=str(info.get("language", "")),
        issues=str(info.get("issues", "")),
        modes=tuple(str(m) for m in modes) if isinstance(modes, list) else None,
    )


def decode_run_reply(
    data: Mapping[str, Any], seq: int | None, *, validate: bool = False, mode: str = "argv"
) -> Answer:
    """The answer a ``run`` reply (already parsed) carries.

    ``seq`` None skips the sequence check (in-process replies need not carry one). In
    ``argv`` mode an accepted reply needs ``argv``; in ``roundtrip`` mode it carries the
    document written back in ``xml``, or nothing more (a verdict-only implementation).
    Raises :class:`ProtocolError` when the reply has none of the four shapes, or an
    accepted one cannot be read (an argv without a QEMU option, ``xml`` that is no XML).
    A rejected reply whose message is a runtime's stack is an errored answer (``crash``):
    a crash signature is never a rejection (:mod:`gi_conform.oracle.contract`).
    """
    if validate:
        payload = dict(data)
        if seq is None:
            payload.setdefault("seq", 0)
        problems = schema_problems("run-reply", payload)
        if problems:
            raise ProtocolError("run reply breaks its schema: " + "; ".join(problems))
    if seq is not None and data.get("seq") != seq:
        raise ProtocolError(f"reply seq {data.get('seq')!r} does not match request seq {seq}")
    if data.get("errored") is True:
        context = data.get("context", "")
        text = context if isinstance(context, str) else json.dumps(context, indent=1)
        return Answer(Verdict.ERRORED, context=text, error_kind=ErrorKind.REPORTED)
    if data.get("skipped") is True:
        reason = data.get("reason", "")
        issue = data.get("issue_url")
        text = str(reason) + (f" ({issue})" if isinstance(issue, str) and issue else "")
        return Answer(Verdict.SKIPPED, reason=text)
    accepted = data.get("accepted")
    if accepted is True:
        return _accepted(data, mode)
    if accepted is False:
        message = data.get("message", "")
        if not isinstance(message, str):
            raise ProtocolError("rejected reply needs message, a string")
        rules = data.get("rules")
        if rules is not None and (
            not isinstance(rules, list) or not all(isinstance(r, str) for r in rules)
        ):
            raise ProtocolError("rejected reply's rules must be a list of strings")
        runtime = crash_signature(message)
        if runtime is not None:
            # An implementation that catches everything and returns the stack has crashed.
            context = f"{runtime} in a rejected reply's message, not a rejection:\n{message}"
            return Answer(Verdict.ERRORED, context=context, error_kind=ErrorKind.CRASH)
        return Answer(
            Verdict.REJECTED,
            message=message,
            rules=tuple(rules) if rules is not None else rule_ids_in(message),
        )
    raise ProtocolError(
        "reply is none of accepted/rejected/skipped/errored: "
        + _preview(json.dumps(dict(data)).encode())
    )


def _accepted(data: Mapping[str, Any], mode: str) -> Answer:
    """An accepted reply: the argv, or in round-trip mode the document (or nothing)."""
    if mode != "argv":
        xml = data.get("xml")
        if "xml" not in data or (xml is not None and not isinstance(xml, str)):
            raise ProtocolError(
                "accepted reply in roundtrip mode needs xml: the document, or null (a verdict)"
            )
        problem = unreadable_xml(xml) if xml is not None else None
        if problem is not None:
            raise ProtocolError(f"the accepted reply's xml: {problem}")
        return Answer(Verdict.ACCEPTED, xml=xml)
    argv = data.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ProtocolError("accepted reply needs argv, a list of strings")
    problem = unreadable_argv(argv, json.dumps(argv), "the accepted reply's argv")
    if problem is not None:
        raise ProtocolError(problem)
    return Answer(Verdict.ACCEPTED, argv=tuple(argv))


def decode_run_line(line: bytes, seq: int, *, validate: bool = False, mode: str = "argv") -> Answer:
    """The answer of one reply line from a ``jsonl:`` implementation."""
    return decode_run_reply(_load(line), seq, validate=validate, mode=mode)


def rule_ids_in(text: str) -> tuple[str, ...]:
    """The catalogue rule ids a free-text message mentions, in order, de-duplicated."""
    known = catalogue()
    found = dict.fromkeys(m for m in _RULE_ID.findall(text) if m in known)
    return tuple(found)
