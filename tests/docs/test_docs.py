"""The documentation: it builds with warnings as errors, its reference pages hold what
the repository holds (every rule id, invariant, command, option and finding), and
headless Chromium renders its start page."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from lxml import html

from gi_conform.cli.main import build_parser, command_parsers
from tests.docs.gi_docs import gi_docs
from tests.helpers import ROOT
from tests.oracle.test_page_browser import CHROMIUM, HEIGHT, WIDTH, _chromium, _png_colours

SECTIONS = ("tutorial", "howto", "reference", "explanation")


def _text(page: Path) -> str:
    return str(html.fromstring(page.read_bytes()).text_content())


def test_every_page_is_in_a_section_and_in_the_table_of_contents() -> None:
    docs = ROOT / "docs"
    pages = sorted(p.relative_to(docs) for p in docs.glob("*/*.md") if p.parts[-2] != "_ext")
    assert {p.parts[0] for p in pages} == set(SECTIONS)
    index = (docs / "index.md").read_text()
    for page in pages:
        assert str(page.with_suffix("")) in index, f"{page} is in no toctree"


def test_the_rules_page_lists_every_rule_id(built_docs: Path) -> None:
    rules = tomllib.loads((ROOT / "reference" / "rules.toml").read_text())["rule"]
    text = _text(built_docs / "reference" / "rules.html")
    missing = [rule["id"] for rule in rules if rule["id"] not in text]
    assert not missing
    assert len(rules) > 60


def test_the_invariants_page_lists_every_invariant(built_docs: Path) -> None:
    invariants = tomllib.loads((ROOT / "reference" / "invariants.toml").read_text())
    text = _text(built_docs / "reference" / "invariants.html")
    assert all(inv["id"] in text for inv in invariants["invariant"])


def test_the_cli_page_lists_every_command_option_and_exit_status(built_docs: Path) -> None:
    text = _text(built_docs / "reference" / "cli.html")
    for prog, parser in command_parsers(build_parser()):
        assert prog in text
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in text, f"{prog} {flag}"
    assert "130" in text
    assert "internal error" in text


def test_the_findings_page_holds_every_finding(built_docs: Path) -> None:
    ledger = tomllib.loads((ROOT / "reference" / "findings.toml").read_text())["finding"]
    text = _text(built_docs / "reference" / "findings.html")
    for finding in ledger:
        assert finding["id"] in text
        assert " ".join(finding["reproduce"].split()) in " ".join(text.split())


def test_no_substitution_or_marker_is_left(built_docs: Path) -> None:
    for page in built_docs.rglob("*.html"):
        text = page.read_text()
        assert "{{" not in _text(page), page
        assert "gi-docs:" not in text, page


def test_an_unknown_part_fails_the_build() -> None:
    with pytest.raises(ValueError, match="unknown gi-docs part 'nope'"):
        gi_docs.expand("<!-- gi-docs: nope -->\n")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (.ci/setup installs it)")
def test_chromium_renders_the_start_page(built_docs: Path, tmp_path: Path) -> None:
    start = (built_docs / "index.html").as_uri()
    dom = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", start).decode()
    tree = html.fromstring(dom)
    assert "gi-conform" in tree.findtext(".//title")
    links = {a.get("href", "") for a in tree.iter("a")}
    for section in SECTIONS:
        assert any(href.startswith(f"{section}/") for href in links), section
    assert re.search(r"\b\d+ cases\b", tree.text_content())
    shot = tmp_path / "start.png"
    _chromium(tmp_path, f"--screenshot={shot}", start)
    width, height, colours = _png_colours(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    white = sum(n for colour, n in colours.items() if min(colour) >= 250)
    assert white < 0.97 * width * height, "the page rendered blank"
    assert len(colours) > 50, "no text or theme colours: the style did not load"
