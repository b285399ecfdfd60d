"""Figures that cannot go stale. The docs take every count the repository determines from
a substitution written at build time (``docs/_ext/gi_docs.py``); this test holds those
substitutions to the code's own catalogues and the corpus's files, refuses a count typed
by hand in the docs' prose, and checks the README's counts where it states them (the
long README and the short one that points into the docs state different ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gi_conform.argv.invariants import invariant_catalogue
from gi_conform.cli.main import build_parser, command_parsers
from gi_conform.corpus import load_cases
from gi_conform.rules import Severity, catalogue
from tests.docs.gi_docs import gi_docs
from tests.helpers import ROOT

DOCS = ROOT / "docs"
COUNTED = (
    r"(?:corpus |golden |generated |accepted |rejected |error |warning )?"
    r"(?:cases?|rules?|invariants?|goldens?|findings?|tests?)\b"
)
HAND_TYPED = re.compile(rf"\b\d[\d,]*\s+{COUNTED}")


def _fresh() -> dict[str, int]:
    """The counts, from the code's own readers and the files (not from gi_docs)."""
    cases = load_cases()
    index = json.loads((ROOT / "cases" / "index.json").read_text())["cases"]
    rules = catalogue().values()
    return {
        "cases": len(cases),
        "cases_accepted": sum(1 for case in cases if case.expect == "accept"),
        "cases_rejected": sum(1 for case in cases if case.expect == "reject"),
        "cases_with_notes": sum(1 for case in index if case.get("notes")),
        "rules": len(catalogue()),
        "rules_error": sum(1 for rule in rules if rule.severity is Severity.ERROR),
        "rules_warning": sum(1 for rule in rules if rule.severity is Severity.WARNING),
        "invariants": len(invariant_catalogue()),
        "libvirt_goldens": len({p.name.split(".")[0] for p in _goldens()}),
        "corpus_files": len(list((ROOT / "cases").glob("*.xml"))),
        "generated": _check_default("--generated"),
    }


def _check_default(option: str) -> int:
    """``gi-conform check``'s default for an option, from its own parser."""
    parser = dict(command_parsers(build_parser()))["gi-conform check"]
    return int(next(a.default for a in parser._actions if option in a.option_strings))


def _goldens() -> list[Path]:
    folder = ROOT / "reference" / "libvirt-goldens"
    return [p for p in folder.iterdir() if p.suffix in {".xml", ".args", ".err"}]


def test_the_docs_substitutions_are_fresh_counts() -> None:
    fresh, counts = _fresh(), gi_docs.counts()
    assert fresh["corpus_files"] == counts["cases"]
    for name in fresh.keys() - {"corpus_files"}:
        assert counts[name] == fresh[name], name
    assert counts["cases"] == counts["cases_accepted"] + counts["cases_rejected"]
    assert counts["rules"] == counts["rules_error"] + counts["rules_warning"]


def _prose(path: Path) -> str:
    """A Markdown page without its fenced blocks (commands and their shown output)."""
    return re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_no_count_is_typed_by_hand_in_the_docs(page: Path) -> None:
    typed = HAND_TYPED.findall(_prose(page))
    assert not typed, f"{page.name}: write {{{{ NAME }}}} (gi_docs.counts) instead of {typed}"


def test_the_hand_typed_check_can_fail() -> None:
    assert HAND_TYPED.findall("the corpus has 146 cases and 67 rules; 15 invariants")
    assert not HAND_TYPED.findall("the corpus has {{ cases }} cases; 16 nodes; 2 cores")


README_CLAIMS: list[tuple[str, tuple[str, ...]]] = [
    (
        r"\b(\d+) cases \((\d+) accepted, (\d+) rejected\)",
        ("cases", "cases_accepted", "cases_rejected"),
    ),
    (r"the case's `notes` say how \((\d+) cases\)", ("cases_with_notes",)),
    (r"`reference/invariants\.toml`,\s+(\d+) ids", ("invariants",)),
    (r"with the PCI path \((\d+) goldens\)", ("libvirt_goldens",)),
    (
        r"\b(\d+) rules \((\d+) errors?, (\d+) warnings?\)",
        ("rules", "rules_error", "rules_warning"),
    ),
    (r"\b(\d+) generated documents \(`--generated`", ("generated",)),
]


def _stale_claims(readme: str) -> list[str]:
    fresh = _fresh()
    stale = []
    for pattern, names in README_CLAIMS:
        for match in re.finditer(pattern.replace(" ", r"\s+"), readme):
            said = [int(group.replace(",", "")) for group in match.groups()]
            true = [fresh[name] for name in names]
            if said != true:
                stale.append(f"{match.group(0)!r}: now {dict(zip(names, true, strict=True))}")
    return stale


def test_the_readme_s_counts_are_fresh() -> None:
    stale = _stale_claims((ROOT / "README.md").read_text())
    assert not stale, "README states stale counts:\n" + "\n".join(stale)


def test_the_readme_claims_can_fail() -> None:
    said = "the corpus (`cases/index.json`) and 7 generated documents (`--generated`, seed 0)"
    assert _stale_claims(said)
    assert _stale_claims("holds 3 cases (1 accepted, 2 rejected)")
