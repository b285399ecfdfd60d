"""Round-trip implementations with one bug each, for ``check --mode roundtrip``.

Each is the reference's ``fmt`` (through :func:`gi_conform.oracle.impls.reference_answer`)
followed by one deliberate loss, done on the written-back XML with lxml, so that every
``RT-*`` key has an implementation that must be caught with it. ``python:`` functions;
``as_roundtrip_command.py`` runs them as ``cmd:``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from gi_conform.oracle.impls import reference_answer

Reply = dict[str, object]


def reference(case: Mapping[str, Any]) -> Reply:
    return reference_answer({**case, "mode": "roundtrip"})


def _edit(case: Mapping[str, Any], edit: Callable[[etree._Element], None]) -> Reply:
    reply = reference(case)
    xml = reply.get("xml")
    if not isinstance(xml, str):
        return reply
    root = etree.fromstring(xml.encode())
    edit(root)
    return {"accepted": True, "xml": etree.tostring(root, encoding="unicode")}


def _remove(root: etree._Element, path: str) -> None:
    for element in root.findall(path):
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)


def drops_nodesets(case: Mapping[str, Any]) -> Reply:
    return _edit(case, lambda root: _remove(root, "./devices/hostdev/acpi"))


def drops_seed(case: Mapping[str, Any]) -> Reply:
    return _edit(case, lambda root: _remove(root, "./devices/acpi-generic-initiator"))


def drops_distances(case: Mapping[str, Any]) -> Reply:
    return _edit(case, lambda root: _remove(root, "./cpu/numa/cell/distances"))


def drops_numatune(case: Mapping[str, Any]) -> Reply:
    return _edit(case, lambda root: _remove(root, "./numatune"))


def drops_hmat(case: Mapping[str, Any]) -> Reply:
    def edit(root: etree._Element) -> None:
        _remove(root, "./cpu/numa/interconnects")
        _remove(root, "./cpu/numa/cell/cache")

    return _edit(case, edit)


def drops_usb(case: Mapping[str, Any]) -> Reply:
    return _edit(case, lambda root: _remove(root, "./devices/hostdev[@type='usb']"))


def moves_cpus(case: Mapping[str, Any]) -> Reply:
    """Cell 0 gets its CPUs written as ``0`` only (a lossy CPU-set writer)."""

    def edit(root: etree._Element) -> None:
        for cell in root.findall("./cpu/numa/cell"):
            if cell.get("cpus") not in (None, "0"):
                cell.set("cpus", "0")
                return

    return _edit(case, edit)


def renames_aliases(case: Mapping[str, Any]) -> Reply:
    def edit(root: etree._Element) -> None:
        for alias in root.findall("./devices/hostdev/alias"):
            alias.set("name", "ua-renamed-" + (alias.get("name") or ""))

    return _edit(case, edit)


def accepts_everything(case: Mapping[str, Any]) -> Reply:
    """A verdict-only implementation that never rejects (a schema with no rules)."""
    return {"accepted": True, "xml": None}


def rejects_seed(case: Mapping[str, Any]) -> Reply:
    """Refuses documents with seed elements (an XML layer that knows only libvirt's)."""
    if "<acpi-generic-initiator" in str(case["xml"]):
        return {"accepted": False, "message": "error: unknown element acpi-generic-initiator"}
    return reference(case)


def fixes_invalid(case: Mapping[str, Any]) -> Reply:
    """Writes back an invalid document without its seed elements: the verdict changes."""
    reply = reference(case)
    if reply.get("accepted") is True:
        return reply
    try:
        root = etree.fromstring(str(case["xml"]).encode())
    except (etree.XMLSyntaxError, ValueError):
        return reply
    _remove(root, "./devices/acpi-generic-initiator")
    return {"accepted": True, "xml": etree.tostring(root, encoding="unicode")}


def answers_argv(case: Mapping[str, Any]) -> Reply:
    """An argv-mode implementation asked for a round trip: a protocol error, not a pass."""
    return {"accepted": True, "argv": ["-numa", "node,nodeid=0"]}


ROUNDTRIP_MUTANTS: dict[str, tuple[Callable[[Mapping[str, Any]], Reply], str]] = {
    "drops_nodesets": (drops_nodesets, "RT-NODESET-DROPPED"),
    "drops_seed": (drops_seed, "RT-SEED-DROPPED"),
    "drops_distances": (drops_distances, "RT-DISTANCE-CHANGED"),
    "drops_numatune": (drops_numatune, "RT-NUMATUNE-CHANGED"),
    "drops_hmat": (drops_hmat, "RT-HMAT-CHANGED"),
    "drops_usb": (drops_usb, "RT-HOSTDEV-DROPPED"),
    "moves_cpus": (moves_cpus, "RT-CELL-CHANGED"),
    "renames_aliases": (renames_aliases, "RT-ALIAS-CHANGED"),
    "accepts_everything": (accepts_everything, "RT-VERDICT-CHANGED"),
    "fixes_invalid": (fixes_invalid, "RT-VERDICT-CHANGED"),
    "rejects_seed": (rejects_seed, "VERDICT-REJECTS-VALID"),
}
"""Name -> (function, the key a check must fail it with)."""
