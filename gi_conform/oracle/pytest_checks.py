"""The engine side of ``pytest --gi-impl SPEC``: options read from pytest's configuration,
the cases they select, and one implementation checking them for the whole session.

:mod:`gi_conform.oracle.pytest_plugin` imports this module only when ``--gi-impl`` is
given, so that a pytest session without it loads none of the oracle's engine.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from gi_conform.argv.build import Profile
from gi_conform.oracle.impls import (
    Implementation,
    SpecError,
    check_reject_pattern,
    parse_spec,
)
from gi_conform.oracle.model import CaseResult, CheckCase, CheckOptions, Mode
from gi_conform.oracle.runner import KnownDeviationsError, load_known_deviations, select_cases
from gi_conform.oracle.workers import check_case, open_for

__all__ = ["Checker", "check_options", "start"]


class Checker:
    """One implementation for the whole session, opened on first use, closed at the end."""

    def __init__(self, options: CheckOptions) -> None:
        self.options = options
        self._stack = contextlib.ExitStack()
        self._implementation: Implementation | None = None

    def check(self, case: CheckCase) -> CaseResult:
        if self._implementation is None:
            self._implementation = self._stack.enter_context(open_for(self.options))
        return check_case(self._implementation, case, self.options)

    def close(self) -> None:
        self._stack.close()


def check_options(config: pytest.Config) -> CheckOptions:
    """The ``--gi-*`` options as :class:`CheckOptions`; a bad one is a pytest usage error."""
    spec = str(config.getoption("gi_impl"))
    deviations = config.getoption("gi_known_deviations")
    try:
        reject_pattern = config.getoption("gi_reject_pattern")
        check_reject_pattern(parse_spec(spec), reject_pattern)
        known = load_known_deviations(Path(deviations)) if deviations else {}
    except (SpecError, KnownDeviationsError) as error:
        raise pytest.UsageError(str(error)) from None
    profile = config.getoption("gi_profile")
    return CheckOptions(
        impl=spec,
        mode=Mode(str(config.getoption("gi_mode"))),
        dialects=tuple(config.getoption("gi_dialect")),
        patterns=tuple(config.getoption("gi_case")),
        profile=None if profile == "auto" else Profile(profile),
        generated=max(0, int(config.getoption("gi_generated"))),
        seed=int(config.getoption("gi_seed")),
        strict=bool(config.getoption("gi_strict")),
        messages=bool(config.getoption("gi_messages")),
        timeout=float(config.getoption("gi_timeout")),
        known_deviations=known,
        validate_protocol=bool(config.getoption("gi_validate_protocol")),
        reject_pattern=reject_pattern,
    )


def start(config: pytest.Config) -> tuple[Checker, list[CheckCase]]:
    """The session's checker and the cases the options select."""
    options = check_options(config)
    return Checker(options), select_cases(options)
