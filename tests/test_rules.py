"""The rule catalogue is the single source of diagnostics: the code uses exactly it."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import gi_conform
from gi_conform import catalogue
from gi_conform.rules import violation

_RULE_LITERAL = re.compile(
    r'"((?:XML|DOMAIN|NUMA|HOSTDEV|DEVICE|GI|MEMORY|NUMATUNE|HMAT|PCI|IOMMU)(?:-[A-Z0-9]+)+)"'
)


def _rule_ids_in_code() -> set[str]:
    package = Path(gi_conform.__file__).parent
    found: set[str] = set()
    for path in package.rglob("*.py"):
        found |= set(_RULE_LITERAL.findall(path.read_text()))
    return found


def test_code_uses_exactly_the_catalogue() -> None:
    used = _rule_ids_in_code()
    assert used - set(catalogue()) == set(), "ids used in code but not in rules.toml"
    assert set(catalogue()) - used == set(), "rules.toml entries the code never reports"


def test_catalogue_entries_are_complete() -> None:
    for rule in catalogue().values():
        assert rule.severity in ("error", "warning"), rule.id
        assert rule.source in ("seed", "libvirt", "qemu", "gi-conform"), rule.id
        assert rule.summary, rule.id
        fields = {name for _, name, _, _ in string.Formatter().parse(rule.message) if name}
        assert "element" in fields, rule.id
        if rule.source == "gi-conform":
            assert rule.why, f"{rule.id} is stricter than the real programs: say why"


def test_required_ids_exist() -> None:
    required = """XML-MALFORMED XML-FORBIDDEN XML-ROOT NUMA-NO-CELLS NUMA-CELL-ID-DUPLICATE
    NUMA-CELL-ID-NONCONTIGUOUS NUMA-TOO-MANY-CELLS NUMA-CPUS-SYNTAX NUMA-CPUS-OVERLAP
    NUMA-CPUS-OUT-OF-RANGE NUMA-MEMORY-SYNTAX NUMA-NO-MEMORY HOSTDEV-ADDRESS-SYNTAX
    HOSTDEV-SOURCE-DUPLICATE HOSTDEV-GUEST-ADDRESS-DUPLICATE DEVICE-ALIAS-DUPLICATE
    DEVICE-ALIAS-SYNTAX GI-MISSING-FIELD GI-NODE-SYNTAX GI-NO-NUMA GI-NODE-UNKNOWN
    GI-DEVICE-UNKNOWN GI-DEVICE-NOT-PCI GI-DUPLICATE GI-ACPI-DISABLED DOMAIN-ACPI-UEFI""".split()
    assert set(required) <= {r for r, rule in catalogue().items() if rule.severity == "error"}
    warnings = {r for r, rule in catalogue().items() if rule.severity == "warning"}
    assert {"NUMA-CELL-INVISIBLE", "GI-DEVICE-UNASSIGNED"} <= warnings


def test_unknown_rule_id_is_refused() -> None:
    with pytest.raises(KeyError):
        violation("NO-SUCH-RULE", 1, "x")


def test_readme_documents_every_rule_and_command() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    undocumented = [rule for rule in catalogue() if f"`{rule}`" not in readme]
    assert not undocumented, f"rules missing from README's rule list: {undocumented}"
    for command in ("gi-conform argv", "gi-conform validate", "gi-conform fmt"):
        assert command in readme
