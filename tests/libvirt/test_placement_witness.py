"""Where libvirt puts devices without a guest address, witnessed a second way.

``domxml-to-native`` is what the argv goldens and ``check --impl libvirt`` compare; here
libvirt's QEMU driver defines each document and ``dumpxml`` writes back the addresses it
assigned (:mod:`gi_conform.libvirt.addresses`): every in-guest hostdev's guest address
and every PCI controller (model, address, chassis, port) must be what
:mod:`gi_conform.pcitopology` predicts, for the accepted corpus and generated documents.
"""

from __future__ import annotations

import pytest

from gi_conform.libvirt.addresses import DumpedController, DumpedPlacement, assigned_addresses
from gi_conform.libvirt.install import Libvirt
from gi_conform.model import Domain, PciAddress
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.runner import generated_cases
from gi_conform.pcitopology import device_addresses, pci_topology

pytestmark = pytest.mark.libvirt


def _predicted(domain: Domain) -> DumpedPlacement:
    """The reference's placement in the shape dumpxml gives it (None where unmodelled)."""
    addresses = device_addresses(domain)
    hostdevs = tuple(addresses.get(h.alias) for h in domain.hostdevs if h.in_guest)
    controllers = {
        index: DumpedController(
            index,
            c.model,
            PciAddress(0, c.bus, c.slot, c.function)
            if c.bus is not None and c.slot is not None
            else None,
            c.chassis if c.model in ("pcie-root-port", "pcie-switch-downstream-port") else None,
            c.port,
        )
        for index, c in pci_topology(domain).items()
    }
    return DumpedPlacement(hostdevs, controllers)


def _comparable(dumped: DumpedController) -> DumpedController:
    # libvirt writes a chassis/port only for ports; the reference keeps the index as chassis
    return (
        dumped
        if dumped.model in ("pcie-root-port", "pcie-switch-downstream-port")
        else (DumpedController(dumped.index, dumped.model, dumped.address, None, None))
    )


def _documents() -> list[tuple[str, bytes, Domain]]:
    cases = [c for c in corpus_cases() if c.dialect == "libvirt"] + generated_cases(60, 0)
    return [
        (case.id, case.data, case.expectation.domain)
        for case in cases
        if case.expectation.accepted and case.expectation.domain is not None
    ]


def test_the_reference_places_what_libvirt_places(real_libvirt: Libvirt) -> None:
    mismatches: list[str] = []
    compared = placed = 0
    for case_id, data, domain in _documents():
        dumped = assigned_addresses(data, libvirt=real_libvirt)
        if dumped is None:
            continue  # libvirt refuses it (README: where libvirt is stricter)
        predicted = _predicted(domain)
        compared += 1
        placed += sum(
            1
            for h, a in zip(domain.hostdevs, predicted.hostdevs, strict=False)
            if h.guest_address is None and a is not None
        )
        wanted = {i: _comparable(c) for i, c in dumped.controllers.items()}
        if predicted.hostdevs != dumped.hostdevs or predicted.controllers != wanted:
            mismatches.append(f"{case_id}: {predicted} != {dumped}")
    assert compared >= 60, compared
    assert placed >= 20, placed  # the witness covers devices libvirt places itself
    assert not mismatches, "\n".join(mismatches)
