"""The rule catalogue (``reference/rules.toml``) and the violations reported against it."""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from gi_conform.resources import reference_dir

__all__ = ["Rule", "Severity", "Violation", "catalogue", "violation"]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    source: str
    summary: str
    message: str
    why: str = ""
    qemu: str = "not-applicable"
    """What real QEMU does with a careless argv: refuses / accepts / not-applicable."""
    qemu_case: str = ""
    qemu_message: str = ""


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule at one place. Orders by line, then catalogue order, then text."""

    line: int
    rank: int
    message: str
    rule: str
    severity: Severity
    element: str

    def text(self) -> str:
        """The ``validate`` line format: ``SEVERITY RULE-ID line N: message``."""
        return f"{self.severity} {self.rule} line {self.line}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "line": self.line,
            "element": self.element,
            "message": self.message,
        }


@cache
def catalogue() -> Mapping[str, Rule]:
    """Every rule by id, in the file's order (which is also the report order)."""
    with (reference_dir() / "rules.toml").open("rb") as handle:
        data = tomllib.load(handle)
    rules: dict[str, Rule] = {}
    for entry in data["rule"]:
        rule = Rule(
            id=entry["id"],
            severity=Severity(entry["severity"]),
            source=entry["source"],
            summary=entry["summary"],
            message=entry["message"],
            why=entry.get("why", ""),
            qemu=entry.get("qemu", "not-applicable"),
            qemu_case=entry.get("qemu_case", ""),
            qemu_message=entry.get("qemu_message", ""),
        )
        if rule.id in rules:
            raise ValueError(f"rules.toml: duplicate rule id {rule.id}")
        rules[rule.id] = rule
    return MappingProxyType(rules)


@cache
def _ranks() -> Mapping[str, int]:
    return {rule_id: rank for rank, rule_id in enumerate(catalogue())}


def violation(rule_id: str, line: int, element: str, **fields: object) -> Violation:
    """Build a violation whose text comes from the catalogue's template for ``rule_id``."""
    rule = catalogue()[rule_id]
    message = rule.message.format(element=element, **fields)
    return Violation(
        line=line,
        rank=_ranks()[rule_id],
        message=message,
        rule=rule_id,
        severity=rule.severity,
        element=element,
    )
