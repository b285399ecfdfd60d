"""The headline score of a check: valid and invalid documents counted apart, then balanced.

A pass rate over all cases rewards a strategy, not conformance: an implementation that
rejects every document passes every invalid case (more than half of the corpus). So the
valid documents (the reference accepts them) and the invalid ones (it rejects them) get
a rate each, and the headline is their mean, over the groups where a case ran: an
accept-everything or reject-everything implementation scores at most 50%.

A known deviation is reported as skipped but counts here as a case that ran and did not
pass: listing a failure does not raise the score. The same function scores a live run
(:mod:`gi_conform.oracle.runner`) and a report read back for the page
(:mod:`gi_conform.oracle.page_model`), so the two always agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Group", "Score", "ScoredCase", "score"]


@dataclass(frozen=True)
class ScoredCase:
    """What the score needs of one case."""

    expect: str
    """``accept`` or ``reject`` (the reference's verdict); anything else is in no group."""
    outcome: str
    """``passed``, ``failed``, ``skipped`` or ``errored``."""
    known_deviation: bool = False


@dataclass(frozen=True)
class Group:
    """The cases of one expected verdict."""

    cases: int = 0
    ran: int = 0
    """Cases that ran to a verdict: skips excluded, known deviations included."""
    passed: int = 0
    """Valid: accepted and right; invalid: rejected (or, round trip, kept invalid)."""

    @property
    def rate(self) -> float | None:
        """Passed over ran, in percent; ``None`` when none ran."""
        return 100.0 * self.passed / self.ran if self.ran else None


@dataclass(frozen=True)
class Score:
    valid: Group
    invalid: Group

    @property
    def balanced(self) -> float | None:
        """The mean of the two groups' rates (of the one that ran); ``None``: none ran."""
        rates = [r for r in (self.valid.rate, self.invalid.rate) if r is not None]
        return sum(rates) / len(rates) if rates else None


def _group(cases: list[ScoredCase]) -> Group:
    ran = [c for c in cases if c.outcome != "skipped" or c.known_deviation]
    return Group(len(cases), len(ran), sum(1 for c in ran if c.outcome == "passed"))


def score(cases: Iterable[ScoredCase]) -> Score:
    """The valid and invalid groups of ``cases`` (cases of neither are left out)."""
    chosen = list(cases)
    return Score(
        valid=_group([c for c in chosen if c.expect == "accept"]),
        invalid=_group([c for c in chosen if c.expect == "reject"]),
    )
