"""The conformance page (``gi_conform.oracle.page``): its structure read back with
lxml.html (rows, cells' classes, links, the summary's figures), its escaping of hostile
report contents, its markdown form, and the report reader's errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import html

from gi_conform.oracle.page import PageOptions, render_html, render_markdown
from gi_conform.oracle.page_model import ReportError, load_report, read_report
from tests.helpers import ROOT, check_report, report_case

LIBVIRT_REPORT = ROOT / "reference" / "implementations" / "libvirt-12.8.json"

FAILED = report_case(
    "gi-node-unknown",
    "failed",
    expect="reject",
    failures=[
        {"kind": "verdict", "key": "GI-NODE-UNKNOWN", "message": "accepted node 9"},
        {"kind": "fact", "key": "FACT-GI-PAIRS", "message": "no initiator for (0000:06:12.1, 9)"},
    ],
    diff="--- expected\n+++ actual\n@@ -1 +1 @@\n-object a\n+object b\n",
)
GENERATED = report_case(
    "gen-0-0007",
    "errored",
    dialect="none",
    reason="timeout: no reply in 10 s",
    error_kind="timeout",
    xml="<domain type='kvm'><name>g</name></domain>",
)


def _page(reports: list[dict[str, Any]], **options: Any) -> Any:
    parsed = [read_report(data, f"r{i}.json") for i, data in enumerate(reports)]
    return html.document_fromstring(render_html(parsed, PageOptions(**options)))


def _rows(page: Any) -> list[Any]:
    return list(page.get_element_by_id("matrix").find("tbody"))


def _cell_outcomes(row: Any) -> list[str]:
    classes = [(td.get("class") or "").split() for td in row.findall("td")]
    return [names[1] for names in classes if "cell" in names]


def test_matrix_rows_are_the_union_of_case_ids_in_first_seen_order() -> None:
    first = check_report("one", [report_case("a"), FAILED, report_case("c", "skipped")])
    second = check_report("two", [report_case("c"), report_case("d"), report_case("a")])
    page = _page([first, second])
    rows = _rows(page)
    assert [row.get("data-case") for row in rows] == ["a", "gi-node-unknown", "c", "d"]
    assert [_cell_outcomes(row) for row in rows] == [
        ["passed", "passed"],
        ["failed", "absent"],
        ["skipped", "passed"],
        ["absent", "passed"],
    ]
    heads = [th.text_content() for th in page.get_element_by_id("matrix").find("thead").iter("th")]
    assert heads[:3] == ["case", "dialect", "expect"]
    assert heads[3].startswith("one")
    assert heads[4].startswith("two")


def test_every_cell_of_the_published_report_has_its_outcome_class() -> None:
    data = json.loads(LIBVIRT_REPORT.read_text())
    page = _page([data])
    rows = _rows(page)
    assert len(rows) == len({case["id"] for case in data["cases"]})
    expected = {case["id"]: case["outcome"] for case in data["cases"]}
    assert {row.get("data-case"): _cell_outcomes(row)[0] for row in rows} == expected
    failing = {case["id"] for case in data["cases"] if case["outcome"] == "failed"}
    assert {row.get("data-case") for row in rows if row.get("data-bad") == "1"} == failing
    overview = page.get_element_by_id("overview").find("tbody").find("tr")
    cells = overview.findall("td")
    figures = [td.text_content() for td in cells]
    summary = data["summary"]
    assert figures[2:7] == [
        str(summary[key]) for key in ("cases", "passed", "failed", "skipped", "errored")
    ]
    rates = []
    for column, expect in ((7, "accept"), (8, "reject")):
        ran = [
            case
            for case in data["cases"]
            if case["expect"] == expect
            and (case["outcome"] != "skipped" or case.get("known_deviation"))
        ]
        passed = sum(1 for case in ran if case["outcome"] == "passed")
        rates.append(100.0 * passed / len(ran))
        assert figures[column] == f"{rates[-1]:.1f}%"
        assert cells[column].get("title").startswith(f"{passed} of {len(ran)} ")
    assert figures[9] == f"{sum(rates) / 2:.1f}%"
    if "balanced" in summary:
        assert figures[9] == f"{summary['balanced']:.1f}%"


def test_a_failure_expands_to_its_differences_and_diff() -> None:
    page = _page([check_report("one", [FAILED, GENERATED])])
    failed, errored = _rows(page)
    cell = failed.find_class("failed")[0]
    details = cell.find("details")
    assert details is not None
    assert details.get("open") is None
    assert details.find("summary").text_content() == "fail: GI-NODE-UNKNOWN +1"
    items = [li.text_content() for li in details.find_class("failures")[0].findall("li")]
    assert items == [
        "verdict GI-NODE-UNKNOWN: accepted node 9",
        "fact FACT-GI-PAIRS: no initiator for (0000:06:12.1, 9)",
    ]
    diff = details.find_class("diff")[0]
    assert [span.text for span in diff.find_class("del")] == ["-object a"]
    assert [span.text for span in diff.find_class("add")] == ["+object b"]
    error_cell = errored.find_class("errored")[0]
    assert error_cell.find("details/summary").text_content() == "error: timeout"
    assert error_cell.find_class("reason")[0].text == "timeout: no reply in 10 s"
    assert error_cell.find_class("xml")[1].text == GENERATED["xml"]


def test_filters_list_every_dialect_and_failure_key_and_rows_carry_their_tokens() -> None:
    page = _page([check_report("one", [report_case("a", dialect="seed"), FAILED, GENERATED])])
    dialects = {o.get("data-label"): o.get("value") for o in page.get_element_by_id("f-dialect")}
    keys = {o.get("data-label"): o.get("value") for o in page.get_element_by_id("f-key")}
    assert set(dialects) == {None, "seed", "libvirt", "none"}
    assert set(keys) == {None, "GI-NODE-UNKNOWN", "FACT-GI-PAIRS", "timeout"}
    rows = {row.get("data-case"): row for row in _rows(page)}
    assert rows["a"].get("data-dialect") == dialects["seed"]
    assert rows["a"].get("data-keys") == ""
    assert rows["a"].get("data-bad") == "0"
    tokens = rows["gi-node-unknown"].get("data-keys").split()
    assert sorted(tokens) == sorted([keys["GI-NODE-UNKNOWN"], keys["FACT-GI-PAIRS"]])
    assert rows["gen-0-0007"].get("data-keys") == keys["timeout"]


def test_corpus_cases_link_to_their_files_generated_ones_do_not() -> None:
    reports = [check_report("one", [report_case("seed-example"), GENERATED])]
    links = [row.find("th").find("a") for row in _rows(_page(reports))]
    assert links[0] is not None
    assert links[0].get("href") == "cases/seed-example.xml"
    assert links[1] is None
    base = "https://example.org/gi/cases/"
    row = _rows(_page(reports, cases_url=base))[0]
    assert row.find("th/a").get("href") == base + "seed-example.xml"
    assert _rows(_page(reports, cases_url=""))[0].find("th/a") is None


def test_summary_by_dialect_and_mode() -> None:
    cases = [
        report_case("s1", "skipped", dialect="seed", reason="not my dialect"),
        report_case("l1"),
        report_case("l2", "failed", failures=[{"kind": "fact", "key": "K", "message": "m"}]),
    ]
    page = _page([check_report("impl", cases), check_report("impl", cases, mode="roundtrip")])
    argv, roundtrip = page.find_class("impl")
    assert argv.find("h3").text_content() == "impl"
    assert roundtrip.find("h3").text_content() == "impl (roundtrip)"
    table = argv.find_class("dialects")[0]
    assert "argv" in table.find("thead").text_content()
    assert "roundtrip" in roundtrip.find_class("dialects")[0].find("thead").text_content()
    figures = {
        tr.find("th").text_content(): [td.text_content() for td in tr.findall("td")]
        for tr in table.find("tbody")
    }
    assert figures == {
        "seed": ["1", "0", "0", "1", "0", "-", "-", "n/a"],
        "libvirt": ["2", "1", "1", "0", "0", "50.0%", "-", "50.0%"],
        "all": ["3", "1", "1", "1", "0", "50.0%", "-", "50.0%"],
    }
    modes = [tr.findall("td")[1].text for tr in page.get_element_by_id("overview").find("tbody")]
    assert modes == ["argv", "roundtrip"]


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp;"


def test_report_contents_are_escaped_everywhere() -> None:
    case = report_case(
        f"x{HOSTILE}",
        "failed",
        dialect=HOSTILE,
        failures=[{"kind": HOSTILE, "key": HOSTILE, "message": HOSTILE}],
        diff=f"+{HOSTILE}\n-</pre>{HOSTILE}",
        reason=HOSTILE,
        xml=f"</pre></details>{HOSTILE}",
    )
    data = check_report(HOSTILE, [case], mode=HOSTILE)
    data["implementation"]["version"] = HOSTILE  # type: ignore[index]
    text = render_html([read_report(data, f"{HOSTILE}.json")], PageOptions(title=HOSTILE))
    page = html.document_fromstring(text)
    assert len(page.findall(".//script")) == 1  # the page's own
    assert page.findall(".//img") == []
    assert not any(name.startswith("on") for element in page.iter() for name in element.attrib), (
        "an event handler attribute came from the report"
    )
    assert page.find(".//title").text == HOSTILE
    assert page.find(".//h1").text == HOSTILE
    assert page.find_class("impl")[0].find("h3").text_content() == f"{HOSTILE} ({HOSTILE})"
    row = _rows(page)[0]
    assert row.get("data-case") == f"x{HOSTILE}"
    assert row.find("th/a").text == f"x{HOSTILE}"
    assert row.find("th/a").get("href").startswith("cases/x%3Cscript%3E")
    assert page.find_class("failures")[0].find("li").text_content() == (
        f"{HOSTILE} {HOSTILE}: {HOSTILE}"
    )
    assert page.find_class("xml")[1].text == f"</pre></details>{HOSTILE}"
    assert [o.get("data-label") for o in page.get_element_by_id("f-key")][1] == HOSTILE


def test_control_characters_and_lone_surrogates_do_not_break_the_page() -> None:
    data = check_report("a\x00b\ud800c", [report_case("c\x1b")])
    text = render_html([read_report(data, "r.json")])
    text.encode("utf-8")  # no lone surrogate left
    page = html.document_fromstring(text)
    assert page.find_class("impl")[0].find("h3").text_content() == "a\ufffdb\ufffdc"


def test_rendering_is_deterministic() -> None:
    data = json.loads(LIBVIRT_REPORT.read_text())
    reports = [read_report(data, str(LIBVIRT_REPORT))]
    assert render_html(reports) == render_html(reports)
    assert render_markdown(reports) == render_markdown(reports)


def test_markdown_tables_and_escaping() -> None:
    cases = [
        report_case("a", dialect="seed"),
        report_case("b", "failed", failures=[{"kind": "fact", "key": "K", "message": "m"}]),
    ]
    text = render_markdown([read_report(check_report("my|impl <b>x</b>", cases), "r.json")])
    lines = text.splitlines()
    assert (
        "| my\\|impl &lt;b&gt;x&lt;/b&gt; | cmd:my\\|impl &lt;b&gt;x&lt;/b&gt; | argv | "
        "2 | 1 | 1 | 0 | 0 | 1/2 (50.0%) | - | 50.0% |"
    ) in lines
    assert "| seed | 1 | 1 | 0 | 0 | 0 | 1/1 (100.0%) | - | 100.0% |" in lines
    assert "| libvirt | 1 | 0 | 1 | 0 | 0 | 0/1 (0.0%) | - | 0.0% |" in lines
    assert "| all | 2 | 1 | 1 | 0 | 0 | 1/2 (50.0%) | - | 50.0% |" in lines
    assert "<b>" not in text
    assert all(line.count("|") - line.count("\\|") in (0, 10, 12) for line in lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "r.json: not JSON: Expecting property name enclosed in double quotes (line 1"),
        (b"\xff", "r.json: not UTF-8 text"),
        (b"[]", "r.json: the document: expected an object, got an array"),
        (b'{"format": "x"}', "r.json: not a gi-conform check report"),
        (
            b'{"format": "gi-conform-check-report", "version": 2}',
            "r.json: report version 2; this gi-conform reads version 1",
        ),
    ],
)
def test_unreadable_reports_are_named(text: bytes, message: str) -> None:
    with pytest.raises(ReportError) as caught:
        load_report(text, "r.json")
    assert str(caught.value).startswith(message)


def test_a_malformed_case_is_named_by_its_path() -> None:
    data = check_report("one", [report_case("a"), report_case("b")])
    del data["cases"][1]["outcome"]  # type: ignore[index]
    with pytest.raises(ReportError, match=r"^r\.json: cases\[1\]\.outcome: missing$"):
        read_report(data, "r.json")
    data["cases"][1]["outcome"] = "won"  # type: ignore[index]
    with pytest.raises(ReportError, match=r"cases\[1\]\.outcome: expected one of passed, "):
        read_report(data, "r.json")
    data["cases"][1] = report_case("b", failures=[{"kind": "fact", "key": 3}])  # type: ignore[index]
    with pytest.raises(ReportError, match=r"cases\[1\]\.failures\[0\]\.key: expected a string"):
        read_report(data, "r.json")


def test_a_report_without_a_mode_is_argv() -> None:
    report = read_report(check_report("one", []), "r.json")
    assert report.mode == "argv"
    data = check_report("one", [])
    data["mode"] = "roundtrip"
    assert read_report(data, "r.json").mode == "roundtrip"


def test_a_row_says_when_the_reports_hold_different_documents_under_one_id() -> None:
    first = check_report("one", [report_case("gen-0-0001", dialect="seed"), report_case("a")])
    second = check_report(
        "two", [report_case("gen-0-0001", dialect="libvirt", expect="reject"), report_case("a")]
    )
    page = _page([first, second])
    generated, same = _rows(page)
    assert generated.get("class") == "differs"
    assert generated.find_class("dialect")[0].text == "seed / libvirt"
    assert generated.find_class("expect")[0].text == "accept / reject"
    tokens = {o.get("data-label"): o.get("value") for o in page.get_element_by_id("f-dialect")}
    assert generated.get("data-dialect").split() == [tokens["seed"], tokens["libvirt"]]
    assert same.get("class") is None
    assert same.get("data-dialect") == tokens["libvirt"]


def test_a_row_shows_the_findings_of_its_case_and_environment_stands_apart() -> None:
    """The ledger beside the failures it explains (issue 24): the implementation's
    findings with the truth that settles them, the harness's environment marked apart."""
    from dataclasses import replace  # noqa: PLC0415

    from gi_conform.findings import load_findings  # noqa: PLC0415

    mine = replace(load_findings()[0], case="gi-node-unknown", kind="gap")
    harness = replace(mine, id="harness-one", case="gi-node-unknown", kind="environment")
    reports = [check_report("one", [FAILED, GENERATED])]
    row, other = _rows(_page(reports, findings=(mine, harness)))
    items = row.find("th").findall("ul/li")
    assert [li.get("class") for li in items] == [
        "finding implementation",
        "finding environment",
    ]
    assert mine.id in items[0].text_content()
    assert f"truth: {mine.truth}" in items[0].text_content()
    assert items[1].text_content().startswith("harness-one environment:")
    assert other.find("th/ul") is None
    assert _rows(_page(reports))[0].find("th/ul") is None
