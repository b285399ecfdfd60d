"""Published reports stay true: each report in ``reference/implementations/`` against a
fresh run of the same implementation over the corpus, and for the implementations that
need no libvirt also over the frozen set of generated documents the reports were made
from (``gi_conform.cli.publish.GENERATED``; with real libvirt it would add about 45 s),
and ``gi_conform.cli.publish`` renders the page with README's command.

Real libvirt, libvirt-xml, libvirt-schema and virtinst need ``gi-conform libvirt setup``
(CI has it) and are marked ``libvirt``; they skip, saying why, without it.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from gi_conform.cli.publish import (
    GENERATED,
    PUBLISHED,
    Published,
    check_arguments,
    page_arguments,
    readme_with_summary,
    summary_table,
)
from gi_conform.libvirt.install import LibvirtUnavailable, locate
from gi_conform.oracle.model import CheckOptions, Mode
from gi_conform.oracle.runner import run_check
from gi_conform.oracle.workers import usable_cores
from tests.helpers import ROOT


def _verdicts(
    cases: list[dict[str, Any]], sources: tuple[str, ...]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Case id -> (outcome, failure keys or error kind) of the cases of those sources."""
    return {
        case["id"]: (
            case["outcome"],
            tuple(sorted({f["key"] for f in case["failures"]}))
            + ((case["error_kind"],) if "error_kind" in case else ()),
        )
        for case in cases
        if case["source"] in sources
    }


@pytest.mark.parametrize(
    "published",
    [
        pytest.param(p, id=p.file, marks=[pytest.mark.libvirt] if p.libvirt else [])
        for p in PUBLISHED
    ],
)
def test_a_published_report_has_a_fresh_runs_verdicts(published: Published) -> None:
    if published.libvirt:
        try:
            locate()
        except LibvirtUnavailable as error:
            pytest.skip(f"no real libvirt: {error}")
    stored = json.loads(published.path.read_text(encoding="utf-8"))
    assert stored["implementation"]["spec"] == published.impl
    assert stored["options"].get("mode", "argv") == published.mode
    assert stored["options"].get("generated_from") == GENERATED, "run gi_conform.cli.publish"
    options = CheckOptions(
        impl=published.impl,
        mode=Mode(published.mode),
        generated=0,
        generated_from=None if published.libvirt else ROOT / GENERATED,
        jobs=min(4, usable_cores()),
        timeout=stored["options"]["timeout_s"],
    )
    fresh = run_check(options)
    sources = ("corpus",) if published.libvirt else ("corpus", "generated")
    want = _verdicts(stored["cases"], sources)
    got = _verdicts(
        [
            {
                "id": r.case.id,
                "source": r.case.source,
                "outcome": str(r.outcome),
                "failures": [{"key": key} for key in r.keys],
                **({"error_kind": str(r.answer.error_kind)} if r.answer.error_kind else {}),
            }
            for r in fresh.results
        ],
        sources,
    )
    changed = sorted(case for case in set(want) | set(got) if want.get(case) != got.get(case))
    assert not changed, (
        f"{published.file} is stale for {len(changed)} case(s), e.g. "
        + "; ".join(f"{c}: published {want.get(c)}, now {got.get(c)}" for c in changed[:5])
        + ": run python -m gi_conform.cli.publish"
    )


def test_publish_renders_the_page_with_readmes_command() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("gi-conform report reference/implementations/")
    command = shlex.split(text[start : text.index("```", start)].replace("\\\n", " "))
    assert command[1:] == page_arguments()
    assert {p.file for p in PUBLISHED} == {
        path.name
        for path in (ROOT / "reference" / "implementations").glob("*.json")
        if "proofs" not in path.name
    }


def test_check_arguments_name_the_implementation_and_mode(tmp_path: Any) -> None:
    arguments = check_arguments(PUBLISHED[1], tmp_path / "r.json")
    assert arguments[:5] == ["check", "--impl", "reference", "--mode", "roundtrip"]
    assert arguments[5:7] == ["--generated-from", GENERATED]
    assert arguments[-2:] == ["json", str(tmp_path / "r.json")]


def test_readme_summary_is_the_published_pages() -> None:
    """README's conformance figures are written from the page, never kept by hand."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    markdown = (ROOT / "reference" / "implementations" / "conformance.md").read_text(
        encoding="utf-8"
    )
    assert readme_with_summary(readme, markdown) == readme, (
        "README's conformance summary differs from conformance.md: "
        "run python -m gi_conform.cli.publish"
    )
    assert summary_table(markdown).count("\n") == len(PUBLISHED) + 2
