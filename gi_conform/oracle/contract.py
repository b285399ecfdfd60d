"""What an implementation's output means: a rejection, a crash, or unreadable output.

A rejection is a deliberate answer and scores a pass on an invalid document; a crash
must never be read as one. For ``cmd:`` the contract is: exit 0 with the output on
stdout is accepted; exit 1 with a *rejection line* on stderr (a line matching
:data:`DEFAULT_REJECT_PATTERN`, ``error:`` as virsh prints or ``error RULE-ID`` as
``gi-conform argv`` prints, unless the implementation declares its own) is rejected;
anything else is errored. A crash signature of a common runtime (:data:`CRASH_SIGNATURES`)
is never a rejection, whatever the exit status and whatever else stderr says, and a
protocol reply cannot turn a stack into a rejection either. Pure functions over text:
the adapters in :mod:`gi_conform.oracle.impls` run the processes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from gi_conform.oracle.model import Answer, ErrorKind, Verdict

__all__ = [
    "CRASH_SIGNATURES",
    "DEFAULT_REJECT_PATTERN",
    "REJECT_EXIT",
    "CrashSignature",
    "RejectPatternError",
    "compile_reject_pattern",
    "crash_signature",
    "read_failed_exit",
    "stderr_tail",
    "unreadable_argv",
    "unreadable_xml",
]

DEFAULT_REJECT_PATTERN = r"^error[: ]"
"""A stderr line starting ``error:`` (virsh) or ``error RULE-ID`` (``gi-conform argv``)."""
REJECT_EXIT = 1
"""The one exit status a ``cmd:`` rejection may have."""
_TAIL_CHARS = 2000
_QEMU_OPTION = re.compile(r"-{1,2}[A-Za-z]")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_HEADLINE = re.compile(
    r"^(?:Uncaught )?[\w.$]*(?:Error|Exception)\b.*|^panic: .*|panicked at .*|^==\d+==ERROR: .*"
)
"""The line of a crash that says what went wrong (the last such line: the root cause)."""


class RejectPatternError(ValueError):
    """Raised for a ``--reject-pattern`` that is not a usable regular expression."""


@dataclass(frozen=True)
class CrashSignature:
    """How one runtime's uncaught failure looks on stderr; ``pattern`` matches one line."""

    runtime: str
    pattern: re.Pattern[str]


CRASH_SIGNATURES: tuple[CrashSignature, ...] = (
    CrashSignature("Python traceback", re.compile(r"Traceback \(most recent call last\):")),
    CrashSignature("Python fatal error", re.compile(r"^Fatal Python error: ")),
    CrashSignature("Node.js uncaught exception", re.compile(r"\bUncaught\b|\bnode:internal/")),
    CrashSignature("Node.js uncaught exception", re.compile(r"^ {4}at .+:\d+:\d+\)?$")),
    CrashSignature("Node.js uncaught exception", re.compile(r"^Node\.js v\d+\.")),
    CrashSignature("Node.js unhandled rejection", re.compile(r"UnhandledPromiseRejection")),
    CrashSignature("Go panic", re.compile(r"^panic: ")),
    CrashSignature("Go runtime crash", re.compile(r"^goroutine \d+ \[[^\]]+\]:$")),
    CrashSignature("Rust panic", re.compile(r"^thread '[^']*'(?: \(\d+\))? panicked at")),
    CrashSignature("Java uncaught exception", re.compile(r"^Exception in thread \"")),
    CrashSignature("Java uncaught exception", re.compile(r"^\tat [\w$.<>/]+\([^)]*\)$")),
    CrashSignature("sanitizer report", re.compile(r"^==\d+==ERROR: \w*Sanitizer")),
)
"""Uncaught failures of the common runtimes, by a line each prints (real output in
``tests/oracle/test_contract.py``). ``4 spaces + at ... :LINE:COL`` is a JavaScript stack
frame, ``TAB + at Class.method(File.java:N)`` a Java one."""


