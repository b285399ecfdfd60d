"""The guest PCI addresses real libvirt assigns: ``virsh define`` + ``dumpxml`` through
the embedded QEMU driver (the test driver of ``libvirt-xml`` assigns none).

A second witness for :mod:`gi_conform.pcitopology` besides ``domxml-to-native``: libvirt's
QEMU driver places every device without an ``<address>`` when it defines a domain
(qemuDomainAssignPCIAddresses in its post-parse step) and writes the addresses, and the
controllers it added, back. Each call defines, dumps and undefines in a fresh process
with the conversion's isolation (:mod:`gi_conform.libvirt.convert`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lxml import etree

from gi_conform.document.xml import hardened_parser
from gi_conform.libvirt.convert import (
    _PATH,
    LibvirtError,
    LibvirtTimeout,
    prepare_document,
    run_on_document,
)
from gi_conform.libvirt.install import Libvirt, locate
from gi_conform.model import PciAddress

__all__ = ["DumpedController", "DumpedPlacement", "assigned_addresses"]

# $1 root, $2 document, $3 connection URI, $4 the domain's uuid (define, dump, undefine)
_SCRIPT = (
    'mount -t proc proc "$1/proc" || exit 125; chroot "${1:-/}" env -i '
    + _PATH
    + ' LC_ALL=C virsh -q -c "$3" "define $2; dumpxml --inactive $4; undefine $4"; exit $?'
)


@dataclass(frozen=True)
class DumpedController:
    """A PCI controller as libvirt wrote it back after placing it."""

    index: int
    model: str
    address: PciAddress | None
    chassis: int | None
    port: int | None


@dataclass(frozen=True)
class DumpedPlacement:
    """Every in-guest PCI/mdev hostdev's guest address (document order; None: no
    ``<address type='pci'>``) and every PCI controller but the root, by index."""

    hostdevs: tuple[PciAddress | None, ...]
    controllers: dict[int, DumpedController]
    others: tuple[tuple[str, PciAddress], ...] = ()
    """Every other device with a PCI address: its element's tag and the address, in
    dumpxml's order."""


def _number(raw: str | None) -> int | None:
    return int(raw, 0) if raw is not None else None


def _pci(element: etree._Element | None) -> PciAddress | None:
    if element is None or element.get("type") != "pci":
        return None
    return PciAddress(
        *(int(element.get(name, "0"), 0) for name in ("domain", "bus", "slot", "function"))
    )


def _read(xml: str) -> DumpedPlacement:
    root = etree.fromstring(xml.encode(), hardened_parser())
    hostdevs: list[PciAddress | None] = []
    controllers: dict[int, DumpedController] = {}
    others: list[tuple[str, PciAddress]] = []
    for element in root.iterfind("devices/*"):
        pci = element.tag != "hostdev" and not (
            element.tag == "controller" and element.get("type") == "pci"
        )
        if pci and (placed := _pci(element.find("address"))) is not None:
            others.append((str(element.tag), placed))
        if element.tag == "hostdev" and element.get("type") in ("pci", "mdev"):
            address = element.find("address")
            if address is None or address.get("type") != "unassigned":
                hostdevs.append(_pci(address))
        elif element.tag == "controller" and element.get("type") == "pci":
            index = int(element.get("index", "0"))
            if index == 0:
                continue
            target = element.find("target")
            controllers[index] = DumpedController(
                index,
                element.get("model", ""),
                _pci(element.find("address")),
                _number(target.get("chassis")) if target is not None else None,
                _number(target.get("port")) if target is not None else None,
            )
    return DumpedPlacement(tuple(hostdevs), controllers, tuple(others))


def assigned_addresses(
    xml: bytes, *, libvirt: Libvirt | None = None, timeout: float = 60.0
) -> DumpedPlacement | None:
    """Where libvirt places ``xml``'s devices and controllers; None when it refuses the
    document. Raises ``LibvirtTimeout``, or ``LibvirtError`` without a verdict."""
    found = libvirt if libvirt is not None else locate(None)
    document, _ = prepare_document(xml)
    root = etree.fromstring(document, hardened_parser())
    uuid = (root.findtext("uuid") or "").strip()
    result, _ = run_on_document(found, document, _SCRIPT, uuid, deadline=time.monotonic() + timeout)
    if result.timed_out:
        raise LibvirtTimeout(f"virsh did not answer within {timeout:g}s (killed)")
    stdout = result.stdout.decode("utf-8", errors="replace")
    stderr = result.stderr.decode("utf-8", errors="replace").strip()
    start = stdout.find("<domain")
    if result.returncode == 0 and start >= 0:
        return _read(stdout[start : stdout.rindex("</domain>") + len("</domain>")])
    if result.returncode == 1 and stderr.startswith("error:"):
        return None
    raise LibvirtError(f"virsh exited with status {result.returncode}: {stderr[-2000:]}")
