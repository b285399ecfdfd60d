"""The parser builds its model objects with ``_assembled``: they must be what the
dataclass constructor builds, every field set."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gi_conform import validate
from gi_conform.document.parse import Parsed, read_domain
from gi_conform.document.validate import Report
from gi_conform.model import Cell, Domain, Hostdev, Initiator, PciAddress
from gi_conform.resources import cases_dir


def _objects(domain: Domain) -> list[object]:
    addresses = [
        address
        for hostdev in domain.hostdevs
        for address in (hostdev.source, hostdev.guest_address)
        if isinstance(address, PciAddress)
    ]
    return [domain, *domain.cells, *domain.hostdevs, *domain.initiators, *addresses]


@pytest.mark.parametrize("path", sorted(cases_dir().glob("*.xml")), ids=lambda p: p.stem)
def test_parsed_objects_equal_constructed_ones(path: Path) -> None:
    report = validate(path.read_bytes())
    domain = report.domain
    built_objects: list[object] = [report, read_domain(path.read_bytes())]
    if domain is not None:
        built_objects.extend(_objects(domain))
    for built in built_objects:
        cls = type(built)
        assert cls in (Report, Parsed, Domain, Cell, Hostdev, Initiator, PciAddress)
        names = [field.name for field in dataclasses.fields(cls)]
        assert set(vars(built)) >= set(names)
        constructed = cls(**{name: getattr(built, name) for name in names})
        assert constructed == built
        assert repr(constructed) == repr(built)
        assert [getattr(constructed, n) for n in names] == [getattr(built, n) for n in names]
