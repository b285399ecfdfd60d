"""Where libvirt 12.8 puts a device without a guest address (issue 23).

Each expected place below was measured with real libvirt 12.8 (``domxml-to-native`` in
the sid chroot; the corpus cases ``placement-*`` hold the documents and their argv), and
``tests/libvirt/test_placement_witness.py`` checks the same through ``define``/``dumpxml``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gi_conform import parse
from gi_conform.argv.build import Profile
from gi_conform.argv.facts import DevicePlace, semantic_facts
from gi_conform.groundtruth.guest_checks import firmware_bus_numbers
from gi_conform.groundtruth.runnable import document_command
from gi_conform.model import PciAddress
from gi_conform.pcitopology import bus_id, device_addresses, pci_topology
from tests.helpers import corpus_case, failure_keys


def _placed(case_id: str) -> list[tuple[int, int, int]]:
    domain = corpus_case(case_id).expectation.domain
    assert domain is not None
    addresses = device_addresses(domain)
    return [
        (a.bus, a.slot, a.function)
        for h in domain.hostdevs
        if h.in_guest and (a := addresses.get(h.alias)) is not None
    ]


@pytest.mark.parametrize(
    ("case_id", "places"),
    [
        # q35: the USB controller's port first, then one each, balloon after
        ("placement-q35-three-gpus", [(2, 0, 0), (3, 0, 0), (4, 0, 0)]),
        # i440fx: slots of pci.0 after PIIX3 (slot 1)
        ("placement-pc-gpu-pair", [(0, 2, 0), (0, 3, 0)]),
        # aarch64 virt: no default USB controller, so the first root port
        ("placement-virt-gpu-pair", [(1, 0, 0), (2, 0, 0)]),
        # the pcie-to-pci-bridge's root port is pci.1: every endpoint one port on
        ("placement-q35-pci-only-devices", [(4, 0, 0), (5, 0, 0)]),
        ("placement-q35-declared-port", [(2, 0, 0), (3, 0, 0)]),
        ("placement-q35-scsi-hostdevs", [(4, 0, 0)]),
        # ICH9 audio at 00:1b; the ICH6 card's bridge and its root port first
        ("placement-q35-sound-vsock", [(4, 0, 0), (5, 0, 0)]),
        # virt has no ICH9 chipset: the ICH9 card is PCI only, behind a bridge
        ("placement-virt-sound-panic", [(3, 0, 0), (4, 0, 0)]),
        ("no-guest-address", [(2, 0, 0)]),
        ("i440fx-no-guest-address", [(0, 2, 0)]),
    ],
)
def test_libvirts_place_for_devices_without_an_address(
    case_id: str, places: list[tuple[int, int, int]]
) -> None:
    assert _placed(case_id) == places


def test_the_root_ports_libvirt_adds() -> None:
    """Six ports as functions of slot 1 (multifunction on 1.0), port 8.., chassis 1..;
    the sixth is the spare libvirt leaves for hotplug."""
    domain = corpus_case("placement-q35-three-gpus").expectation.domain
    assert domain is not None
    topology = pci_topology(domain)
    assert sorted(topology) == [1, 2, 3, 4, 5, 6]
    assert [(c.slot, c.function, c.port, c.chassis) for c in topology.values()] == [
        (1, f, 8 + f, f + 1) for f in range(6)
    ]
    assert [c.multifunction for c in topology.values()] == [True, *[None] * 5]


def test_a_pci_only_device_brings_a_bridge() -> None:
    domain = corpus_case("placement-q35-pci-only-devices").expectation.domain
    assert domain is not None
    bridge = pci_topology(domain)[8]  # its own root port is 7
    assert (bridge.model, bridge.bus, bridge.slot) == ("pcie-to-pci-bridge", 1, 0)


def test_an_unmodelled_device_leaves_the_place_to_libvirt() -> None:
    """A NIC's place is not modelled, so neither is the GPU's after it."""
    domain = corpus_case("placement-q35-three-gpus").expectation.domain
    assert domain is not None
    unknown = replace(domain, other_pci=None)
    assert device_addresses(unknown) == {}
    assert device_addresses(domain, placed=False) == {}


def test_placed_devices_are_facts_without_strict() -> None:
    case = corpus_case("placement-q35-three-gpus", Profile.LIBVIRT)
    places = dict(semantic_facts(case.expectation.argv).places)
    assert places["0000:41:00.0"] == DevicePlace("pci.2", "pcie.0 > pcie-root-port@01.1", 0)
    assert failure_keys(case, list(case.expectation.argv)) == []


def test_an_implementation_that_leaves_placement_to_qemu_fails() -> None:
    """The old reference's answer (no bus/addr, no root ports) is now a wrong place."""
    case = corpus_case("placement-q35-three-gpus", Profile.LIBVIRT)
    argv = case.expectation.argv
    unplaced: list[str] = []
    without_ports: list[str] = []
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        option = [flag, value.split(',"bus"')[0] + "}" if "vfio-pci" in value else value]
        unplaced += option
        without_ports += option if "pcie-root-port" not in value else []
    # each GPU's path is then the root bus: a wrong path, reported once (not also as a
    # wrong place), with or without the ports
    assert failure_keys(case, unplaced) == ["FACT-PCI-PATH"] * 3
    assert failure_keys(case, without_ports) == ["FACT-PCI-PATH"] * 3


