"""Known deviations and baselines name the failure key, so a new bug in a case that already
fails another way still fails the run (``gi_conform.oracle.deviations``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gi_conform.oracle.deviations import KnownDeviationsError, load_known_deviations
from gi_conform.oracle.model import CheckOptions, Outcome
from gi_conform.oracle.report import json_report, summary
from gi_conform.oracle.runner import run_check
from gi_conform.resources import reference_dir
from tests.helpers import run_cli
from tests.mutants.mutants import drops_last_initiator
from tests.oracle.test_oracle_plugin import _pytest

HERE = "python:tests.oracle.test_baselines"
OLD_BUG = "python:tests.mutants.mutants:drops_last_initiator"
OLD_KEYS = {"FACT-GI-PAIRS", "FACT-GI-IDS", "INV-GI-PAIRS"}
CASES = ("--case", "seed-example", "--case", "two-gpus-*", "--case", "gi-node-unknown")


def new_bug(case: Mapping[str, Any]) -> dict[str, object]:
    """The old bug, and a new one in the same cases: the first ``-numa`` option is lost."""
    reply = drops_last_initiator(case)
    argv = reply.get("argv")
    if reply.get("accepted") is True and isinstance(argv, list) and "-numa" in argv:
        at = argv.index("-numa")
        reply = {**reply, "argv": argv[:at] + argv[at + 2 :]}
    return reply


def _check(*extra: str) -> int:
    return run_cli("check", "--generated", "0", "--no-progress", *CASES, *extra)


def test_known_deviation_files_name_keys(tmp_path: Path) -> None:
    text = tmp_path / "dev.txt"
    text.write_text(
        "# ours\n"
        "seed-example FACT-GI-IDS: we number from 1\n"
        "seed-example INV-GI-PAIRS: same\n"
        "cells-128: too big for us\n"
        "old-form  reason without a colon\n"
    )
    assert load_known_deviations(text) == {
        "seed-example": {"FACT-GI-IDS": "we number from 1", "INV-GI-PAIRS": "same"},
        "cells-128": "too big for us",
        "old-form": "reason without a colon",
    }
    as_json = tmp_path / "dev.json"
    as_json.write_text('{"a": {"K": "r"}, "b": "any"}')
    assert load_known_deviations(as_json) == {"a": {"K": "r"}, "b": "any"}
    for bad in ("a K extra: reason\n", "just-an-id\n", "a K:\n"):
        text.write_text(bad)
        with pytest.raises(KnownDeviationsError, match=":1: expected 'CASE-ID KEY: reason'"):
            load_known_deviations(text)
    for bad_json in ('{"a": {"K": 1}}', '{"a": {}}', "[1]"):
        as_json.write_text(bad_json)
        with pytest.raises(KnownDeviationsError, match="expected an object"):
            load_known_deviations(as_json)


def test_a_keyed_deviation_does_not_hide_a_new_bug_in_its_case() -> None:
    keyed = {"seed-example": dict.fromkeys(OLD_KEYS, "initiator loop off by one")}
    old = run_check(
        CheckOptions(impl=OLD_BUG, generated=0, patterns=("seed-example",), known_deviations=keyed)
    )
    assert old.ok
    assert old.results[0].known_deviation
    new = run_check(
        CheckOptions(
            impl=f"{HERE}:new_bug", generated=0, patterns=("seed-example",), known_deviations=keyed
        )
    )
    assert not new.ok
    (result,) = new.results
    assert result.outcome is Outcome.FAILED
    assert "FACT-NUMA-NODES" in set(result.keys) - OLD_KEYS
    # A bare id still covers any key (the old behaviour), with a warning.
    bare = {"seed-example": "initiator loop off by one", "seed-exmaple": "typo"}
    hidden = run_check(
        CheckOptions(
            impl=f"{HERE}:new_bug", generated=0, patterns=("seed-example",), known_deviations=bare
        )
    )
    assert hidden.ok
    text = summary(hidden)
    assert "warning: known deviations that name no failure key" in text
    assert "cases not in this run (misspelled, or not selected): seed-exmaple" in text
    report = json_report(hidden)
    assert report["known_deviations"]["not_in_run"] == ["seed-exmaple"]
    jsonschema.validate(report, json.loads((reference_dir() / "report.schema.json").read_text()))


def test_stale_keyed_deviations_are_named() -> None:
    keyed = {"seed-example": {"FACT-GI-IDS": "r", "STRICT-ARGV": "never happens"}}
    run = run_check(
        CheckOptions(impl=OLD_BUG, generated=0, patterns=("seed-example",), known_deviations=keyed)
    )
    assert not run.ok  # FACT-GI-PAIRS and INV-GI-PAIRS are not listed
    assert run.deviation_review().stale == (("seed-example", "STRICT-ARGV"),)
    assert "  seed-example STRICT-ARGV" in summary(run)


def test_a_baseline_fails_only_on_new_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.json"
    assert _check("--impl", OLD_BUG, "--report", "json", str(base)) == 1
    capsys.readouterr()
    pairs = {
        (c["id"], f["key"]) for c in json.loads(base.read_text())["cases"] for f in c["failures"]
    }
    assert ("seed-example", "FACT-GI-IDS") in pairs
    # the same bug again: nothing new, exit 0, and the figures are still the honest ones
    again = tmp_path / "again.json"
    assert _check("--impl", OLD_BUG, "--baseline", str(base), "--report", "json", str(again)) == 0
    out = capsys.readouterr().out
    assert "no new failure" in out
    assert out.rstrip().endswith("PASS (no failure that the baseline does not have)")
    report = json.loads(again.read_text())
    assert report["summary"]["failed"] > 0
    assert report["baseline"]["new"] == []
    jsonschema.validate(report, json.loads((reference_dir() / "report.schema.json").read_text()))
    # a new bug in a case the baseline lists fails, naming the pair
    assert _check("--impl", f"{HERE}:new_bug", "--baseline", str(base)) == 1
    out = capsys.readouterr().out
    assert "  seed-example FACT-NUMA-NODES" in out
    assert out.rstrip().endswith("FAIL")
    # fixed: the pairs that disappeared are named
    assert _check("--baseline", str(base)) == 0
    out = capsys.readouterr().out
    assert "  seed-example FACT-GI-IDS" in out
    assert "of the baseline gone" in out


def test_a_bad_baseline_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.json"
    assert _check("--mode", "roundtrip", "--report", "json", str(base)) == 0
    capsys.readouterr()
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "something else"}')
    for path, message in (
        (base, "is a roundtrip report; this check is --mode argv"),
        (tmp_path / "missing.json", "--baseline: cannot read"),
        (garbage, "not a gi-conform check report"),
    ):
        assert _check("--baseline", str(path)) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err


def test_the_pytest_plugin_takes_a_baseline(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    assert _check("--impl", OLD_BUG, "--report", "json", str(base)) == 1
    options = (
        "--gi-generated",
        "0",
        "--gi-baseline",
        str(base),
        "-k",
        "seed-example or gi-node-unknown and not nodeset",
    )
    code, output, cases = _pytest(tmp_path, "--gi-impl", OLD_BUG, *options)
    assert code == 0, output
    assert cases == {"check[seed-example]": ["skipped"], "check[gi-node-unknown]": []}
    assert "1 xfailed" in output
    code, output, cases = _pytest(tmp_path, "--gi-impl", f"{HERE}:new_bug", *options)
    assert code == 1, output
    assert cases["check[seed-example]"] == ["failure"]
    assert "FACT-NUMA-NODES" in output
    deviations = tmp_path / "deviations.txt"
    deviations.write_text("seed-exmaple: typo\n")
    code, output, _ = _pytest(
        tmp_path, "--gi-impl", "reference", "--gi-known-deviations", str(deviations), *options
    )
    assert code == 0, output
    assert "cases not in this run (misspelled, or not selected): seed-exmaple" in output
