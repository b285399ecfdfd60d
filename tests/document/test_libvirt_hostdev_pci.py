"""Hostdev and PCI-topology rules, and the ramfb device line, against what libvirt 12.8
answered (``virsh domxml-to-native`` in the sid chroot, 2026-12-07; re-measured by
``tests/libvirt/test_libvirt_refusals.py`` where the chroot exists).

The rules: HOSTDEV-SOURCE-DUPLICATE and HOSTDEV-ADDRESS-SYNTAX (an mdev's ``<address
uuid>``) in libvirt's words, PCI-CONTROLLER-ROOT-MODEL, PCI-BUS-PLUG for controllers on
every machine, HOSTDEV-RAMFB-MULTIPLE, HOSTDEV-SWITCH-SYNTAX and HOSTDEV-MDEV-DISPLAY-
GRAPHICS on a PCI hostdev. Each refused row's message (libvirt's, its ``error: <kind>: ``
prefix removed) must appear in the reference's diagnostic of that rule, the only rule it
reports; each converted row must be accepted. Each plausible wrong implementation of a
rule (the reference's own before these measurements among them) must disagree with
libvirt on at least one row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from gi_conform import Domain, HostdevKind, Profile, build_argv, format_xml, parse, validate
from gi_conform.argv.build import flatten
from tests.document.test_libvirt_refusals import domain_xml
from tests.helpers import Measured, assert_refused_as_measured, model

_UUID = "53764d0e-85a0-42b4-af5c-2046b460b1dc"
_UUID2 = "53764d0e-85a0-42b4-af5c-2046b460b1dd"


def mdev(attrs: str = "", source: str = f"<address uuid='{_UUID}'/>") -> str:
    return (
        f"<hostdev mode='subsystem' type='mdev' model='vfio-pci'{attrs}><source>{source}"
        "</source></hostdev>"
    )


def pci(attrs: str = "", function: int = 5, guest: str = "") -> str:
    return (
        f"<hostdev mode='subsystem' type='pci'{attrs}><source><address domain='0x0000' "
        f"bus='0x06' slot='0x12' function='{function:#x}'/></source>{guest}</hostdev>"
    )


def ctl(index: int, model: str, address: str = "") -> str:
    tail = f">{address}</controller>" if address else "/>"
    return f"<controller type='pci' index='{index}' model='{model}'" + tail


def at(bus: int, slot: int) -> str:
    return (
        f"<address type='pci' domain='0x0000' bus='{bus:#04x}' slot='{slot:#04x}' function='0x0'/>"
    )


VNC = "<graphics type='vnc'/>"
VGA = "<video><model type='vga'/></video>"
UNASSIGNED = "<address type='unassigned'/>"

_DUP = "HOSTDEV-SOURCE-DUPLICATE"
_EXISTS = "Hostdev already exists in the domain configuration"
_SYNTAX = "HOSTDEV-ADDRESS-SYNTAX"
_ROOT = "PCI-CONTROLLER-ROOT-MODEL"
_PLUG = "PCI-BUS-PLUG"
_RAMFB = "HOSTDEV-RAMFB-MULTIPLE"
_ONE_RAMFB = "Only one vgpu device can have 'ramfb' enabled"
_SWITCH = "HOSTDEV-SWITCH-SYNTAX"
_DISPLAY = "HOSTDEV-MDEV-DISPLAY-GRAPHICS"
_NEEDS_GRAPHICS = "graphics device is needed for attribute value 'display=on' in <hostdev>"


def _must_be(want: str, found: str) -> str:
    return (
        f"The PCI controller with index='0' must be model='{want}' for this machine type, "
        f"but model='{found}' was found instead"
    )


def _plugged(address: str, bus: int, connect: str) -> str:
    return (
        f"The device at PCI address {address} cannot be plugged into the PCI controller "
        f"with index='{bus}'. It requires a controller that accepts a {connect}."
    )


_ROOT_INDEX = "pci-root and pcie-root controllers should have index 0"


def _src(**fields: str) -> str:
    values = {"domain": "0x0000", "bus": "0x06", "slot": "0x12", "function": "0x5", **fields}
    attrs = " ".join(f"{k}='{v}'" for k, v in values.items())
    return f"<hostdev mode='subsystem' type='pci'><source><address {attrs}/></source></hostdev>"


def _over(name: str, value: int) -> str:
    limit = {"bus": "0xFF", "slot": "0x1F"}[name]
    return f"Invalid PCI address {name}='{value:#x}', must be <= {limit}"


def _not_a_number(name: str, raw: str) -> str:
    return (
        f"Invalid value for attribute '{name}' in element 'address': '{raw}'. "
        "Expected non-negative integer value"
    )


_UNKNOWN = "PCI-CONTROLLER-MODEL-UNKNOWN"


def _unknown(model: str) -> str:
    return f"Unknown model type '{model}'"


_ZPCI = "HOSTDEV-ZPCI-ARCH"
_NO_ZPCI = "This QEMU binary doesn't support zPCI"
_ZPCI_AT = (
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'>"
    "<zpci uid='0x0019' fid='0x0000001f'/></address>"
)

ROWS = [
    # HOSTDEV-SOURCE-DUPLICATE: libvirt's words
    Measured("pci: the same host device twice", _DUP, domain_xml(pci() * 2, "pc"), _EXISTS),
    Measured("mdev: the same uuid twice", _DUP, domain_xml(mdev() * 2, "pc"), _EXISTS),
    Measured(
        "mdev: the same uuid in upper case",
        _DUP,
        domain_xml(mdev() + mdev(source=f"<address uuid='{_UUID.upper()}'/>"), "pc"),
        _EXISTS,
    ),
    Measured(
        "mdev: two uuids",
        _DUP,
        domain_xml(mdev() + mdev(source=f"<address uuid='{_UUID2}'/>"), "pc"),
        None,
    ),
    # an mdev's <address uuid>
    Measured(
        "mdev: no <address>",
        _SYNTAX,
        domain_xml(mdev(source=""), "pc"),
        "Missing <address> element",
    ),
    Measured(
        "mdev: a PCI address, no uuid",
        _SYNTAX,
        domain_xml(
            mdev(source="<address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>"), "pc"
        ),
        "Missing required attribute 'uuid' in element 'address'",
    ),
    Measured(
        "mdev: an empty <address/>",
        _SYNTAX,
        domain_xml(mdev(source="<address/>"), "pc"),
        "Missing required attribute 'uuid' in element 'address'",
    ),
    Measured(
        "mdev: uuid 'X'",
        _SYNTAX,
        domain_xml(mdev(source="<address uuid='X'/>"), "pc"),
        "Invalid value for attribute 'uuid' in element 'address': 'X'. Expected UUID",
    ),
    Measured(
        "mdev: an empty uuid",
        _SYNTAX,
        domain_xml(mdev(source="<address uuid=''/>"), "pc"),
        "Invalid value for attribute 'uuid' in element 'address': ''. Expected UUID",
    ),
    Measured(
        "mdev: uuid in upper case",
        _SYNTAX,
        domain_xml(mdev(source=f"<address uuid='{_UUID.upper()}'/>"), "pc"),
        None,
    ),
    Measured(
        "mdev: uuid without dashes",
        _SYNTAX,
        domain_xml(mdev(source=f"<address uuid='{_UUID.replace('-', '')}'/>"), "pc"),
        None,
    ),
    # a PCI hostdev's source and guest addresses, and a missing <source>
    Measured("q35: source bus 256", _SYNTAX, domain_xml(_src(bus="256")), _over("bus", 0x100)),
    Measured("q35: source slot 0x20", _SYNTAX, domain_xml(_src(slot="0x20")), _over("slot", 0x20)),
    Measured("q35: source slot 040", _SYNTAX, domain_xml(_src(slot="040")), _over("slot", 0x20)),
    Measured(
        "q35: source function 010",
        _SYNTAX,
        domain_xml(_src(function="010")),
        "Invalid PCI address function=0x8, must be <= 7",
    ),
    Measured(
        "q35: source slot 'x'", _SYNTAX, domain_xml(_src(slot="x")), _not_a_number("slot", "x")
    ),
    Measured(
        "q35: source slot '-1'", _SYNTAX, domain_xml(_src(slot="-1")), _not_a_number("slot", "-1")
    ),
    Measured(
        "q35: source slot '1e3'",
        _SYNTAX,
        domain_xml(_src(slot="1e3")),
        _not_a_number("slot", "1e3"),
    ),
    Measured(
        "q35: guest slot 0x20",
        _SYNTAX,
        domain_xml(pci(guest="<address type='pci' bus='0' slot='0x20'/>")),
        _over("slot", 0x20),
    ),
    Measured(
        "q35: guest function 8",
        _SYNTAX,
        domain_xml(pci(guest="<address type='pci' bus='0' slot='5' function='8'/>")),
        "Invalid PCI address function=0x8, must be <= 7",
    ),
    Measured(
        "q35: guest slot 'zz'",
        _SYNTAX,
        domain_xml(pci(guest="<address type='pci' bus='0' slot='zz'/>")),
        _not_a_number("slot", "zz"),
    ),
    Measured(
        "q35: no <source>",
        _SYNTAX,
        domain_xml("<hostdev mode='subsystem' type='pci'></hostdev>"),
        "Missing <source> element in hostdev device",
    ),
    # PCI-CONTROLLER-ROOT-MODEL
    Measured(
        "q35: pci-root at 0",
        _ROOT,
        domain_xml(ctl(0, "pci-root")),
        _must_be("pcie-root", "pci-root"),
    ),
    Measured(
        "pc: pcie-root at 0",
        _ROOT,
        domain_xml(ctl(0, "pcie-root"), "pc"),
        _must_be("pci-root", "pcie-root"),
    ),
    Measured(
        "virt: pci-root at 0",
        _ROOT,
        domain_xml(ctl(0, "pci-root"), "virt"),
        _must_be("pcie-root", "pci-root"),
    ),
    Measured(
        "q35: pci-bridge at 0",
        _ROOT,
        domain_xml(ctl(0, "pci-bridge")),
        _must_be("pcie-root", "pci-bridge"),
    ),
    Measured(
        "q35: pcie-root at 2",
        _ROOT,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-root")),
        _ROOT_INDEX,
    ),
    Measured("pc: pci-root at 1", _ROOT, domain_xml(ctl(1, "pci-root"), "pc"), _ROOT_INDEX),
    Measured("q35: pci-root at 1", _ROOT, domain_xml(ctl(1, "pci-root")), _ROOT_INDEX),
    Measured("q35: pcie-root at 0", _ROOT, domain_xml(ctl(0, "pcie-root")), None),
    Measured("pc: pci-root at 0", _ROOT, domain_xml(ctl(0, "pci-root"), "pc"), None),
    # PCI-CONTROLLER-MODEL-UNKNOWN: read before the root is checked
    Measured("q35: model 'foo' at 1", _UNKNOWN, domain_xml(ctl(1, "foo")), _unknown("foo")),
    Measured("q35: model 'foo' at 0", _UNKNOWN, domain_xml(ctl(0, "foo")), _unknown("foo")),
    Measured("pc: model 'foo' at 0", _UNKNOWN, domain_xml(ctl(0, "foo"), "pc"), _unknown("foo")),
    Measured(
        "virt: model 'foo' at 2", _UNKNOWN, domain_xml(ctl(2, "foo"), "virt"), _unknown("foo")
    ),
    Measured("q35: model 'default'", _UNKNOWN, domain_xml(ctl(1, "default")), _unknown("default")),
    Measured("q35: model ''", _UNKNOWN, domain_xml(ctl(1, "")), _unknown("")),
    Measured(
        "q35: model 'PCIe-Root-Port'",
        _UNKNOWN,
        domain_xml(ctl(1, "PCIe-Root-Port")),
        _unknown("PCIe-Root-Port"),
    ),
    Measured(
        "q35: model 'pcie-root-port '",
        _UNKNOWN,
        domain_xml(ctl(1, "pcie-root-port ")),
        _unknown("pcie-root-port "),
    ),
    Measured("q35: model 'pcie-root-port'", _UNKNOWN, domain_xml(ctl(1, "pcie-root-port")), None),
    # PCI-BUS-PLUG: controllers on every machine, hostdevs
    Measured(
        "pc: a pci-expander-bus on a pci-bridge",
        _PLUG,
        domain_xml(ctl(1, "pci-bridge") + ctl(2, "pci-expander-bus", at(1, 1)), "pc"),
        _plugged("0000:01:01.0", 1, "pci-expander-bus"),
    ),
    Measured(
        "pc: a pci-expander-bus on a pci-expander-bus",
        _PLUG,
        domain_xml(ctl(1, "pci-expander-bus") + ctl(2, "pci-expander-bus", at(1, 1)), "pc"),
        _plugged("0000:01:01.0", 1, "pci-expander-bus"),
    ),
    Measured(
        "pc: a pci-expander-bus on the bridge libvirt adds",
        _PLUG,
        domain_xml(ctl(3, "pci-expander-bus", at(2, 1)), "pc"),
        _plugged("0000:02:01.0", 2, "pci-expander-bus"),
    ),
    Measured(
        "pc: a pcie-root-port on pci-root",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port", at(0, 5)), "pc"),
        _plugged("0000:00:05.0", 0, "pcie-root-port"),
    ),
    Measured(
        "q35: a pcie-expander-bus on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-expander-bus", at(1, 0))),
        _plugged("0000:01:00.0", 1, "pcie-expander-bus"),
    ),
    Measured(
        "virt: a pcie-expander-bus on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-expander-bus", at(1, 0)), "virt"),
        _plugged("0000:01:00.0", 1, "pcie-expander-bus"),
    ),
    Measured(
        "q35: a dmi-to-pci-bridge on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "dmi-to-pci-bridge", at(1, 0))),
        _plugged("0000:01:00.0", 1, "dmi-to-pci-bridge"),
    ),
    Measured(
        "q35: an upstream port on pcie-root",
        _PLUG,
        domain_xml(ctl(1, "pcie-switch-upstream-port", at(0, 5))),
        _plugged("0000:00:05.0", 0, "pcie-switch-upstream-port"),
    ),
    Measured(
        "q35: a downstream port on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-switch-downstream-port", at(1, 0))),
        _plugged("0000:01:00.0", 1, "pcie-switch-downstream-port"),
    ),
    Measured(
        "q35: a pcie-to-pci-bridge on pcie-root",
        _PLUG,
        domain_xml(ctl(1, "pcie-to-pci-bridge", at(0, 5))),
        _plugged("0000:00:05.0", 0, "pcie-to-pci-bridge"),
    ),
    Measured(
        "q35: a root port on a dmi-to-pci-bridge",
        _PLUG,
        domain_xml(ctl(1, "dmi-to-pci-bridge") + ctl(2, "pcie-root-port", at(1, 1))),
        _plugged("0000:01:01.0", 1, "pcie-root-port"),
    ),
    Measured(
        "q35: a root port on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-root-port", at(1, 0))),
        _plugged("0000:01:00.0", 1, "pcie-root-port"),
    ),
    Measured(
        "q35: a root port on the root port libvirt adds",
        _PLUG,
        domain_xml(ctl(3, "pcie-root-port", at(2, 0))),
        _plugged("0000:02:00.0", 2, "pcie-root-port"),
    ),
    Measured(
        "q35: a pci-bridge on an upstream port",
        _PLUG,
        domain_xml(
            ctl(1, "pcie-root-port")
            + ctl(2, "pcie-switch-upstream-port", at(1, 0))
            + ctl(3, "pci-bridge", at(2, 0))
        ),
        _plugged("0000:02:00.0", 2, "standard PCI device"),
    ),
    Measured(
        "q35: a hostdev on an upstream port",
        _PLUG,
        domain_xml(
            ctl(1, "pcie-root-port")
            + ctl(2, "pcie-switch-upstream-port", at(1, 0))
            + pci(guest=at(2, 0))
        ),
        _plugged("0000:02:00.0", 2, "PCI Express device"),
    ),
    Measured(
        "virt: a hostdev on a pcie-expander-bus",
        _PLUG,
        domain_xml(ctl(1, "pcie-expander-bus") + pci(guest=at(1, 0)), "virt"),
        _plugged("0000:01:00.0", 1, "PCI Express device"),
    ),
    Measured(
        "pc: a pci-bridge on a pci-bridge",
        _PLUG,
        domain_xml(ctl(1, "pci-bridge") + ctl(2, "pci-bridge", at(1, 1)), "pc"),
        None,
    ),
    Measured(
        "pc: a pci-bridge on a pci-expander-bus",
        _PLUG,
        domain_xml(ctl(1, "pci-expander-bus") + ctl(2, "pci-bridge", at(1, 1)), "pc"),
        None,
    ),
    Measured(
        "pc: a pci-expander-bus on pci-root",
        _PLUG,
        domain_xml(ctl(1, "pci-expander-bus", at(0, 5)), "pc"),
        None,
    ),
    Measured(
        "q35: a pci-bridge on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pci-bridge", at(1, 0))),
        None,
    ),
    Measured(
        "q35: a pci-bridge on pcie-root", _PLUG, domain_xml(ctl(1, "pci-bridge", at(0, 5))), None
    ),
    Measured(
        "q35: a pcie-to-pci-bridge on a root port",
        _PLUG,
        domain_xml(ctl(1, "pcie-root-port") + ctl(2, "pcie-to-pci-bridge", at(1, 0))),
        None,
    ),
    Measured(
        "q35: a root port on a pcie-expander-bus",
        _PLUG,
        domain_xml(ctl(1, "pcie-expander-bus") + ctl(2, "pcie-root-port", at(1, 0))),
        None,
    ),
    Measured(
        "q35: a pcie-expander-bus on pcie-root",
        _PLUG,
        domain_xml(ctl(1, "pcie-expander-bus", at(0, 5))),
        None,
    ),
    Measured(
        "q35: a dmi-to-pci-bridge on pcie-root",
        _PLUG,
        domain_xml(ctl(1, "dmi-to-pci-bridge", at(0, 0x1E))),
        None,
    ),
    Measured(
        "q35: a hostdev on a dmi-to-pci-bridge",
        _PLUG,
        domain_xml(ctl(1, "dmi-to-pci-bridge") + pci(guest=at(1, 1))),
        None,
    ),
    # HOSTDEV-RAMFB-MULTIPLE: mdev and PCI alike, unassigned too
    Measured(
        "pc: two mdevs with ramfb",
        _RAMFB,
        domain_xml(
            mdev(" display='on' ramfb='on'")
            + mdev(" display='on' ramfb='on'", f"<address uuid='{_UUID2}'/>")
            + VNC
            + VGA,
            "pc",
        ),
        _ONE_RAMFB,
    ),
    Measured(
        "pc: two mdevs with ramfb, no display",
        _RAMFB,
        domain_xml(mdev(" ramfb='on'") + mdev(" ramfb='on'", f"<address uuid='{_UUID2}'/>"), "pc"),
        _ONE_RAMFB,
    ),
    Measured(
        "pc: two PCI hostdevs with ramfb",
        _RAMFB,
        domain_xml(
            pci(" display='on' ramfb='on'") + pci(" display='on' ramfb='on'", 6) + VNC, "pc"
        ),
        _ONE_RAMFB,
    ),
    Measured(
        "pc: a PCI hostdev and an mdev with ramfb",
        _RAMFB,
        domain_xml(
            pci(" display='on' ramfb='on'") + mdev(" display='on' ramfb='on'") + VNC + VGA, "pc"
        ),
        _ONE_RAMFB,
    ),
    Measured(
        "pc: two PCI hostdevs with ramfb, one unassigned",
        _RAMFB,
        domain_xml(pci(" ramfb='on'", guest=UNASSIGNED) + pci(" ramfb='on'", 6), "pc"),
        _ONE_RAMFB,
    ),
    Measured(
        "pc: one ramfb, one off",
        _RAMFB,
        domain_xml(pci(" ramfb='on'") + pci(" ramfb='off'", 6), "pc"),
        None,
    ),
    # HOSTDEV-SWITCH-SYNTAX
    Measured(
        "pc: ramfb='yes'",
        _SWITCH,
        domain_xml(pci(" ramfb='yes'"), "pc"),
        "Invalid value for attribute 'ramfb' in element 'hostdev': 'yes'.",
    ),
    Measured(
        "pc: an mdev's display='yes'",
        _SWITCH,
        domain_xml(mdev(" display='yes'"), "pc"),
        "Invalid value for attribute 'display' in element 'hostdev': 'yes'.",
    ),
    Measured(
        "pc: display='auto'",
        _SWITCH,
        domain_xml(pci(" display='auto'"), "pc"),
        "Invalid value for attribute 'display' in element 'hostdev': 'auto'.",
    ),
    Measured("pc: ramfb='off' alone", _SWITCH, domain_xml(pci(" ramfb='off'"), "pc"), None),
    # HOSTDEV-MDEV-DISPLAY-GRAPHICS on a PCI hostdev
    Measured(
        "pc: a PCI hostdev's display='on', no graphics",
        _DISPLAY,
        domain_xml(pci(" display='on'"), "pc"),
        _NEEDS_GRAPHICS,
    ),
    Measured(
        "pc: a PCI hostdev's display='on', a VGA video",
        _DISPLAY,
        domain_xml(pci(" display='on'") + VGA, "pc"),
        _NEEDS_GRAPHICS,
    ),
    Measured(
        "pc: a PCI hostdev's display and ramfb on, no graphics",
        _DISPLAY,
        domain_xml(pci(" display='on' ramfb='on'"), "pc"),
        _NEEDS_GRAPHICS,
    ),
    # HOSTDEV-ZPCI-ARCH
    Measured("pc: zpci uid and fid", _ZPCI, domain_xml(pci(guest=_ZPCI_AT), "pc"), _NO_ZPCI),
    Measured("q35: zpci uid and fid", _ZPCI, domain_xml(pci(guest=_ZPCI_AT)), _NO_ZPCI),
    Measured("virt: zpci uid and fid", _ZPCI, domain_xml(pci(guest=_ZPCI_AT), "virt"), _NO_ZPCI),
    Measured(
        "pc: an empty zpci",
        _ZPCI,
        domain_xml(pci(guest=_ZPCI_AT.replace(" uid='0x0019' fid='0x0000001f'", "")), "pc"),
        None,
    ),
    Measured(
        "pc: a PCI hostdev's ramfb on, no graphics",
        _DISPLAY,
        domain_xml(pci(" ramfb='on'"), "pc"),
        None,
    ),
    Measured(
        "pc: an mdev's ramfb on, display off, no graphics",
        _DISPLAY,
        domain_xml(mdev(" display='off' ramfb='on'"), "pc"),
        None,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_the_reference_refuses_exactly_what_libvirt_refuses(row: Measured) -> None:
    assert_refused_as_measured(row.xml, row)


# ------------------------------------------------------------ wrong implementations

Refuses = Callable[[Domain], bool]


def _ramfbs(domain: Domain, kinds: tuple[HostdevKind, ...], guest_only: bool = False) -> int:
    return sum(
        1 for h in domain.hostdevs if h.ramfb and h.kind in kinds and (h.in_guest or not guest_only)
    )


def _bus_model(domain: Domain, bus: int) -> str | None:
    for controller in domain.pci_controllers:
        if controller.index == bus:
            return controller.model
    return "pcie-root-port" if domain.pci_root_bus == "pcie.0" else "pci-bridge"


def _plug_before(domain: Domain) -> bool:
    """The reference's PCI-BUS-PLUG before: hostdevs on a pcie-expander-bus and root ports
    off the root complex or an expander bus, on PCIe machines only."""
    if domain.pci_root_bus != "pcie.0":
        return False
    for hostdev in domain.hostdevs:
        address = hostdev.guest_address
        if address and address.bus and _bus_model(domain, address.bus) == "pcie-expander-bus":
            return True
    return any(
        c.model == "pcie-root-port"
        and c.address is not None
        and c.address.bus != 0
        and _bus_model(domain, c.address.bus) != "pcie-expander-bus"
        for c in domain.pci_controllers
    )


def _bridge_strict(domain: Domain) -> bool:
    """A pci-bridge only where a bus lists pci-bridge (libvirt also lets it go where a PCI
    device may when placed by hand)."""
    return any(
        c.model == "pci-bridge"
        and c.address is not None
        and c.address.bus != 0
        and _bus_model(domain, c.address.bus) not in ("pci-bridge", "pci-expander-bus")
        for c in domain.pci_controllers
    )


_PCI_KINDS = (HostdevKind.PCI, HostdevKind.MDEV)
_KNOWN = {"pci-root", "pcie-root", "pci-bridge", "pcie-root-port", "dmi-to-pci-bridge"}
_KNOWN |= {"pcie-to-pci-bridge", "pcie-switch-upstream-port", "pcie-switch-downstream-port"}
_KNOWN |= {"pci-expander-bus", "pcie-expander-bus"}

WRONG: dict[str, tuple[str, Refuses]] = {
    "never refuses two ramfbs": (_RAMFB, lambda d: False),
    "counts mdevs only (libvirt's source read alone)": (
        _RAMFB,
        lambda d: _ramfbs(d, (HostdevKind.MDEV,)) > 1,
    ),
    "counts the devices in the guest only": (
        _RAMFB,
        lambda d: _ramfbs(d, _PCI_KINDS, guest_only=True) > 1,
    ),
    "never refuses a root model (the reference before)": (_ROOT, lambda d: False),
    "refuses pci-root on a PCIe machine only": (
        _ROOT,
        lambda d: (
            d.pci_root_bus == "pcie.0"
            and any(c.index == 0 and c.model == "pci-root" for c in d.pci_controllers)
        ),
    ),
    "refuses a wrong index 0 only": (
        _ROOT,
        lambda d: any(
            c.index == 0 and c.model != ("pcie-root" if d.pci_root_bus == "pcie.0" else "pci-root")
            for c in d.pci_controllers
        ),
    ),
    "takes any model (the reference before)": (_UNKNOWN, lambda d: False),
    "folds case and spaces": (
        _UNKNOWN,
        lambda d: any(
            c.model is not None and c.model.strip().lower() not in _KNOWN for c in d.pci_controllers
        ),
    ),
    "PCIe machines, hostdevs and root ports only (the reference before)": (_PLUG, _plug_before),
    "a pci-bridge where pci-bridge is listed only": (
        _PLUG,
        lambda d: _plug_before(d) or _bridge_strict(d),
    ),
    "display on a mdev only (the reference before)": (
        _DISPLAY,
        lambda d: (
            not d.graphics and any(h.display and h.kind is HostdevKind.MDEV for h in d.hostdevs)
        ),
    ),
    "ignores zpci (the reference before)": (_ZPCI, lambda d: False),
    "refuses any zpci, an empty one too": (
        _ZPCI,
        lambda d: any(h.zpci is not None for h in d.hostdevs),
    ),
    "display or ramfb needs a graphics": (
        _DISPLAY,
        lambda d: not d.graphics and any(h.display or h.ramfb for h in d.hostdevs),
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_each_wrong_implementation_disagrees_with_libvirt_somewhere(wrong: str) -> None:
    rule, refuses = WRONG[wrong]
    rows = [row for row in ROWS if row.rule == rule]
    disagree = [row.name for row in rows if refuses(model(row.xml)) != (row.refusal is not None)]
    assert disagree, f"{wrong}: agrees with libvirt on every measured document"


def test_the_old_messages_lack_libvirt_s_words() -> None:
    """The wording the reference had before (tests above hold the new one): none of them
    carries libvirt's text, so the golden comparison failed on them."""
    old = {
        _EXISTS: "host device 0000:06:12.5 is already assigned to 'hostdev0'",
        "Missing <address> element": "uuid '' is not valid (not a UUID)",
        "Missing required attribute 'uuid' in element 'address'": "uuid '' is not valid",
        _plugged("0000:01:00.0", 1, "PCI Express device"): (
            "cannot be plugged into the PCI controller with index='1' (pcie-expander-bus): it "
            "requires a controller that accepts a PCI Express device"
        ),
    }
    assert all(new not in text for new, text in old.items())