def test_swapped_placed_gpus_fail() -> None:
    case = corpus_case("placement-q35-three-gpus", Profile.LIBVIRT)
    swapped = [
        a.replace('"bus":"pci.2"', '"bus":"pci.X"')
        .replace('"bus":"pci.3"', '"bus":"pci.2"')
        .replace('"bus":"pci.X"', '"bus":"pci.3"')
        for a in case.expectation.argv
    ]
    assert failure_keys(case, swapped).count("FACT-DEVICE-PLACE") == 2


def test_the_seed_profile_leaves_the_place_to_qemu() -> None:
    case = corpus_case("placement-q35-three-gpus", Profile.SEED)
    assert not semantic_facts(case.expectation.argv).places or all(
        place.bus != "pci.2" for _, place in semantic_facts(case.expectation.argv).places
    )
    assert failure_keys(case, list(case.expectation.argv)) == []


def test_pci_address_zero_is_the_host_bridge_never_a_place() -> None:
    domain = corpus_case("placement-pc-gpu-pair").expectation.domain
    assert domain is not None
    assert PciAddress(0, 0, 0, 0) not in device_addresses(domain).values()


@pytest.mark.parametrize(
    ("case_id", "buses"),
    [
        ("placement-q35-three-gpus", [2, 3, 4]),
        # pci.1's pcie-to-pci-bridge takes bus 2 before pci.2..pci.4 are numbered
        ("placement-q35-pci-only-devices", [5, 6]),
        ("placement-q35-scsi-hostdevs", [4]),
        ("placement-virt-gpu-pair", [1, 2]),
        ("placement-pc-gpu-pair", [0, 0]),
    ],
)
def test_the_guest_bus_numbers_are_those_of_libvirts_guest(case_id: str, buses: list[int]) -> None:
    """The runnable command holds every controller libvirt writes, so the firmware numbers
    buses as in libvirt's guest. Measured: libvirt 12.8's own argv run in QEMU 10.0.2
    (``gi_conform.libvirt.proof.prove``): the SRAT names 0000:05:00.0 for the pci-only
    case's GPU (04:00.0 before every controller was put back), 02-04 for the three GPUs,
    04 with the SCSI controllers' bridge."""
    case = corpus_case(case_id, Profile.LIBVIRT)
    domain = case.expectation.domain
    assert domain is not None
    arch = "aarch64" if domain.arch == "aarch64" else "x86_64"
    command = document_command(domain, Profile.LIBVIRT, "qemu", arch=arch)
    numbers = firmware_bus_numbers(command)
    addresses = device_addresses(domain)
    found = [numbers[bus_id(domain, addresses[h.alias].bus)] for h in domain.hostdevs if h.in_guest]
    assert found == buses


def test_ports_without_address_join_an_explicit_ports_slot() -> None:
    """Measured (libvirt 12.8, ``digits-second-gpu-9-16``): root ports 3 and 4 without an
    address take 1.2 and 1.3 beside the explicit ports at 1.0 and 1.1, not a new slot."""
    domain = corpus_case("digits-second-gpu-9-16").expectation.domain
    assert domain is not None
    topology = pci_topology(domain)
    assert [(topology[i].slot, topology[i].function, topology[i].port) for i in (3, 4)] == [
        (1, 2, 10),
        (1, 3, 11),
    ]


