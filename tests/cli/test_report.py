"""``gi-conform report``: outputs, exit codes, messages naming the bad file, and the
published page kept equal to a fresh render of the published reports by README's own
command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from lxml import html

from tests.helpers import ROOT, check_report, report_case, run_cli


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_html_and_markdown_are_written(tmp_path: Path) -> None:
    failing = report_case(
        "seed-example", "failed", failures=[{"kind": "fact", "key": "K", "message": "m"}]
    )
    one = _write(tmp_path / "one.json", check_report("one", [report_case("a"), failing]))
    two = _write(tmp_path / "two.json", check_report("two", [report_case("a")], mode="roundtrip"))
    out, md = tmp_path / "page.html", tmp_path / "page.md"
    status = run_cli(
        "report", one, two, "--html", str(out), "--markdown", str(md), "--cases-url", "../c/"
    )
    assert status == 0
    page = html.document_fromstring(out.read_text(encoding="utf-8"))
    rows = page.get_element_by_id("matrix").find("tbody")
    assert [row.get("data-case") for row in rows] == ["a", "seed-example"]
    assert rows[1].find("th/a").get("href") == "../c/seed-example.xml"
    assert [h3.text_content() for h3 in page.iter("h3")] == ["one", "two (roundtrip)"]
    row = "| one | cmd:one | argv | 2 | 1 | 1 | 0 | 0 | 1/2 (50.0%) | - | 50.0% |"
    assert row in md.read_text().splitlines()


def test_markdown_to_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _write(tmp_path / "one.json", check_report("one", [report_case("a")]))
    assert run_cli("report", one, "--markdown", "-") == 0
    row = "| one | cmd:one | argv | 1 | 1 | 0 | 0 | 0 | 1/1 (100.0%) | - | 100.0% |"
    assert row in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {file}: No such file or directory"),
        ("{not json", "{file}: not JSON: Expecting property name"),
        ('{"format": "junit"}', "{file}: not a gi-conform check report"),
        (
            json.dumps(check_report("x", [{"id": "a"}])),
            "{file}: cases[0].dialect: missing",
        ),
    ],
)
def test_a_bad_report_is_a_usage_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    good = _write(tmp_path / "good.json", check_report("one", [report_case("a")]))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    out = tmp_path / "page.html"
    assert run_cli("report", good, str(bad), "--html", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("gi-conform: error: " + message.format(file=bad))
    assert "Traceback" not in err
    assert not out.exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "good.json", check_report("one", [report_case("a")]))
    assert run_cli("report", good) == 2
    assert "nothing to write" in capsys.readouterr().err
    assert run_cli("report", "--html", str(tmp_path / "p.html")) == 2
    assert "REPORT.json" in capsys.readouterr().err
    assert run_cli("report", good, "--html", "-", "--markdown", "-") == 2
    capsys.readouterr()
    missing = tmp_path / "no" / "such" / "page.html"
    assert run_cli("report", good, "--html", str(missing)) == 2
    assert f"cannot write {missing}: No such file or directory" in capsys.readouterr().err


def _published_command() -> list[str]:
    """README's command that renders the published page, as arguments."""
    text = (ROOT / "README.md").read_text()
    start = text.index("gi-conform report reference/implementations/")
    command = text[start : text.index("```", start)].replace("\\\n", " ")
    words = shlex.split(command)
    assert words[:2] == ["gi-conform", "report"]
    return words[2:]


def test_the_published_page_is_a_fresh_render_of_the_published_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _published_command()
    outputs = {"--html": tmp_path / "index.html", "--markdown": tmp_path / "conformance.md"}
    committed = {option: ROOT / args[args.index(option) + 1] for option in outputs}
    for option, path in outputs.items():
        args[args.index(option) + 1] = str(path)
    monkeypatch.chdir(ROOT)
    assert run_cli("report", *args) == 0
    for option, path in outputs.items():
        assert path.read_text(encoding="utf-8") == committed[option].read_text(encoding="utf-8"), (
            f"{committed[option]} is stale: run README's 'gi-conform report' command"
        )
    rows = html.document_fromstring(committed["--html"].read_text(encoding="utf-8"))
    reports = [json.loads((ROOT / a).read_text()) for a in args if a.endswith(".json")]
    ids = {case["id"] for report in reports for case in report["cases"]}
    assert len(rows.get_element_by_id("matrix").find("tbody")) == len(ids)