def compile_reject_pattern(text: str | None) -> re.Pattern[str]:
    """The rejection-line pattern (:data:`DEFAULT_REJECT_PATTERN` for None), matched
    against each stderr line on its own, so ``^`` is a line start."""
    source = DEFAULT_REJECT_PATTERN if text is None else text
    if not source:
        raise RejectPatternError("--reject-pattern: empty pattern (it would match any line)")
    try:
        pattern = re.compile(source)
    except re.error as error:
        raise RejectPatternError(f"--reject-pattern {source!r}: {error}") from None
    if pattern.search(""):
        raise RejectPatternError(
            f"--reject-pattern {source!r} matches an empty line: a crash's blank line "
            "would read as a rejection"
        )
    return pattern


def crash_signature(text: str) -> str | None:
    """The runtime whose uncaught failure ``text`` shows, or None."""
    for line in text.splitlines():
        for signature in CRASH_SIGNATURES:
            if signature.pattern.search(line):
                return signature.runtime
    return None


def stderr_tail(stderr: str) -> str:
    """The end of ``stderr`` as report context (empty when there is none)."""
    text = stderr.strip()
    if not text:
        return ""
    if len(text) > _TAIL_CHARS:
        text = "..." + text[-_TAIL_CHARS:]
    return f"\n--- stderr ---\n{text}"


def read_failed_exit(
    code: int, stderr: str, reject: re.Pattern[str], elapsed: float = 0.0
) -> Answer:
    """The answer of a ``cmd:`` process that exited ``code`` > 0 (not 126/127: a start
    failure, nor 128+N: a signal, which the adapter reads first).

    Rejected only for exit :data:`REJECT_EXIT` with a stderr line matching ``reject``
    and no crash signature; anything else is errored, kind ``crash``, stderr kept.
    """
    runtime = crash_signature(stderr)
    if runtime is not None:
        head = f"{runtime} (exit {code}), not a rejection: {_headline(stderr)}"
        return _crash(head + stderr_tail(stderr), elapsed)
    lines = stderr.splitlines()
    if code == REJECT_EXIT and any(reject.search(line) for line in lines):
        return Answer(Verdict.REJECTED, message=stderr, elapsed=elapsed)
    if code == REJECT_EXIT:
        said = "nothing on stderr" if not stderr.strip() else "no rejection line on stderr"
        context = (
            f"exit status {code} with {said}: a rejection prints a line matching "
            f"{reject.pattern!r} (--reject-pattern)"
        )
    else:
        context = f"exit status {code}: a rejection exits {REJECT_EXIT}, anything else is a crash"
    return _crash(context + stderr_tail(stderr), elapsed)


def _headline(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    found = [line for line in lines if _HEADLINE.search(line)]
    return (found or lines or [""])[-1][:300]


def _crash(context: str, elapsed: float) -> Answer:
    return Answer(Verdict.ERRORED, context=context, error_kind=ErrorKind.CRASH, elapsed=elapsed)


def _preview(text: str, limit: int = 120) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def unreadable_argv(
    words: list[str] | tuple[str, ...], shown: str, where: str = "the output"
) -> str | None:
    """Why an accepted argv cannot be read as QEMU's command line, or None when it can.

    An empty argv is readable: a document without NUMA, host devices or initiators has
    nothing in the GI subset, and the reference prints nothing for it. Otherwise the
    argv needs a QEMU option (``-numa``, ``-object``, ...), or is only environment
    assignments and a QEMU binary (``LC_ALL=C /usr/bin/qemu-system-x86_64``).
    ``shown`` is the text quoted in the message, ``where`` names it.
    """
    if not words or any(_QEMU_OPTION.match(word) for word in words):
        return None
    programs = [word for word in words if not _ASSIGNMENT.match(word)]
    if len(programs) == 1 and "qemu" in os.path.basename(programs[0]):
        return None
    return f"no QEMU option in {where}: {_preview(shown)}"


def unreadable_xml(text: str) -> str | None:
    """Why a document written back (round-trip mode) is no XML at all, or None.

    Blank text is readable elsewhere (a ``cmd:`` verdict only); malformed XML is a
    readable, wrong answer that the round-trip comparison judges.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped or stripped.startswith("<"):
        return None
    return f"no XML document in the output: {_preview(stripped)}"