@pytest.mark.parametrize(
    ("machine", "model", "gpu", "bridge"),
    [
        # measured with libvirt 12.8's define + dumpxml (domxml-to-native needs /dev/net/tun)
        ("q35", "", (4, 0, 0), True),  # rtl8139, PCI only: a pcie-to-pci-bridge on pci.1
        ("q35", "e1000", (4, 0, 0), True),
        ("q35", "virtio", (3, 0, 0), False),  # the NIC's port first, then USB's
        ("q35", "e1000e", (3, 0, 0), False),
        ("pc", "", (0, 3, 0), False),  # rtl8139 at slot 2
        ("virt", "", (2, 0, 0), False),  # aarch64's default NIC is virtio
    ],
)
def test_a_nic_is_placed_before_the_controllers(
    machine: str, model: str, gpu: tuple[int, int, int], bridge: bool
) -> None:
    os = {
        "q35": "<type arch='x86_64' machine='q35'>hvm</type>",
        "pc": "<type arch='x86_64' machine='pc'>hvm</type>",
        "virt": "<type arch='aarch64' machine='virt'>hvm</type>",
    }[machine]
    nic = f"<model type='{model}'/>" if model else ""
    document = (
        f"<domain type='kvm'><name>n</name><memory unit='KiB'>1048576</memory><os>{os}</os>"
        "<devices><interface type='user'>" + nic + "</interface>"
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='6' slot='0' "
        "function='0'/></source></hostdev></devices></domain>"
    )
    domain = parse(document)
    (address,) = device_addresses(domain).values()
    assert (address.bus, address.slot, address.function) == gpu
    models = {c.model for c in pci_topology(domain).values()}
    assert ("pcie-to-pci-bridge" in models) is bridge


def _with(case_id: str, *tokens: str) -> list[tuple[int, int, int]]:
    """The GPUs' places in ``case_id`` with the placement tokens ``tokens`` instead."""
    domain = corpus_case(case_id).expectation.domain
    assert domain is not None
    domain = replace(domain, other_pci=tokens)
    addresses = device_addresses(domain)
    return [(a.bus, a.slot, a.function) for h in domain.hostdevs if (a := addresses[h.alias])]


@pytest.mark.parametrize(
    ("tokens", "places"),
    [
        # each measured: libvirt 12.8 define + dumpxml of the case with those devices added
        ((), [(2, 0, 0), (3, 0, 0), (4, 0, 0)]),
        (("sound:ich9",), [(2, 0, 0), (3, 0, 0), (4, 0, 0)]),  # 00:1b
        (("sound:ich9", "sound:ich9"), [(4, 0, 0), (5, 0, 0), (6, 0, 0)]),  # 2nd: PCI
        (("sound:ac97",), [(4, 0, 0), (5, 0, 0), (6, 0, 0)]),
        (("interface:hostdev",), [(3, 0, 0), (4, 0, 0), (5, 0, 0)]),  # before <hostdev>s
        (("filesystem:virtio",), [(3, 0, 0), (4, 0, 0), (5, 0, 0)]),
        (("disk:virtio-transitional",), [(4, 0, 0), (5, 0, 0), (6, 0, 0)]),  # PCI only
        # after the hostdevs: they only add their own ports or bridge
        (("vsock:virtio", "panic:pvpanic", "crypto", "shmem"), [(3, 0, 0), (4, 0, 0), (5, 0, 0)]),
    ],
)
def test_other_devices_move_the_gpus_as_in_libvirt(
    tokens: tuple[str, ...], places: list[tuple[int, int, int]]
) -> None:
    assert _with("placement-q35-three-gpus", *tokens) == places


def test_integrated_devices_take_bus_0_or_nothing() -> None:
    """A pvpanic on a q35 whose bus 0 is full: libvirt's second pass refuses (no slot on
    bus 0, and an integrated device gets no bus), so no place is modelled."""
    domain = corpus_case("placement-q35-three-gpus").expectation.domain
    assert domain is not None
    full = replace(domain, root_slots_taken=tuple(range(2, 31)))
    assert device_addresses(replace(full, other_pci=())) != {}
    assert device_addresses(replace(full, other_pci=("panic:pvpanic",))) == {}


def test_a_full_i440fx_bus_0_places_nothing() -> None:
    """Every slot of pci.0 taken: the pci-bridge libvirt would add has no slot but on
    itself, and libvirt 12.8 refuses ("index must be larger than bus"); with one slot
    free the bridge takes it and the GPUs go behind it (both measured)."""
    domain = corpus_case("placement-pc-gpu-pair").expectation.domain
    assert domain is not None
    assert device_addresses(replace(domain, root_slots_taken=tuple(range(2, 32)))) == {}
    one_free = replace(domain, root_slots_taken=tuple(range(3, 32)))
    assert sorted(device_addresses(one_free).values()) == [
        PciAddress(0, 1, 1, 0),
        PciAddress(0, 1, 2, 0),
    ]
    assert (pci_topology(one_free)[1].bus, pci_topology(one_free)[1].slot) == (0, 2)
