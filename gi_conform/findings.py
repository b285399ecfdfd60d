"""The findings ledger, ``reference/findings.toml``: what real implementations of Generic
Initiators do wrong or differently, each with the truth that settles it and a command that
reproduces it. Read here into frozen dataclasses so the docs, the tests that re-check the
ledger and a report can show a finding next to the failures it explains (by case id).
"""

from __future__ import annotations

import importlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gi_conform.resources import reference_dir

__all__ = ["KINDS", "Finding", "LedgerError", "findings_by_case", "load_findings"]

KINDS = ("bug", "gap", "stricter", "difference", "limit", "environment")
"""What a finding is; ``environment`` is the harness's own (the chroot, this host), not the
implementation's, so a report shows it apart from the implementation's failures."""


class LedgerError(ValueError):
    """The ledger does not follow ``reference/findings.schema.json`` (the field named)."""


@dataclass(frozen=True)
class Finding:
    """One entry of the ledger (the schema documents each field)."""

    id: str
    title: str
    implementation: str
    version: str
    case: str | None
    kind: str
    expected: str
    seen: str
    truth: str
    upstream: str
    reproduce: str
    needs: tuple[str, ...]
    expect: str
    exit: int | None

    @property
    def environmental(self) -> bool:
        """Caused by the harness's environment, not by the implementation."""
        return self.kind == "environment"


def _finding(entry: Mapping[str, Any]) -> Finding:
    return Finding(
        id=entry["id"],
        title=entry["title"],
        implementation=entry["implementation"],
        version=entry["version"],
        case=entry.get("case"),
        kind=entry["kind"],
        expected=entry["expected"],
        seen=entry["seen"],
        truth=entry["truth"],
        upstream=entry["upstream"],
        reproduce=entry["reproduce"],
        needs=tuple(entry["needs"]),
        expect=entry["expect"],
        exit=entry.get("exit"),
    )


def load_findings(path: Path | None = None) -> tuple[Finding, ...]:
    """The ledger at ``path`` (default: the bundled one), in file order; LedgerError
    naming the first wrong field, or a duplicate id."""
    path = path or reference_dir() / "findings.toml"
    schema = json.loads((reference_dir() / "findings.schema.json").read_text(encoding="utf-8"))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LedgerError(f"{path}: {error}") from None
    # Imported by name: jsonschema ships no type stubs (as in oracle.protocol).
    jsonschema = importlib.import_module("jsonschema")
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(data),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path) or "(top)"
        raise LedgerError(f"{path}: {where}: {errors[0].message}")
    findings = tuple(_finding(entry) for entry in data["finding"])
    seen: set[str] = set()
    for finding in findings:
        if finding.id in seen:
            raise LedgerError(f"{path}: duplicate finding id {finding.id!r}")
        seen.add(finding.id)
    return findings


def findings_by_case(findings: tuple[Finding, ...]) -> Mapping[str, tuple[Finding, ...]]:
    """Corpus case id -> the findings it shows (a report's row looks its case up here)."""
    by_case: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.case is not None:
            by_case.setdefault(finding.case, []).append(finding)
    return {case: tuple(items) for case, items in by_case.items()}
