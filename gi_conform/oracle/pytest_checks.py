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
from gi_conform.oracle.baseline import BaselineError, load_baseline
from gi_conform.oracle.deviations import (
    KnownDeviationsError,
    load_known_deviations,
    result_keys,
)
from gi_conform.oracle.frozen import GeneratedSetError, read_generated_set
from gi_conform.oracle.impls import (
    Implementation,
    SpecError,
    check_reject_pattern,
    parse_spec,
)
from gi_conform.oracle.model import CaseResult, CheckCase, CheckOptions, Mode, Outcome
from gi_conform.oracle.runner import select_cases
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

    def in_baseline(self, result: CaseResult) -> str | None:
        """For a failed or errored case whose every key is in ``--gi-baseline``: why it is
        expected; None when there is no baseline or a key is new."""
        baseline = self.options.baseline
        if baseline is None or result.outcome not in (Outcome.FAILED, Outcome.ERRORED):
            return None
        keys = result_keys(result)
        if not all((result.case.id, key) in baseline.pairs for key in keys):
            return None
        return f"in the baseline {baseline.source}: {', '.join(keys)}"

    def close(self) -> None:
        self._stack.close()


def check_options(config: pytest.Config) -> CheckOptions:
    """The ``--gi-*`` options as :class:`CheckOptions`; a bad one is a pytest usage error."""
    spec = str(config.getoption("gi_impl"))
    deviations = config.getoption("gi_known_deviations")
    baseline_file = config.getoption("gi_baseline")
    mode = Mode(str(config.getoption("gi_mode")))
    try:
        reject_pattern = config.getoption("gi_reject_pattern")
        check_reject_pattern(parse_spec(spec), reject_pattern)
        known = load_known_deviations(Path(deviations)) if deviations else {}
        baseline = load_baseline(Path(baseline_file)) if baseline_file else None
    except (SpecError, KnownDeviationsError, BaselineError) as error:
        raise pytest.UsageError(str(error)) from None
    frozen_dir = config.getoption("gi_generated_from")
    frozen = None
    if frozen_dir:
        try:
            frozen = read_generated_set(Path(frozen_dir))
        except GeneratedSetError as error:
            raise pytest.UsageError(f"--gi-generated-from: {error}") from None
    if baseline is not None and baseline.mode != mode:
        raise pytest.UsageError(
            f"--gi-baseline {baseline_file} is a {baseline.mode} report; this is --gi-mode {mode}"
        )
    profile = config.getoption("gi_profile")
    return CheckOptions(
        impl=spec,
        mode=mode,
        dialects=tuple(config.getoption("gi_dialect")),
        patterns=tuple(config.getoption("gi_case")),
        profile=None if profile == "auto" else Profile(profile),
        generated=frozen.count if frozen else max(0, int(config.getoption("gi_generated"))),
        seed=frozen.seed if frozen else int(config.getoption("gi_seed")),
        generated_from=frozen.folder if frozen else None,
        strict=bool(config.getoption("gi_strict")),
        messages=bool(config.getoption("gi_messages")),
        timeout=float(config.getoption("gi_timeout")),
        known_deviations=known,
        baseline=baseline,
        validate_protocol=bool(config.getoption("gi_validate_protocol")),
        reject_pattern=reject_pattern,
    )


def start(config: pytest.Config) -> tuple[Checker, list[CheckCase]]:
    """The session's checker and the cases the options select."""
    options = check_options(config)
    cases = select_cases(options)
    ids = {case.id for case in cases}
    missing = [case_id for case_id in options.known_deviations if case_id not in ids]
    if missing:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                "--gi-known-deviations lists cases not in this run (misspelled, or not "
                f"selected): {', '.join(missing)}"
            ),
            stacklevel=2,
        )
    bare = [k for k, entry in options.known_deviations.items() if isinstance(entry, str)]
    if bare:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                "--gi-known-deviations entries that name no failure key cover any failure "
                f"of the case, a new one too (write 'CASE-ID KEY: reason'): {', '.join(bare)}"
            ),
            stacklevel=2,
        )
    return Checker(options), cases
