"""FACT-DEVICE-PLACE: a GI device the document places must sit there, without --strict.

The SRAT entry of a Generic Initiator carries its device's PCI handle, so a device moved
to another slot, function or bus (even one reached through the same kinds of controllers)
is a different guest, whatever the argv's spelling.
"""

from __future__ import annotations

import pytest

from gi_conform import parse
from gi_conform.argv.build import Profile
from gi_conform.argv.facts import DevicePlace, semantic_facts
from gi_conform.argv.read import read_argv
from gi_conform.pcitopology import controller_props, pci_topology
from tests.helpers import corpus_case, failure_keys


def _replace(argv: tuple[str, ...], old: str, new: str) -> list[str]:
    changed = [a.replace(old, new) for a in argv]
    assert changed != list(argv), old
    return changed


@pytest.mark.parametrize(
    ("addr", "devfn"),
    [
        ('"addr":"0x2"', 0x10),
        ('"addr":"0x1f.0x7"', 0xFF),
        ('"addr":"3.1"', 0x19),
        ('"addr":"16"', 0xB0),  # text is hex: slot 0x16
        ('"addr":16', 0x10),  # a JSON integer is the devfn itself (slot 2)
        ('"addr":" +0X3"', 0x18),
        ('"addr":"0x20"', None),
        ('"addr":"3.8"', None),
        ('"addr":"3."', None),
        ('"addr":256', None),
        ('"addr":"3 "', None),
    ],
)
def test_addr_is_read_as_qemu_reads_it(addr: str, devfn: int | None) -> None:
    """Measured with QEMU 10.0 (query-pci): these are the slots it gives."""
    (device,) = read_argv(["-device", f'{{"driver":"vfio-pci","id":"d",{addr}}}']).devices
    assert device.devfn == devfn


def test_keyval_addr_and_bus_nr() -> None:
    reading = read_argv(["-device", "pxb-pcie,bus_nr=0x80,id=p,addr=02.1"])
    (device,) = reading.devices
    assert (device.devfn, device.bus_nr) == (0x11, 0x80)


def test_the_reference_places_every_device_it_is_given() -> None:
    case = corpus_case("four-gpus-seed", Profile.LIBVIRT)
    places = dict(semantic_facts(case.expectation.argv).places)
    assert places["0000:42:00.0"] == DevicePlace("pci.2", "pcie.0 > pcie-root-port@01.1", 0)
    assert failure_keys(case, list(case.expectation.argv)) == []


def test_a_device_moved_to_another_slot_fails_by_default() -> None:
    case = corpus_case("libvirt-11.8-example")
    moved = _replace(case.expectation.argv, '"addr":"0x2"', '"addr":"0x3"')
    assert failure_keys(case, moved) == ["FACT-DEVICE-PLACE"]
    # the same place spelled otherwise is the same place
    assert failure_keys(case, _replace(case.expectation.argv, '"addr":"0x2"', '"addr":16')) == []


def test_a_device_moved_to_another_function_fails() -> None:
    case = corpus_case("libvirt-11.8-example")
    moved = _replace(case.expectation.argv, '"addr":"0x2"', '"addr":"0x2.0x1"')
    assert failure_keys(case, moved) == ["FACT-DEVICE-PLACE"]


def test_a_device_without_its_addr_fails() -> None:
    case = corpus_case("libvirt-11.8-example")
    moved = _replace(case.expectation.argv, ',"addr":"0x2"', "")
    assert failure_keys(case, moved) == ["FACT-DEVICE-PLACE"]


def test_swapped_root_ports_fail_though_the_drivers_match() -> None:
    """Both GPUs behind root ports: the path's drivers agree, the slots do not."""
    case = corpus_case("four-gpus-seed", Profile.LIBVIRT)
    swapped = [
        a.replace('"bus":"pci.1"', '"bus":"pci.X"')
        .replace('"bus":"pci.2"', '"bus":"pci.1"')
        .replace('"bus":"pci.X"', '"bus":"pci.2"')
        for a in case.expectation.argv
    ]
    keys = failure_keys(case, swapped)
    assert keys.count("FACT-DEVICE-PLACE") == 2
    assert "FACT-PCI-PATH" not in keys


def test_a_root_port_moved_moves_the_device() -> None:
    case = corpus_case("four-gpus-seed", Profile.LIBVIRT)
    moved = _replace(case.expectation.argv, '"addr":"0x1.0x3"', '"addr":"0x2"')
    assert failure_keys(case, moved) == ["FACT-DEVICE-PLACE"]


def test_an_expander_bus_number_is_part_of_the_place() -> None:
    case = corpus_case("pci-expander-gi-node")
    renumbered = _replace(case.expectation.argv, '"bus_nr":128', '"bus_nr":64')
    assert failure_keys(case, renumbered) == ["FACT-DEVICE-PLACE"]


def test_a_dropped_root_port_is_a_wrong_path_not_twice_reported() -> None:
    case = corpus_case("pci-expander-gi-node")
    argv = case.expectation.argv
    port = next(i for i, a in enumerate(argv) if '"driver":"pcie-root-port"' in a)
    dropped = [*argv[: port - 1], *argv[port + 1 :]]
    keys = failure_keys(case, dropped)
    assert "FACT-PCI-PATH" in keys
    assert "FACT-DEVICE-PLACE" not in keys


def test_the_seed_profile_compares_the_bus_it_names() -> None:
    """The cover letter's lines write no controllers: the bus id and addr are the place."""
    case = corpus_case("seed-example")
    assert case.profile is Profile.SEED
    assert failure_keys(
        case, _replace(case.expectation.argv, '"bus":"pci.3"', '"bus":"pci.4"')
    ) == ["FACT-DEVICE-PLACE"]


_PORT = "<controller type='pci' index='{}' model='pcie-root-port'>{}</controller>"
_AT = "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='{}'{}/>"


def _ports_domain(*ports: str) -> str:
    controllers = "".join(_PORT.format(i + 1, port) for i, port in enumerate(ports))
    return (
        "<domain type='kvm'><name>mf</name><memory unit='KiB'>1048576</memory><vcpu>2</vcpu>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>"
        "<cpu><numa>"
        "<cell id='0' cpus='0-1' memory='1048576' unit='KiB'/>"
        "<cell id='1' memory='0' unit='KiB'/></numa></cpu><devices>"
        "<controller type='usb' model='none'/><memballoon model='none'/>"
        f"<controller type='pci' index='0' model='pcie-root'/>{controllers}"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        "<address domain='0x0000' bus='0x06' slot='0x12' function='0x1'/></source>"
        "<acpi nodeset='1'/>"
        "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"
        "</hostdev></devices></domain>"
    )


@pytest.mark.parametrize(
    ("ports", "first"),
    [
        ((_AT.format(0, ""), _AT.format(1, "")), True),
        ((_AT.format(0, " multifunction='on'"),), True),
        ((_AT.format(0, " multifunction='off'"), _AT.format(1, "")), False),
        ((_AT.format(0, ""),), None),
        ((_AT.format(0, ""), _AT.format(3, "")), True),
        ((_AT.format(0, ""), ""), None),  # the second is placed on slot 1
    ],
)
def test_multifunction_on_explicitly_addressed_root_ports(
    ports: tuple[str, ...], first: bool | None
) -> None:
    """As libvirt 12.8 writes it (virsh domxml-to-native, 2026-12-07): what the address
    says, else on function 0 of a slot other functions share."""
    domain = parse(_ports_domain(*ports))
    props = controller_props(domain, pci_topology(domain)[1])
    assert props.get("multifunction") is first
