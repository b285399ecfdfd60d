"""Where libvirt puts devices without a guest address, witnessed a second way.

``domxml-to-native`` is what the argv goldens and ``check --impl libvirt`` compare; here
libvirt's QEMU driver defines each document and ``dumpxml`` writes back the addresses it
assigned (:mod:`gi_conform.libvirt.addresses`): every in-guest hostdev's guest address,
every PCI controller (model, address, chassis, port) and, where modelled, every other
device libvirt places must be what :mod:`gi_conform.pcitopology` predicts, for the
accepted corpus and generated documents.
"""

from __future__ import annotations

import pytest

from gi_conform.libvirt.addresses import DumpedController, DumpedPlacement, assigned_addresses
from gi_conform.libvirt.install import Libvirt
from gi_conform.model import Domain, PciAddress
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.runner import generated_cases
from gi_conform.pcitopology import device_addresses, other_device_addresses, pci_topology

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
    return DumpedPlacement(hostdevs, controllers, other_device_addresses(domain) or ())


def _chipsets(domain: Domain) -> set[tuple[str, PciAddress]]:
    """What libvirt writes at the chipset's or the document's own address, which the
    reference does not list among the devices it places: q35's SATA at 00:1f.2,
    i440fx's IDE and USB at 00:01.1/.2, an x86 primary video, explicit bus-0 addresses."""
    if domain.arch not in ("x86_64", "i686"):
        return set()
    q35 = domain.pci_root_bus == "pcie.0"
    fixed = {("controller", PciAddress(0, 0, 0x1F, 2))} if q35 else set()
    fixed |= set() if q35 else {("controller", PciAddress(0, 0, 1, f)) for f in (1, 2)}
    return fixed | ({("video", PciAddress(0, 0, 1 if q35 else 2, 0))} if domain.video else set())


def others_agree(domain: Domain, predicted: DumpedPlacement, dumped: DumpedPlacement) -> bool:
    """The other devices' places, where the reference models them: the same (tag,
    address) pairs as libvirt's, the chipset's and explicit ones aside."""
    if other_device_addresses(domain) is None:
        return True
    own = _chipsets(domain)
    wanted = sorted(
        (tag, a)
        for tag, a in dumped.others
        if (tag, a) not in own and not (a.bus == 0 and a.slot in domain.root_slots_taken)
    )
    return sorted(predicted.others) == wanted


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
        if (
            predicted.hostdevs != dumped.hostdevs
            or predicted.controllers != wanted
            or not others_agree(domain, predicted, dumped)
        ):
            mismatches.append(f"{case_id}: {predicted} != {dumped}")
    assert compared >= 60, compared
    assert placed >= 20, placed  # the witness covers devices libvirt places itself
    assert not mismatches, "\n".join(mismatches)
