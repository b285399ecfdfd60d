"""The oracle's vocabulary: cases, what implementations answer, what the oracle concludes.

Kept apart from the adapters and the runner so reports, the pytest plugin and tests
share one set of frozen values and nothing imports a subprocess to read a result.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.argv.build import Profile
from gi_conform.model import Domain
from gi_conform.process import DEFAULT_MEMORY_LIMIT

__all__ = [
    "Answer",
    "Baseline",
    "CaseResult",
    "CheckCase",
    "CheckOptions",
    "ErrorKind",
    "Expectation",
    "Failure",
    "FailureKind",
    "ImplInfo",
    "KnownDeviations",
    "Mode",
    "Outcome",
    "Verdict",
]


class Verdict(enum.StrEnum):
    """What an implementation said about one case."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    ERRORED = "errored"


class ErrorKind(enum.StrEnum):
    """Why a case errored: the implementation's fault, never the document's."""

    TIMEOUT = "timeout"
    CRASH = "crash"
    PROTOCOL = "protocol"
    OUTPUT_LIMIT = "output-limit"
    REPORTED = "reported"
    """The implementation answered ``errored`` itself."""
    START = "start"
    """The implementation could not be started (or restarted)."""


class Outcome(enum.StrEnum):
    """The oracle's conclusion for one case."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERRORED = "errored"


class FailureKind(enum.StrEnum):
    VERDICT = "verdict"
    FACT = "fact"
    INVARIANT = "invariant"
    STRICT = "strict"
    MESSAGES = "messages"
    ROUNDTRIP = "roundtrip"
    """A GI-relevant loss or change in a round trip (``RT-*``, see ``oracle.roundtrip``)."""


class Mode(enum.StrEnum):
    """What an implementation is asked for: an argv, or the document written back."""

    ARGV = "argv"
    ROUNDTRIP = "roundtrip"


@dataclass(frozen=True)
class ImplInfo:
    """Who was checked: from the ``start`` reply, or made up for local adapters."""

    name: str
    version: str = ""
    dialects: tuple[str, ...] | None = None
    """The input dialects it handles; ``None`` means all."""
    language: str = ""
    issues: str = ""
    modes: tuple[str, ...] | None = None
    """The check modes it answers (``argv``, ``roundtrip``); ``None`` means any."""


@dataclass(frozen=True)
class Answer:
    """One implementation's answer to one case, whatever the adapter."""

    verdict: Verdict
    argv: tuple[str, ...] = ()
    xml: str | None = None
    """Round-trip mode: the document written back; None for a verdict-only answer."""
    message: str = ""
    rules: tuple[str, ...] = ()
    """Rule ids the implementation reported for a rejection (given, or found in the text)."""
    reason: str = ""
    context: str = ""
    error_kind: ErrorKind | None = None
    elapsed: float = 0.0


@dataclass(frozen=True)
class Expectation:
    """The reference's answer to a case, computed once and compared with every answer."""

    accepted: bool
    domain: Domain | None
    argv: tuple[str, ...]
    """The reference argv in the case's profile (empty when rejected)."""
    errors: tuple[str, ...]
    """Error-severity rule ids, in report order, de-duplicated."""
    rules: tuple[str, ...]
    """Every rule id reported, warnings included."""
    text: str
    """The ``validate`` output (what a ``.err`` file holds)."""


@dataclass(frozen=True)
class CheckCase:
    """One input to check: a corpus case or a generated document."""

    id: str
    source: str
    """``corpus`` or ``generated``."""
    data: bytes
    """The document as given (a corpus case may deliberately not be UTF-8)."""
    profile: Profile
    dialect: str
    expectation: Expectation
    description: str = ""
    path: Path | None = None
    """The XML file (corpus cases); generated documents have none until written."""
    golden: tuple[str, ...] | None = None
    """The golden argv for ``--strict`` (corpus cases with a ``.args`` file)."""
    golden_name: str = ""

    @property
    def xml(self) -> str | None:
        """The document as text, or ``None`` when it is not UTF-8 (the protocol needs text)."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True)
class Failure:
    """One difference from the reference. ``key`` is a rule, invariant or fact id."""

    kind: FailureKind
    key: str
    message: str


@dataclass(frozen=True)
class CaseResult:
    case: CheckCase
    outcome: Outcome
    answer: Answer
    failures: tuple[Failure, ...] = ()
    diff: str = ""
    """Expected vs actual argv lines (unified diff) when the argv differs."""
    reason: str = ""
    """Why it was skipped, or what errored."""
    known_deviation: bool = False
    duration: float = 0.0

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.key for f in self.failures))


KnownDeviations = Mapping[str, "str | Mapping[str, str]"]
"""Case id -> a reason (any failure of the case) or failure key -> reason
(:mod:`gi_conform.oracle.deviations`)."""


@dataclass(frozen=True)
class Baseline:
    """A previous report's failures (``--baseline``): a run fails only on (case id, failure
    key) pairs that are not in it (:mod:`gi_conform.oracle.deviations`)."""

    source: str
    """The report file, for messages."""
    pairs: frozenset[tuple[str, str]]
    """(case id, failure key or error kind) of every case that failed or errored in it."""
    cases: frozenset[str] = frozenset()
    """Every case id the report holds."""
    mode: str = "argv"


@dataclass(frozen=True)
class CheckOptions:
    """Everything ``gi-conform check`` takes; the defaults are the command's."""

    impl: str = "reference"
    mode: Mode = Mode.ARGV
    """``argv``: compare argvs; ``roundtrip``: compare the document written back."""
    dialects: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    """Case id globs (``--case``); empty means every case."""
    profile: Profile | None = None
    """``None``: each document's own profile (seed when it has seed elements)."""
    corpus: Path | None = None
    use_corpus: bool = True
    generated: int = 200
    seed: int = 0
    generated_from: Path | None = None
    """A frozen set (``gi-conform generate``) used instead of drawing ``generated``."""
    strict: bool = False
    messages: bool = False
    timeout: float = 10.0
    failures_dir: Path | None = None
    max_shrinks: int = 5
    known_deviations: KnownDeviations = field(default_factory=dict)
    """Failures expected by the implementer: reported as skips (``--known-deviations``)."""
    baseline: Baseline | None = None
    """``--baseline``: only failures not in it fail the run; outcomes are unchanged."""
    label: str = ""
    """``--label``: the implementation's name in reports (default: its own)."""
    validate_protocol: bool = False
    jobs: int = 1
    """Cases run at once (``--jobs``); reports are the same for any value."""
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    """Address-space bytes each child process of an implementation may take; None: no limit."""
    reject_pattern: str | None = None
    """A ``cmd:`` rejection's stderr line (``--reject-pattern``); None: ``^error[: ]``."""
