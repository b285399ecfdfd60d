"""The guest address each Generic Initiator names, predicted from the document alone.

:func:`predicted_initiator_addresses` is what a booted guest's SRAT is held to (the
``GI of node N at the predicted guest address`` check of ``gi-conform guest``); here it is
held to addresses measured on real programs, and the check is shown to fail on an SRAT
that names another device.
"""

from __future__ import annotations

import pytest

from gi_conform.argv.build import Profile
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.guest_checks import (
    firmware_bus_numbers,
    initiator_place_checks,
    predicted_initiator_addresses,
)
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.runner import generated_cases
from gi_conform.semantics import initiator_pairs
from tests.helpers import corpus_case


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        # libvirt 12.8's own argv run in QEMU 10.0.2 (gi_conform.libvirt.proof.prove), the
        # SRAT read back: the three GPUs behind root ports 2-4 of six at 00:01.0-00:01.5,
        # the third GPU's initiators on both nodes
        (
            "placement-q35-three-gpus",
            {1: ("0000:02:00.0", "0000:04:00.0"), 2: ("0000:03:00.0", "0000:04:00.0")},
        ),
        # the pcie-to-pci-bridge of the PCI-only devices takes buses 3-4 before the GPU's port
        ("placement-q35-pci-only-devices", {1: ("0000:05:00.0",), 2: ("0000:05:00.0",)}),
        # i440fx: no bridges, libvirt's slots 2 and 3 of bus 0
        ("placement-pc-gpu-pair", {1: ("0000:00:02.0",), 2: ("0000:00:03.0",)}),
        # a pxb with bus_nr 254: its device sits behind QEMU's internal pci-bridge, bus 0xff
        # (gi-conform guest, x86_64, 2026-12-07; the prediction said 0xfe before)
        (
            "pci-expander-i440fx",
            {1: ("0000:ff:01.0",), 2: ("0000:ff:01.0",), 3: ("0000:ff:01.0",)},
        ),
    ],
)
def test_predicted_addresses_are_the_measured_ones(
    case_id: str, expected: dict[int, tuple[str, ...]]
) -> None:
    domain = corpus_case(case_id, Profile.LIBVIRT).expectation.domain
    assert domain is not None
    assert predicted_initiator_addresses(domain, Profile.LIBVIRT) == expected


def _entry(node: int, bus: int, slot: int) -> acpi.GenericInitiatorAffinity:
    return acpi.GenericInitiatorAffinity(
        proximity_domain=node,
        handle_type=1,
        pci_segment=0,
        pci_bus=bus,
        pci_devfn=slot << 3,
        enabled=True,
    )


def test_an_srat_naming_another_device_fails_the_check() -> None:
    domain = corpus_case("placement-q35-three-gpus", Profile.LIBVIRT).expectation.domain
    assert domain is not None
    right = (_entry(1, 2, 0), _entry(1, 4, 0), _entry(2, 3, 0), _entry(2, 4, 0))
    assert all(c.ok for c in initiator_place_checks(domain, Profile.LIBVIRT, right))
    # a firmware that numbered a port's bus otherwise, GPUs swapped between the nodes, an
    # initiator missing
    for wrong in (
        (_entry(1, 0x12, 0), _entry(1, 4, 0), _entry(2, 3, 0), _entry(2, 4, 0)),
        (_entry(1, 3, 0), _entry(1, 4, 0), _entry(2, 2, 0), _entry(2, 4, 0)),
        (_entry(1, 2, 0), _entry(2, 3, 0), _entry(2, 4, 0)),
    ):
        failed = [c for c in initiator_place_checks(domain, Profile.LIBVIRT, wrong) if not c.ok]
        assert failed
        assert failed[0].entry == "GI of node 1 at the predicted guest address"


def test_every_accepted_initiator_has_a_predicted_address() -> None:
    """For every accepted corpus document and 150 generated ones, every node with an
    initiator gets a predicted guest address, unless one of its devices is not in the
    guest (``<address type='unassigned'>``) or, in the seed profile, has no guest address
    (the seed's lines place no device: where QEMU puts it is QEMU's choice)."""
    missing: list[str] = []
    checked = 0
    for case in [*corpus_cases(), *generated_cases(150, 0)]:
        domain = case.expectation.domain
        if not case.expectation.accepted or domain is None:
            continue
        profile = Profile.SEED if case.dialect == "seed" else Profile.LIBVIRT
        absent = {
            h.alias
            for h in domain.hostdevs
            if not h.in_guest or (profile is Profile.SEED and h.guest_address is None)
        }
        nodes = {node for alias, node in initiator_pairs(domain) if alias not in absent}
        predicted = predicted_initiator_addresses(domain, profile)
        checked += bool(nodes)
        if not nodes <= set(predicted):
            missing.append(case.id)
    assert missing == []
    assert checked > 100


def test_an_integer_addr_is_a_devfn() -> None:
    """QEMU reads a JSON integer ``addr`` as devfn (slot << 3 | function), not a slot."""
    argv = [
        "-device",
        '{"driver":"pcie-root-port","id":"pci.1","bus":"pcie.0","addr":9}',
        "-device",
        '{"driver":"pcie-root-port","id":"pci.2","bus":"pcie.0","addr":8}',
    ]
    # devfn 8 is 01.0 and devfn 9 is 01.1: pci.2 comes first in the firmware's scan
    assert firmware_bus_numbers(argv) == {"pcie.0": 0, "pci.0": 0, "pci.2": 1, "pci.1": 2}
