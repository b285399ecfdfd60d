"""The inputs of a check: golden corpus cases and documents, each with its expectation.

The reference is the oracle: every case carries what the reference says about it, so
comparison is a pure function of (case, answer) and generated documents need no golden
files.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

from gi_conform.argv.build import Profile, build_argv, default_profile, flatten
from gi_conform.argv.options import read_args_text
from gi_conform.corpus import load_cases
from gi_conform.document.validate import validate
from gi_conform.oracle.model import CheckCase, Expectation
from gi_conform.semantics import document_dialect

__all__ = ["corpus_cases", "document_case", "expect"]


def expect(xml: str | bytes, profile: Profile | None = None) -> tuple[Expectation, Profile]:
    """The reference's answer, and the profile used (``None``: the document's own)."""
    report = validate(xml)
    domain = report.domain
    chosen = profile or (default_profile(domain) if domain is not None else Profile.LIBVIRT)
    argv: tuple[str, ...] = ()
    if report.accepted and domain is not None:
        argv = tuple(flatten(build_argv(domain, chosen)))
    expectation = Expectation(
        accepted=report.accepted,
        domain=domain,
        argv=argv,
        errors=tuple(dict.fromkeys(v.rule for v in report.errors)),
        rules=tuple(dict.fromkeys(v.rule for v in report.violations)),
        text=report.text(),
    )
    return expectation, chosen


def document_case(
    case_id: str,
    xml: str | bytes,
    *,
    source: str = "generated",
    profile: Profile | None = None,
    description: str = "",
) -> CheckCase:
    """A case for any document: the reference decides what is expected."""
    expectation, chosen = expect(xml, profile)
    return CheckCase(
        id=case_id,
        source=source,
        data=xml.encode("utf-8") if isinstance(xml, str) else xml,
        profile=chosen,
        dialect=document_dialect(expectation.domain).value,
        expectation=expectation,
        description=description,
    )


def _selected(case_id: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(case_id, p) for p in patterns)


def corpus_cases(
    folder: Path | None = None,
    *,
    dialects: Sequence[str] = (),
    patterns: Sequence[str] = (),
    profile: Profile | None = None,
) -> list[CheckCase]:
    """The golden corpus as check cases, in index order, filtered by dialect and id glob."""
    found: list[CheckCase] = []
    for case in load_cases(folder):
        if dialects and case.dialect not in dialects:
            continue
        if not _selected(case.id, patterns):
            continue
        data = case.xml_path.read_bytes()
        expectation, chosen = expect(data, profile)
        golden: tuple[str, ...] | None = None
        golden_path = case.args_path(chosen)
        if case.accepted and golden_path.is_file():
            golden = tuple(read_args_text(golden_path.read_text(encoding="utf-8")))
        found.append(
            CheckCase(
                id=case.id,
                source="corpus",
                data=data,
                profile=chosen,
                dialect=case.dialect,
                expectation=expectation,
                description=case.description,
                path=case.xml_path,
                golden=golden,
                golden_name=golden_path.name if golden is not None else "",
            )
        )
    return found
