"""pytest plugin: ``pytest --gi-impl SPEC`` runs the conformance checks as test items.

Registered through the ``pytest11`` entry point, so any project that installs gi-conform
can run the suite under its own pytest/tox and get JUnit from ``--junitxml``. Without
``--gi-impl`` the plugin only declares its options: nothing heavy is imported.

Each case is one item, ``gi-conform::check[CASE-ID]``: passed, failed (the differences
and the argv diff), skipped (by the implementation or a known deviation), xfailed (with
``--gi-baseline``: it fails only with keys the baseline has), or an error at setup when
the implementation errored (hang, crash, broken protocol).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gi_conform.model import DocumentDialect
from gi_conform.oracle.model import CaseResult, CheckCase, Outcome
from gi_conform.resources import cases_dir

if TYPE_CHECKING:
    from gi_conform.oracle.pytest_checks import Checker

__all__ = ["ConformanceItem", "pytest_addoption", "pytest_collection_modifyitems"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gi-conform", "gi-conform conformance checks")
    group.addoption(
        "--gi-impl",
        metavar="SPEC",
        help="check this implementation: reference, python:MOD:FUNC, cmd:COMMAND, jsonl:COMMAND",
    )
    group.addoption("--gi-generated", type=int, default=200, metavar="N", help="generated (200)")
    group.addoption("--gi-seed", type=int, default=0, help="generation seed (0)")
    group.addoption(
        "--gi-generated-from",
        metavar="DIR",
        help="generated documents from a frozen set (gi-conform generate) instead of drawing",
    )
    group.addoption("--gi-strict", action="store_true", help="compare the exact argv too")
    group.addoption("--gi-messages", action="store_true", help="compare rejection rule ids")
    group.addoption("--gi-timeout", type=float, default=10.0, metavar="S", help="per case (10)")
    group.addoption(
        "--gi-dialect",
        action="append",
        default=[],
        choices=[dialect.value for dialect in DocumentDialect],
        help="only this dialect (repeatable)",
    )
    group.addoption("--gi-case", action="append", default=[], metavar="GLOB", help="case ids")
    group.addoption("--gi-profile", choices=["auto", "seed", "libvirt"], default="auto")
    group.addoption(
        "--gi-mode",
        choices=["argv", "roundtrip"],
        default="argv",
        help="compare the argv (default) or the document written back",
    )
    group.addoption(
        "--gi-known-deviations", metavar="FILE", help="'CASE-ID KEY: reason' lines: skips"
    )
    group.addoption(
        "--gi-baseline",
        metavar="REPORT.json",
        help="a previous check --report json: its failures are xfail, only new ones fail",
    )
    group.addoption(
        "--gi-validate-protocol", action="store_true", help="check replies against the schemas"
    )
    group.addoption(
        "--gi-reject-pattern",
        metavar="REGEX",
        help="cmd: a rejection exits 1 with a stderr line matching REGEX (default '^error[: ]')",
    )


_CHECKER = pytest.StashKey["Checker"]()


class ConformanceItem(pytest.Item):
    """One case checked against the implementation."""

    def __init__(self, *, case: CheckCase, checker: Checker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.checker = checker
        self.result: CaseResult | None = None

    def setup(self) -> None:
        self.result = self.checker.check(self.case)
        expected = self.checker.in_baseline(self.result)
        if expected is not None:
            pytest.xfail(expected)
        if self.result.outcome is Outcome.ERRORED:
            pytest.fail(f"implementation errored: {self.result.reason}", pytrace=False)

    def runtest(self) -> None:
        result = self.result
        assert result is not None
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.reason)
        if result.outcome is Outcome.FAILED:
            lines = [f"{f.key}: {f.message}" for f in result.failures]
            text = "\n".join(lines) + ("\n\n" + result.diff if result.diff else "")
            pytest.fail(text, pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.case.path or cases_dir(), None, f"gi-conform {self.case.id}"


class _Cases(pytest.Collector):
    """The parent of every conformance item (pytest wants session -> collector -> item)."""

    def __init__(self, *, cases: list[CheckCase], checker: Checker, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cases = cases
        self._checker = checker

    def collect(self) -> list[pytest.Item]:
        return [
            ConformanceItem.from_parent(
                self, name=f"check[{case.id}]", case=case, checker=self._checker
            )
            for case in self._cases
        ]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add one item per case (before ``-k``/``-m`` deselection runs)."""
    if not config.getoption("gi_impl"):
        return
    # Every pytest session of a project that installs gi-conform loads this plugin:
    # the oracle's engine (runner, adapters, Hypothesis) only when --gi-impl asks for it.
    from gi_conform.oracle import pytest_checks  # noqa: PLC0415 (pytest start-up time)

    checker, cases = pytest_checks.start(config)
    config.stash[_CHECKER] = checker
    parent = _Cases.from_parent(
        session, name="gi-conform", nodeid="gi-conform", cases=cases, checker=checker
    )
    items.extend(parent.collect())


def pytest_unconfigure(config: pytest.Config) -> None:
    checker = config.stash.get(_CHECKER, None)
    if checker is not None:
        checker.close()