# ------------------------------------------------------------ the device line of ramfb


ARGV_ROWS: list[tuple[str, str, str]] = [
    (
        "mdev: display and ramfb on",
        domain_xml(mdev(" display='on' ramfb='on'") + VNC + VGA, "pc"),
        '{"driver":"vfio-pci-nohotplug","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"on","ramfb":true,"bus":"pci.0","addr":"0x3"}',
    ),
    (
        "mdev: display on, ramfb off",
        domain_xml(mdev(" display='on' ramfb='off'") + VNC + VGA, "pc"),
        '{"driver":"vfio-pci","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"on","bus":"pci.0","addr":"0x3"}',
    ),
    (
        "mdev: display off, ramfb on",
        domain_xml(mdev(" display='off' ramfb='on'") + VNC + VGA, "pc"),
        '{"driver":"vfio-pci-nohotplug","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","ramfb":true,"bus":"pci.0","addr":"0x3"}',
    ),
    (
        "mdev: ramfb on alone",
        domain_xml(mdev(" ramfb='on'") + VNC + VGA, "pc"),
        '{"driver":"vfio-pci-nohotplug","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","ramfb":true,"bus":"pci.0","addr":"0x3"}',
    ),
    (
        "mdev: ramfb on, display off, no graphics",
        domain_xml(mdev(" display='off' ramfb='on'"), "pc"),
        '{"driver":"vfio-pci-nohotplug","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","ramfb":true,"bus":"pci.0","addr":"0x2"}',
    ),
    (
        "mdev: ramfb off alone",
        domain_xml(mdev(" ramfb='off'"), "pc"),
        '{"driver":"vfio-pci","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","bus":"pci.0","addr":"0x2"}',
    ),
    (
        "mdev: uuid without dashes",
        domain_xml(mdev(source=f"<address uuid='{_UUID.replace('-', '')}'/>"), "pc"),
        '{"driver":"vfio-pci","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","bus":"pci.0","addr":"0x2"}',
    ),
    (
        "mdev: uuid in upper case",
        domain_xml(mdev(source=f"<address uuid='{_UUID.upper()}'/>"), "pc"),
        '{"driver":"vfio-pci","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"off","bus":"pci.0","addr":"0x2"}',
    ),
    (
        "virt: mdev ramfb on",
        domain_xml(mdev(" display='on' ramfb='on'") + VNC, "virt"),
        '{"driver":"vfio-pci-nohotplug","id":"hostdev0","sysfsdev":"/sys/bus/mdev/devices/53764d0e-85a0-42b4-af5c-2046b460b1dc","display":"on","ramfb":true,"bus":"pci.1","addr":"0x0"}',
    ),
    (
        "pci: display and ramfb on",
        domain_xml(pci(" display='on' ramfb='on'") + VNC, "pc"),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","display":"on","ramfb":true,"bus":"pci.0","addr":"0x3"}',
    ),
    (
        "pci: display and ramfb off",
        domain_xml(pci(" display='off' ramfb='off'", 6) + VNC, "pc"),
        '{"driver":"vfio-pci","host":"0000:06:12.6","id":"hostdev0","display":"off","bus":"pci.0","addr":"0x3"}',
    ),
    (
        "pci: display on, ramfb off",
        domain_xml(pci(" display='on' ramfb='off'") + VNC, "pc"),
        '{"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","display":"on","bus":"pci.0","addr":"0x3"}',
    ),
    (
        "pci: display on",
        domain_xml(pci(" display='on'") + VNC, "pc"),
        '{"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","display":"on","bus":"pci.0","addr":"0x3"}',
    ),
    (
        "pci: ramfb on",
        domain_xml(pci(" ramfb='on'") + VNC, "pc"),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","ramfb":true,"bus":"pci.0","addr":"0x3"}',
    ),
    (
        "pci: ramfb on, no graphics",
        domain_xml(pci(" ramfb='on'"), "pc"),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","ramfb":true,"bus":"pci.0","addr":"0x2"}',
    ),
    (
        "pci: ramfb off",
        domain_xml(pci(" ramfb='off'"), "pc"),
        '{"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","bus":"pci.0","addr":"0x2"}',
    ),
    (
        "pci: ramfb on at an explicit address",
        domain_xml(pci(" display='on' ramfb='on'", guest=at(0, 7)) + VNC, "pc"),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","display":"on","ramfb":true,"bus":"pci.0","addr":"0x7"}',
    ),
    (
        "q35: pci ramfb on",
        domain_xml(pci(" display='on' ramfb='on'") + VNC),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","display":"on","ramfb":true,"bus":"pci.2","addr":"0x0"}',
    ),
    (
        "virt: pci ramfb on",
        domain_xml(pci(" display='on' ramfb='on'") + VNC, "virt"),
        '{"driver":"vfio-pci-nohotplug","host":"0000:06:12.5","id":"hostdev0","display":"on","ramfb":true,"bus":"pci.1","addr":"0x0"}',
    ),
]
"""libvirt 12.8's ``-device`` line for each document (measured), placement included."""


