"""The headline score cannot be gamed: rejecting or accepting everything scores at most 50%,
in the summary, the JSON report, JUnit and the page alike (``gi_conform.oracle.score``)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from gi_conform.oracle.model import CheckOptions, Mode
from gi_conform.oracle.page import render_markdown
from gi_conform.oracle.page_model import read_report, tally
from gi_conform.oracle.report import json_report, junit_xml, summary
from gi_conform.oracle.runner import CheckRun, run_check
from gi_conform.oracle.score import ScoredCase, score
from tests.helpers import run_cli
from tests.mutants.gamers import REJECT_COMMAND

GAMERS = "python:tests.mutants.gamers"


def _run(impl: str, mode: str = "argv", generated: int = 30) -> CheckRun:
    return run_check(CheckOptions(impl=impl, mode=Mode(mode), generated=generated))


def _figures(run: CheckRun) -> list[float | None]:
    """The headline as every output gives it: run, JSON, JUnit, page."""
    data = json_report(run)
    root = ElementTree.fromstring(junit_xml(run))
    junit = {p.get("name"): p.get("value") for p in root.iter("property")}
    page = tally(read_report(json.loads(json.dumps(data)), "r.json").cases).conformance
    return [run.conformance, data["summary"]["balanced"], float(junit["conformance"]), page]


@pytest.mark.parametrize(
    ("impl", "mode", "valid", "invalid"),
    [
        (f"{GAMERS}:reject_everything", "argv", 0.0, 100.0),
        (f"{GAMERS}:accept_everything", "argv", 100.0, 0.0),
        (f"{GAMERS}:accept_everything", "roundtrip", 100.0, 0.0),
        (REJECT_COMMAND, "argv", 0.0, 100.0),
    ],
)
def test_accepting_or_rejecting_everything_scores_at_most_half(
    impl: str, mode: str, valid: float, invalid: float
) -> None:
    run = _run(impl, mode, generated=0 if impl.startswith("cmd:") else 30)
    figures = run.score
    assert (figures.valid.rate, figures.invalid.rate) == (valid, invalid)
    assert figures.valid.ran > 0
    assert figures.invalid.ran > 0
    for headline in _figures(run):
        assert headline is not None
        assert headline <= 50.0
    # the raw pass rate, the headline before: above 50% for rejecting everything
    if invalid == 100.0:
        assert run.pass_rate > 50.0
    data = json_report(run)
    assert data["summary"]["conformance"] == round(run.pass_rate, 2)
    assert data["summary"]["valid"]["passed"] == figures.valid.passed
    text = summary(run)
    assert "conformance 50.0%" in text
    assert f"valid: {figures.valid.passed} of {figures.valid.ran} accepted and right" in text


def test_the_reference_scores_100_in_every_output() -> None:
    run = _run("reference")
    assert _figures(run) == [100.0] * 4
    markdown = render_markdown([read_report(json_report(run), "reference.json")])
    assert "| 100.0% |" in markdown


def test_known_deviations_count_as_failures_in_the_score() -> None:
    figures = score(
        [
            ScoredCase("accept", "passed"),
            ScoredCase("accept", "skipped", known_deviation=True),
            ScoredCase("accept", "skipped"),
            ScoredCase("reject", "errored"),
            ScoredCase("reject", "passed"),
        ]
    )
    assert (figures.valid.cases, figures.valid.ran, figures.valid.passed) == (3, 2, 1)
    assert figures.balanced == 50.0
    assert score([ScoredCase("accept", "skipped")]).balanced is None
    assert score([ScoredCase("reject", "passed")]).balanced == 100.0


def test_a_label_names_the_run_in_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two cmd: runs of one tool were ``cmd:... #2`` on the page; ``--label`` names them."""
    reports = []
    for label in ("my-tool 1.0", "my-tool 2.0-rc1"):
        path = tmp_path / f"{len(reports)}.json"
        arguments = ["--impl", REJECT_COMMAND, "--label", label, "--case", "seed-example"]
        assert run_cli("check", *arguments, "--generated", "0", "--report", "json", str(path)) == 1
        assert capsys.readouterr().out.startswith(f"gi-conform check: {label} (")
        data = json.loads(path.read_text())
        assert data["implementation"]["label"] == label
        assert data["implementation"]["spec"] == REJECT_COMMAND
        reports.append(read_report(data, str(path)))
    markdown = render_markdown(reports)
    assert "| my-tool 1.0 | cmd:" in markdown
    assert "| my-tool 2.0-rc1 | cmd:" in markdown
    assert "#2" not in markdown


def test_skipping_everything_is_no_pass(capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(f"{GAMERS}:skip_everything", generated=5)
    assert run.nothing_ran
    assert not run.ok
    assert run.conformance is None
    assert (
        summary(run).rstrip().endswith("FAIL (no case ran: the implementation skipped every case)")
    )
    assert run_cli("check", "--impl", f"{GAMERS}:skip_everything", "--generated", "0") == 1
    assert "no case ran" in capsys.readouterr().out
