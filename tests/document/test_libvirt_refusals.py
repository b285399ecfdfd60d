"""HOSTDEV-MDEV-DISPLAY-GRAPHICS and PCI-CONTROLLER-MODEL-MISSING against what libvirt 12.8
answered (``virsh domxml-to-native`` in the sid chroot, 2026-12-07; re-measured by
``tests/libvirt/test_libvirt_refusals.py`` where the chroot exists).

Each row is one document and libvirt's verdict on it: the reference's rule must fire on
exactly the rows libvirt refuses with that rule's message, and each plausible wrong
implementation of the rule must disagree with libvirt on at least one row.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gi_conform import Domain, HostdevKind, format_xml, parse, validate
from tests.helpers import Measured, assert_refused_as_measured, model

_MDEV = (
    "<hostdev mode='subsystem' type='mdev' model='vfio-pci'{attrs}><source>"
    "<address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/></source></hostdev>"
)
_GPU = (
    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
    "<address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/></source>{guest}</hostdev>"
)
_MACHINES = {"q35": ("x86_64", "q35"), "pc": ("x86_64", "pc"), "virt": ("aarch64", "virt")}
_DISPLAY = "graphics device is needed for attribute value 'display=on' in <hostdev>"
_NOT_SET = "PCI controller model was not set correctly"


def _root(machine: str) -> str:
    return "pci-root" if machine == "pc" else "pcie-root"


def _root_message(root: str) -> str:
    return (
        f"The PCI controller with index='0' must be model='{root}' for this machine type, "
        "but model='(null)' was found instead"
    )


def domain_xml(devices: str, machine: str = "q35") -> str:
    """A small domain as measured: no NUMA, no ACPI, one vCPU (the rules are about devices)."""
    arch, name = _MACHINES[machine]
    kind = "qemu" if arch == "aarch64" else "kvm"
    return (
        f"<domain type='{kind}'><name>t</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"
        f"<memory unit='KiB'>219136</memory><vcpu placement='static'>1</vcpu>"
        f"<os><type arch='{arch}' machine='{name}'>hvm</type></os><devices>"
        f"<emulator>/usr/bin/qemu-system-{arch}</emulator>{devices}</devices></domain>"
    )


def mdev(display: str | None = "on", ramfb: bool = False) -> str:
    attrs = "" if display is None else f" display='{display}'"
    return _MDEV.format(attrs=attrs + (" ramfb='on'" if ramfb else ""))


def gpu(bus: int | None = None, slot: int = 0) -> str:
    guest = (
        ""
        if bus is None
        else f"<address type='pci' domain='0x0000' bus='{bus:#04x}' slot='{slot:#04x}' "
        "function='0x0'/>"
    )
    return _GPU.format(guest=guest)


VNC = "<graphics type='vnc'/>"
NO_VIDEO = "<video><model type='none'/></video>"
VGA = "<video><model type='vga'/></video>"

DISPLAY_ROWS = [
    Measured("display on, nothing else", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev(), _DISPLAY),
    Measured("display on, a VGA video", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev() + VGA, _DISPLAY),
    Measured(
        "display on, video none", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev() + NO_VIDEO, _DISPLAY
    ),
    Measured("display and ramfb on", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev(ramfb=True), _DISPLAY),
    Measured(
        "display on, pc",
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        domain_xml(mdev(), "pc"),
        _DISPLAY,
    ),
    Measured(
        "display on, virt",
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        domain_xml(mdev(), "virt"),
        _DISPLAY,
    ),
    Measured(
        "one of two mdevs on",
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        mdev() + mdev("off").replace("53764d0e", "63764d0e"),
        _DISPLAY,
    ),
    Measured("display on, vnc", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev() + VNC, None),
    Measured(
        "display on, vnc, video none",
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        mdev() + VNC + NO_VIDEO,
        None,
    ),
    Measured(
        "display on, sdl", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev() + "<graphics type='sdl'/>", None
    ),
    Measured(
        "display on, vnc, virt",
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        domain_xml(mdev() + VNC, "virt"),
        None,
    ),
    Measured("display off", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev("off"), None),
    Measured("no display attribute", "HOSTDEV-MDEV-DISPLAY-GRAPHICS", mdev(None), None),
]

_MODEL = "PCI-CONTROLLER-MODEL-MISSING"
CONTROLLER_ROWS = [
    row
    for machine in _MACHINES
    for row in (
        Measured(
            f"{machine}: index 1, no model", _MODEL, "<controller type='pci' index='1'/>", _NOT_SET
        ),
        Measured(
            f"{machine}: index 1, no model, the GPU on it",
            _MODEL,
            "<controller type='pci' index='1'/>" + gpu(1),
            _NOT_SET,
        ),
        Measured(
            f"{machine}: index 1, no model, the GPU at slot 1",
            _MODEL,
            "<controller type='pci' index='1'/>" + gpu(1, 1),
            _NOT_SET,
        ),
        Measured(
            f"{machine}: index 2 without, index 1 with a model",
            _MODEL,
            "<controller type='pci' index='1' model='pcie-root-port'/>"
            "<controller type='pci' index='2'/>",
            _NOT_SET,
        ),
        Measured(
            f"{machine}: index 0, no model",
            _MODEL,
            "<controller type='pci' index='0'/>",
            _root_message(_root(machine)),
        ),
        Measured(
            f"{machine}: the machine's root",
            _MODEL,
            f"<controller type='pci' index='0' model='{_root(machine)}'/>",
            None,
        ),
    )
]


def document(row: Measured) -> str:
    """The whole document a row stands for (its devices in a domain of the machine its
    name starts with, q35 when none)."""
    if row.xml.startswith("<domain"):
        return row.xml
    machine = next((m for m in _MACHINES if row.name.startswith(f"{m}:")), "q35")
    return domain_xml(row.xml, machine)


ROWS = DISPLAY_ROWS + CONTROLLER_ROWS


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_the_reference_refuses_exactly_what_libvirt_refuses(row: Measured) -> None:
    assert_refused_as_measured(document(row), row)


# ------------------------------------------------------------ wrong implementations

Refuses = Callable[[Domain], bool]


def _display_on(domain: Domain) -> bool:
    return any(h.display and h.kind is HostdevKind.MDEV for h in domain.hostdevs)


WRONG: dict[str, tuple[str, Refuses]] = {
    "never refuses a display (the reference before)": (
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        lambda domain: False,
    ),
    "asks for a video device, not a graphics one": (
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        lambda domain: _display_on(domain) and not domain.video,
    ),
    "asks for both a graphics and a video device": (
        "HOSTDEV-MDEV-DISPLAY-GRAPHICS",
        lambda domain: _display_on(domain) and not (domain.graphics and domain.video),
    ),
    "refuses display='on' whatever the devices": ("HOSTDEV-MDEV-DISPLAY-GRAPHICS", _display_on),
    "defaults the model (the reference before)": (_MODEL, lambda domain: False),
    "refuses a missing model at index 1 and up only": (
        _MODEL,
        lambda domain: any(c.model is None and c.index for c in domain.pci_controllers),
    ),
    "defaults index 0 and refuses the others on q35 only": (
        _MODEL,
        lambda domain: (
            domain.machine == "q35"
            and any(c.model is None and c.index for c in domain.pci_controllers)
        ),
    ),
}


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_each_wrong_implementation_disagrees_with_libvirt_somewhere(wrong: str) -> None:
    rule, refuses = WRONG[wrong]
    rows = [row for row in ROWS if row.rule == rule]
    disagree = [
        row.name for row in rows if refuses(model(document(row))) != (row.refusal is not None)
    ]
    assert disagree, f"{wrong}: agrees with libvirt on every measured document"


def test_the_reference_s_rule_read_as_an_implementation_agrees_everywhere() -> None:
    """The same harness passes the reference (so the wrong ones fail for their bug)."""
    for row in ROWS:
        fired = any(v.rule == row.rule for v in validate(document(row)).errors)
        assert fired == (row.refusal is not None), row.name


# ------------------------------------------------------------ the model keeps <graphics>


@pytest.mark.parametrize(
    ("devices", "graphics", "video"),
    [
        (mdev() + VNC, True, True),  # libvirt gives <graphics> a primary video
        (mdev() + VNC + NO_VIDEO, True, False),
        (mdev() + VNC + VGA, True, True),
        (mdev("off") + VGA, False, True),
        (mdev("off"), False, False),
    ],
    ids=["vnc", "vnc-video-none", "vnc-vga", "vga", "nothing"],
)
def test_graphics_is_read_and_written_back(devices: str, graphics: bool, video: bool) -> None:
    domain = parse(domain_xml(devices))
    assert (domain.graphics, domain.video) == (graphics, video)
    text = format_xml(domain)
    assert parse(text) == domain
    assert ("<graphics" in text) is graphics
    assert format_xml(parse(text)) == text


def test_a_formatter_dropping_graphics_would_make_a_valid_document_invalid() -> None:
    """What the hostdev-mdev-display golden showed: without <graphics> written back, the
    re-stated document is one libvirt refuses."""
    domain = parse(domain_xml(mdev() + VNC))
    text = format_xml(domain)
    dropped = text.replace("<graphics type='vnc'/>", "")
    assert dropped != text
    assert [v.rule for v in validate(dropped).errors] == ["HOSTDEV-MDEV-DISPLAY-GRAPHICS"]