def _vfio_lines(xml: str) -> list[str]:
    report = validate(xml)
    assert report.domain is not None, report.text()
    argv = flatten(build_argv(report.domain, Profile.LIBVIRT))
    return [
        value
        for flag, value in itertools.pairwise(argv)
        if flag == "-device" and value.startswith('{"driver":"vfio-pci')
    ]


@pytest.mark.parametrize("row", ARGV_ROWS, ids=lambda row: row[0])
def test_the_device_line_is_libvirt_s(row: tuple[str, str, str]) -> None:
    assert _vfio_lines(row[1]) == [row[2]]


@pytest.mark.parametrize("row", ARGV_ROWS, ids=lambda row: row[0])
def test_display_and_ramfb_are_written_back(row: tuple[str, str, str]) -> None:
    domain = parse(row[1])
    text = format_xml(domain)
    assert parse(text) == domain
    assert format_xml(parse(text)) == text


@pytest.mark.parametrize(
    "source",
    ["", "<address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>", "<address uuid='X'/>"],
    ids=["no-address", "no-uuid", "bad-uuid"],
)
def test_a_restated_invalid_mdev_source_is_refused_the_same_way(source: str) -> None:
    """The golden comparison re-states upstream inputs with the formatter: an mdev source
    it could not read must come back as written, not as an empty ``<source/>``."""
    xml = domain_xml(mdev(source=source), "pc")
    domain = model(xml)
    restated = format_xml(domain)
    assert validate(restated).text().split(": ", 1)[1] == validate(xml).text().split(": ", 1)[1]
    assert model(restated) == domain


@pytest.mark.parametrize(
    "zpci", ["<zpci uid='0x0019' fid='0x0000001f'/>", "<zpci/>", "<zpci uid='1'/>"]
)
@pytest.mark.parametrize("slot", [8, 0], ids=["at-slot-8", "empty-address"])
def test_zpci_is_written_back(zpci: str, slot: int) -> None:
    """The golden comparison re-states hostdev-vfio-zpci-wrong-arch: its ``<zpci>`` must
    survive, or the re-stated document is one libvirt converts."""
    address = at(0, slot).replace("/>", f">{zpci}</address>")
    xml = domain_xml(pci(guest=address), "pc")
    domain = model(xml)
    restated = format_xml(domain)
    assert "<zpci" in restated
    assert model(restated) == domain
    assert format_xml(model(restated)) == restated
    assert validate(restated).accepted == validate(xml).accepted
