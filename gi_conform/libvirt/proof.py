"""Proof by real QEMU: what libvirt's own command line does to a guest.

When libvirt accepts a document the reference rejects (or drops initiators the reference
emits), the difference only matters if the guest can tell. This module takes libvirt's
*full* argv, replaces only what needs this host's resources (VFIO devices, host USB and
SCSI devices, disk images, sockets, the KVM accelerator, a machine version this QEMU
lacks), runs it in the host's QEMU and reads the guest's SRAT back through
:mod:`gi_conform.groundtruth.qemu`. The verdict:

* ``qemu-refuses``: QEMU will not start libvirt's command line (its exact message);
* ``srat-missing``: QEMU runs it, but the guest's SRAT lacks a generic initiator the
  document asked for (each one listed);
* ``no-visible-difference``: the guest sees every initiator asked for: libvirt was
  merely laxer than the reference;
* ``inconclusive``: no verdict (no QEMU for the architecture, the firmware published no
  tables in time, or the reference cannot read the document to know what it asked for).

The first two prove a libvirt gap.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from lxml import etree

from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.read import device_key, read_argv, semantic_facts, split_keyval
from gi_conform.document.validate import validate
from gi_conform.groundtruth import qemu
from gi_conform.libvirt.convert import LibvirtError, LibvirtTimeout, convert, reduce
from gi_conform.libvirt.install import Libvirt
from gi_conform.model import Domain, PciAddress
from gi_conform.oracle.model import CheckCase
from gi_conform.semantics import source_key

__all__ = [
    "READBACK_MIN_MEMORY",
    "AskedInitiator",
    "CaseProof",
    "Proof",
    "ProofRun",
    "ProofVerdict",
    "RunnableArgv",
    "Selection",
    "asked_initiators",
    "host_property_refusal",
    "lenient_domain",
    "machine_types",
    "missing_initiators",
    "prove",
    "prove_cases",
    "runnable_libvirt_argv",
    "selection",
    "with_acpi",
    "with_readback_memory",
]

READBACK_MIN_MEMORY = 4 * 1024 * 1024
"""SeaBIOS publishes no ACPI tables in a guest with under about 2 MiB of RAM (measured:
1 MiB never, 2 MiB always); below this the readback run gets more, never the verdict run."""

STAND_IN = "edu"
"""What a vfio-pci device becomes: same as :func:`gi_conform.qemu.runnable_argv` (one
memory BAR, no I/O BAR, no option ROM, so SeaBIOS never runs out of I/O space)."""

_DROP_BARE = frozenset({"-S", "-daemonize", "-enable-kvm"})
_DROP_WITH_VALUE = frozenset(
    {"-sandbox", "-pidfile", "-runas", "-msg", "-vnc", "-spice", "-incoming", "-D", "-chroot"}
)
_KEEP_DEVICE_PCI = ("id", "bus", "addr", "multifunction", "acpi-index")
_KEEP_USB = ("id", "bus", "port")
_KEEP_SCSI = ("id", "bus", "channel", "scsi-id", "lun", "drive")
_BLOCK_GENERIC = ("node-name", "read-only", "auto-read-only", "discard", "cache", "detect-zeroes")
_PROTOCOL_DRIVERS = frozenset(
    {"file", "host_device", "host_cdrom", "nbd", "iscsi", "rbd", "gluster", "nvme", "ssh"}
    | {"http", "https", "ftp", "ftps", "nfs", "vxhs"}
)
_FORMAT_DRIVERS = frozenset({"qcow2", "qcow", "qed", "vmdk", "vdi", "vhdx", "vpc", "luks"})
_MACHINE_ALIASES = (("pc-q35-", "q35"), ("pc-i440fx-", "pc"), ("virt-", "virt"))
_SIZE = re.compile(r"([0-9]+)\s*([bkmgtpe]?)\Z", re.IGNORECASE)
_SHIFT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}


class ProofVerdict(enum.StrEnum):
    """What real QEMU made of libvirt's argv; the first two prove a libvirt gap."""

    QEMU_REFUSES = "qemu-refuses"
    SRAT_MISSING = "srat-missing"
    NO_VISIBLE_DIFFERENCE = "no-visible-difference"
    INCONCLUSIVE = "inconclusive"

    @property
    def proves_gap(self) -> bool:
        return self in (ProofVerdict.QEMU_REFUSES, ProofVerdict.SRAT_MISSING)


@dataclass(frozen=True)
class RunnableArgv:
    """libvirt's argv made runnable here, and every change with its reason."""

    argv: tuple[str, ...]
    changes: tuple[str, ...]
    memory: int | None
    """Guest RAM in bytes (``-m``), ``None`` when the argv gives none or it is unreadable."""


@dataclass(frozen=True)
class AskedInitiator:
    """One (device, node) pair the document asks for, with how to find the device.

    ``host`` is the device's host key as the argv reader spells it (``DDDD:BB:SS.F`` or
    the mdev's sysfs path), ``None`` when the source could not be read; ``index`` is the
    device's position among the document's PCI hostdevs (mdev included), the order
    libvirt emits them in; ``None`` for a USB or SCSI device (never PCI).
    """

    alias: str
    source: str
    """The source as the document gives it, for messages (``pci 0000:06:12.1``)."""
    host: str | None
    index: int | None
    node: int

    def text(self) -> str:
        return f"{self.alias} ({self.source}) -> node {self.node}"


@dataclass(frozen=True)
class Proof:
    """The verdict of real QEMU on libvirt's argv for one document.

    ``message`` is QEMU's exact standard error for ``qemu-refuses``, else a one-line
    summary; ``details`` lists the missing initiators (``srat-missing``), what was seen
    otherwise; ``changes`` is what was changed in libvirt's argv to run it here.
    """

    verdict: ProofVerdict
    message: str
    details: tuple[str, ...] = ()
    seconds: float = 0.0
    changes: tuple[str, ...] = ()
    command: tuple[str, ...] = field(default=(), repr=False)

    @property
    def proves_gap(self) -> bool:
        return self.verdict.proves_gap

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": str(self.verdict),
            "message": self.message,
            "details": list(self.details),
            "seconds": round(self.seconds, 3),
            "changes": list(self.changes),
        }


# ------------------------------------------------------------------ option syntax


def _join_keyval(parts: Sequence[str]) -> str:
    return ",".join(part.replace(",", ",,") for part in parts)


@dataclass(frozen=True)
class _Props:
    """One option value as properties; ``implied`` is the key a bare first word sets."""

    values: dict[str, Any]
    json_form: bool
    implied: str

    @classmethod
    def read(cls, text: str, implied: str) -> _Props | None:
        if text.lstrip().startswith("{"):
            try:
                loaded = json.loads(text)
            except ValueError:
                return None
            return cls(loaded, True, implied) if isinstance(loaded, dict) else None
        values: dict[str, Any] = {}
        for position, part in enumerate(split_keyval(text)):
            key, sep, value = part.partition("=")
            if not sep and position == 0:
                values[implied] = key
            else:
                values[key] = value if sep else "on"
        return cls(values, False, implied)

    def text(self, values: Mapping[str, Any]) -> str:
        """``values`` in this option's own syntax (JSON stays JSON, keyval stays keyval)."""
        if self.json_form:
            return json.dumps(dict(values), separators=(",", ":"))
        parts: list[str] = []
        for key, raw in values.items():
            value = ("on" if raw else "off") if isinstance(raw, bool) else str(raw)
            parts.append(value if key == self.implied and not parts else f"{key}={value}")
        return _join_keyval(parts)


def _kept(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: values[key] for key in keys if key in values}


def _bytes(text: object, default_shift: int) -> int | None:
    """A QEMU size (``8388608k``, ``8G``, a bare number in ``default_shift`` units)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str):
        return None
    match = _SIZE.match(text.strip())
    if match is None:
        return None
    suffix = match[2].lower()
    return int(match[1]) << (_SHIFT[suffix] if suffix else default_shift)


def _memory_option(value: str) -> int | None:
    """The RAM size of a ``-m`` value (``size=8388608k`` or ``1024``: MiB by default)."""
    props = _Props.read(value, "size")
    return None if props is None else _bytes(props.values.get("size"), 20)


# ------------------------------------------------------------------ transformation


def machine_types(binary: str) -> frozenset[str] | None:
    """The machine types ``binary`` knows (``-machine help``), ``None`` if it cannot say."""
    return _machine_types(binary)


@functools.cache
def _machine_types(binary: str) -> frozenset[str] | None:
    try:
        result = subprocess.run(
            [binary, "-machine", "help"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    return frozenset(names)


def _machine(value: str, known: frozenset[str] | None, changes: list[str]) -> str:
    """libvirt names the newest versioned type of *its* QEMU; this QEMU may lack it."""
    props = _Props.read(value, "type")
    if props is None:
        return value
    values = dict(props.values)
    changed = False
    name = values.get("type")
    if isinstance(name, str) and (known is None or name not in known):
        for prefix, alias in _MACHINE_ALIASES:
            if name.startswith(prefix):
                changes.append(f"machine {name} -> {alias} (not a machine type of this QEMU)")
                values["type"] = alias
                changed = True
                break
    if values.get("accel") not in (None, "tcg"):
        changes.append(f"machine accel={values['accel']} -> tcg (no KVM here)")
        values["accel"] = "tcg"
        changed = True
    return props.text(values) if changed else value


def _device(value: str, stand_in: str, changes: list[str]) -> str:
    """A host device becomes an emulated one with the same id and place."""
    props = _Props.read(value, "driver")
    if props is None:
        return value
    values = props.values
    driver = values.get("driver")
    ident = values.get("id", "?")
    if driver == "vfio-pci":
        replacement = {"driver": stand_in, **_kept(values, _KEEP_DEVICE_PCI)}
        changes.append(f"{ident}: vfio-pci -> {stand_in} (same id, bus, addr; no host device)")
        return props.text(replacement)
    if driver == "usb-host":
        changes.append(f"{ident}: usb-host -> usb-tablet (same id, bus, port; no host device)")
        return props.text({"driver": "usb-tablet", **_kept(values, _KEEP_USB)})
    if driver in ("scsi-generic", "scsi-block"):
        changes.append(f"{ident}: {driver} -> scsi-hd (same id and place; no host device)")
        return props.text({"driver": "scsi-hd", **_kept(values, _KEEP_SCSI)})
    return value


def _blockdev(value: str, changes: list[str]) -> str:
    """Disk images and host block devices become empty ``null-co`` (raw) nodes."""
    props = _Props.read(value, "driver")
    if props is None:
        return value
    values = props.values
    driver = values.get("driver")
    name = values.get("node-name", "?")
    if driver in _PROTOCOL_DRIVERS:
        changes.append(f"blockdev {name}: {driver} -> null-co (no image or host device)")
        return props.text({"driver": "null-co", **_kept(values, _BLOCK_GENERIC)})
    if driver in _FORMAT_DRIVERS:
        changes.append(f"blockdev {name}: {driver} -> raw (its image is now null-co)")
        return props.text({"driver": "raw", **_kept(values, (*_BLOCK_GENERIC, "file"))})
    return value


def _object(value: str, changes: list[str]) -> list[str]:
    """Drop objects that read host files; memory needs no host reservation."""
    props = _Props.read(value, "qom-type")
    if props is None:
        return ["-object", value]
    values = props.values
    kind = values.get("qom-type")
    ident = values.get("id", "?")
    if kind in ("secret", "tls-creds-x509", "tls-creds-psk") and "file" in values:
        changes.append(f"object {ident} ({kind}) dropped: reads {values['file']}")
        return []
    if kind == "thread-context":
        changes.append(f"object {ident} (thread-context) dropped: pins host CPUs or nodes")
        return []
    if kind == "monitor-qmp":
        # QEMU 11's object form of -mon (libvirt 12.8 uses it when its QEMU has it).
        monitor = f"chardev={values.get('chardev', '')},id={ident},mode=control"
        changes.append(f"object {ident} (monitor-qmp) -> -mon {monitor} (older QEMU's form)")
        return ["-mon", _join_keyval(split_keyval(monitor))]
    if isinstance(kind, str) and kind.startswith("memory-backend-"):
        # Host-side properties only: host NUMA binding, hugepage paths, preallocation.
        # reserve=off maps without reserving swap: libvirt's sizes may exceed this host.
        replacement: dict[str, Any] = {"qom-type": "memory-backend-ram"}
        replacement.update(_kept(values, ("id", "size")))
        replacement["reserve"] = False
        dropped = sorted(set(values) - {"qom-type", "id", "size"})
        what = f"{kind} -> memory-backend-ram" if kind != "memory-backend-ram" else kind
        extra = f", dropped {', '.join(dropped)}" if dropped else ""
        changes.append(f"object {ident}: {what}, reserve=off (host-side only{extra})")
        return ["-object", props.text(replacement)]
    return ["-object", value]


def _chardev(value: str, changes: list[str]) -> str:
    """Sockets, ptys and files become a null backend with the same id (users still work)."""
    props = _Props.read(value, "backend")
    if props is None:
        return value
    ident = props.values.get("id", "?")
    if props.values.get("backend") == "null":
        return value
    changes.append(f"chardev {ident}: {props.values.get('backend')} -> null (host resources)")
    return props.text({"backend": "null", "id": ident})


def _netdev(value: str, changes: list[str]) -> str:
    """Any network backend (tap needs /dev/net/tun and fds) becomes a hub port."""
    props = _Props.read(value, "type")
    if props is None:
        return value
    ident = props.values.get("id", "?")
    changes.append(f"netdev {ident}: {props.values.get('type')} -> hubport (host resources)")
    return props.text({"type": "hubport", "id": ident, "hubid": 0})


def runnable_libvirt_argv(
    argv: Sequence[str],
    *,
    binary: str | None = None,
    machines: frozenset[str] | None = None,
    stand_in: str = STAND_IN,
) -> RunnableArgv:
    """libvirt's full argv (binary first) as a command this host's QEMU can run.

    Kept as libvirt wrote them: ``-machine`` properties, ``-m``, ``-smp``, ``-numa``,
    memory backend ids and sizes, every ``acpi-generic-initiator``, controllers and
    emulated devices, ids, buses and addresses. Changed, each recorded with its reason:
    the binary (``binary``: the host's), a versioned machine type ``machines`` lacks
    (to its alias), KVM (to TCG), host devices (to emulated stand-ins in the same place),
    images (``null-co``), chardevs (``null``), network backends (``hubport``), memory
    backends (host binding dropped, ``reserve=off``). Dropped: ``-S`` (the guest must run
    for SeaBIOS to publish the tables), ``-msg timestamp`` (QEMU's message must be
    stable), ``-sandbox``, ``-daemonize``, ``-pidfile``, ``-runas``, displays (``-display
    none`` instead), secrets read from files. Pure: nothing is run.
    """
    if not argv:
        raise ValueError("empty argv")
    changes: list[str] = []
    out: list[str] = [binary if binary is not None else argv[0]]
    if binary is not None and binary != argv[0]:
        changes.append(f"binary {argv[0]} -> {binary} (this host's QEMU)")
    memory: int | None = None
    display = False
    index = 1
    while index < len(argv):
        flag = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if flag in _DROP_BARE:
            changes.append(f"{flag} dropped")
            index += 1
            continue
        if following is None or following.startswith("-"):  # a flag without a value
            out.append(flag)
            index += 1
            continue
        value: str = following
        index += 2
        if flag in _DROP_WITH_VALUE:
            display = display or flag in ("-vnc", "-spice")
            changes.append(f"{flag} {value} dropped")
            continue
        replaced: str | None = value
        if flag == "-machine":
            replaced = _machine(value, machines, changes)
        elif flag == "-accel":
            props = _Props.read(value, "accel")
            if props is not None and props.values.get("accel") != "tcg":
                changes.append(f"-accel {value} -> tcg (no KVM here)")
                replaced = "tcg"
        elif flag == "-m":
            memory = _memory_option(value)
        elif flag == "-device":
            replaced = _device(value, stand_in, changes)
        elif flag == "-object":
            out += _object(value, changes)
            continue
        elif flag == "-blockdev":
            replaced = _blockdev(value, changes)
        elif flag == "-chardev":
            replaced = _chardev(value, changes)
        elif flag == "-netdev":
            replaced = _netdev(value, changes)
        if replaced is not None:
            out += [flag, replaced]
    if display and "-display" not in out:
        out += ["-display", "none"]
        changes.append("-display none (the dropped display needs a host socket)")
    return RunnableArgv(tuple(out), tuple(changes), memory)


def with_readback_memory(
    argv: Sequence[str], memory: int | None, minimum: int = READBACK_MIN_MEMORY
) -> tuple[tuple[str, ...], str | None]:
    """``argv`` with at least ``minimum`` bytes of RAM, for reading tables back.

    SeaBIOS needs a few MiB to publish ACPI tables; generic initiators do not depend on
    RAM size. The extra RAM goes to ``-m`` and to the first memory backend a ``-numa``
    node or the machine uses, so their sum still matches. The note is ``None`` when
    nothing changed (enough already, ``memory`` unknown, or NUMA without a backend).
    """
    if memory is None or memory >= minimum:
        return tuple(argv), None
    out = list(argv)
    extra = minimum - memory
    reading = read_argv(out[1:])
    users = [node.memdev for node in reading.numa_nodes if node.memdev is not None]
    machine_backend: str | None = None
    for position, token in enumerate(out[:-1]):
        if token == "-machine":
            props = _Props.read(out[position + 1], "type")
            if props is not None and isinstance(props.values.get("memory-backend"), str):
                machine_backend = props.values["memory-backend"]
    grow = users[0] if users else machine_backend
    if reading.numa_nodes and grow is None:
        return tuple(argv), None
    for position, token in enumerate(out[:-1]):
        value = out[position + 1]
        if token == "-m":
            out[position + 1] = f"{minimum}b"
        elif token == "-object" and grow is not None:
            props = _Props.read(value, "qom-type")
            if props is not None and props.values.get("id") == grow:
                size = _bytes(props.values.get("size"), 0)
                if size is not None:
                    out[position + 1] = props.text({**props.values, "size": size + extra})
    where = f" (backend {grow})" if grow is not None else ""
    return tuple(out), (
        f"readback only: RAM {memory} -> {minimum} bytes{where}, SeaBIOS publishes no "
        "ACPI tables with under ~2 MiB"
    )


def with_acpi(argv: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """``argv`` with ACPI on, for reading tables back (``None``: it was on already).

    A document without ``<acpi/>`` makes libvirt write ``acpi=off``: then no initiator
    reaches any guest whatever libvirt emits (the reference only warns,
    GI-ACPI-DISABLED). The readback turns ACPI on, as ``gi-conform qemu`` does, to see
    whether libvirt's argv carries the initiators; the verdict run keeps libvirt's.
    """
    out = list(argv)
    note: str | None = None
    for position, token in enumerate(out[:-1]):
        if token != "-machine":
            continue
        props = _Props.read(out[position + 1], "type")
        if props is not None and props.values.get("acpi") in ("off", False):
            out[position + 1] = props.text({**props.values, "acpi": "on"})
            note = (
                "readback only: acpi=off -> on (the document has no <acpi/>: no guest gets "
                "initiators then; read as gi-conform qemu does)"
            )
    return tuple(out), note


# ------------------------------------------------------------------ what was asked


def asked_initiators(domain: Domain) -> tuple[AskedInitiator, ...]:
    """Every (device, node) pair the document asks for, both dialects, read leniently.

    The reference rejected these documents, so the model may hold ``None`` fields
    (:func:`gi_conform.validate.validate` still returns it): a node that could not be
    read asks for nothing; a seed element naming no hostdev asks for nothing a guest
    could show. Pairs are de-duplicated, in document order.
    """
    pci_index: dict[str, int] = {}
    for hostdev in domain.hostdevs:
        if hostdev.kind.is_pci:
            pci_index.setdefault(hostdev.alias, len(pci_index))
    pairs: dict[tuple[str, int], AskedInitiator] = {}

    def add(alias: str, node: int) -> None:
        hostdev = domain.hostdev(alias)
        if hostdev is None or (alias, node) in pairs:
            return
        if isinstance(hostdev.source, PciAddress):
            source = f"pci {hostdev.source}"
        elif hostdev.source is not None:
            source = str(hostdev.source)
        else:
            source = f"{hostdev.kind} source unreadable"
        pairs[alias, node] = AskedInitiator(
            alias=alias,
            source=source,
            host=source_key(hostdev.source),
            index=pci_index.get(alias),
            node=node,
        )

    for hostdev in domain.hostdevs:
        for node in hostdev.nodeset or ():
            add(hostdev.alias, node)
    for initiator in domain.initiators:
        if initiator.device is not None and initiator.node is not None:
            add(initiator.device, initiator.node)
    return tuple(pairs.values())


def lenient_domain(document: bytes | str) -> tuple[Domain | None, str | None]:
    """The document's model even when the reference will not read it, and how it was read.

    :func:`gi_conform.validate.validate` gives a model for any document it can read,
    however invalid. It refuses to read some on purpose (over 4 MiB, a DTD: hostile
    input); real libvirt reads them. To know what such a document asks for, it is read
    once more with comments, the DTD and entity references dropped (nothing expanded,
    nothing fetched) and the result validated; the note says so.
    """
    report = validate(document)
    if report.domain is not None:
        return report.domain, None
    data = document.encode("utf-8") if isinstance(document, str) else document
    parser = etree.XMLParser(
        remove_comments=True,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None, None
    for entity in list(root.iter(etree.Entity)):
        parent = entity.getparent()
        if parent is not None:
            text = entity.tail or ""
            previous = entity.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + text
            else:
                parent.text = (parent.text or "") + text
            parent.remove(entity)
    domain = validate(etree.tostring(root)).domain
    rules = ", ".join(dict.fromkeys(v.rule for v in report.errors))
    if domain is None:
        return None, None
    return domain, (
        f"the reference refuses to read the document ({rules}); what it asks for was read "
        "with comments, DTD and entity references dropped"
    )


def _device_ids(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """libvirt's vfio-pci devices: host key -> id, and the ids in argv order."""
    reading = read_argv(list(argv[1:]))
    by_host: dict[str, str] = {}
    ordered: list[str] = []
    for device in reading.devices:
        if device.driver != "vfio-pci" or device.id is None:
            continue
        ordered.append(device.id)
        key = device_key(device)
        if key is not None:
            by_host.setdefault(key, device.id)
    return by_host, ordered


def missing_initiators(
    asked: Sequence[AskedInitiator],
    libvirt_argv: Sequence[str],
    readback: qemu.SratReadback,
) -> tuple[list[str], list[str]]:
    """``(missing, seen)``: asked-for initiators absent from the guest's SRAT, and found.

    A device is found in libvirt's argv by its host address (or mdev path), else by its
    position among the PCI hostdevs; the guest placement of that id (``query-pci``)
    with the node must be an enabled type-5 entry.
    """
    by_host, ordered = _device_ids(libvirt_argv)
    entries = {
        (gi.proximity_domain, gi.pci_segment or 0, gi.pci_bus, gi.pci_devfn)
        for gi in readback.generic_initiators
    }
    has_srat = "SRAT" in readback.table_signatures
    missing: list[str] = []
    seen: list[str] = []
    for pair in asked:
        if pair.index is None:
            missing.append(f"{pair.text()}: not a PCI device, no SRAT entry can name it")
            continue
        device_id = by_host.get(pair.host) if pair.host is not None else None
        if device_id is None and pair.host is None and pair.index < len(ordered):
            device_id = ordered[pair.index]
        if device_id is None:
            missing.append(f"{pair.text()}: the device is not in libvirt's argv")
            continue
        placement = readback.pci.get(device_id)
        if placement is None:
            missing.append(f"{pair.text()}: device {device_id} not found by query-pci")
            continue
        where = f"PCI 0000:{placement.bus:02x}:{placement.slot:02x}.{placement.function:x}"
        if (pair.node, 0, placement.bus, placement.devfn) in entries:
            seen.append(f"{pair.text()}: SRAT entry node {pair.node}, {where}")
        elif not has_srat:
            missing.append(f"{pair.text()}: QEMU built no SRAT")
        else:
            missing.append(f"{pair.text()}: no SRAT entry for node {pair.node}, {where}")
    return missing, seen


# ------------------------------------------------------------------ proving


def _host_binary(argv: Sequence[str]) -> str:
    """Look up this host's QEMU for the architecture libvirt chose (by binary name)."""
    name = PurePath(argv[0]).name if argv else "qemu-system-x86_64"
    return qemu.find_qemu(name or "qemu-system-x86_64").path


_PROPERTY_REFUSAL = "doesn't take value"
"""QEMU's words when it cannot even parse a property (as opposed to a missing device)."""


def host_property_refusal(
    libvirt_argv: Sequence[str], binary: str, timeout: float = 10.0
) -> str | None:
    """QEMU's refusal of a ``vfio-pci`` ``host`` value it cannot parse, if any.

    The stand-ins drop the host address, so a value QEMU would never accept (a PCI
    domain above 0xffff, say) needs its own check: each device alone, on a bare q35.
    QEMU parses the property before it looks for the device, so on a host without it
    a parsable address fails with "no such host device" instead, which proves nothing.
    """
    for index, option in enumerate(libvirt_argv[:-1]):
        if option != "-device":
            continue
        props = _Props.read(libvirt_argv[index + 1], "driver")
        if props is None or props.values.get("driver") != "vfio-pci":
            continue
        host = props.values.get("host")
        if not isinstance(host, str):
            continue
        probe = [binary, "-machine", "q35", "-accel", "tcg", "-nodefaults", "-display", "none"]
        probe += ["-device", json.dumps({"driver": "vfio-pci", "host": host})]
        status, stderr = qemu.run_argv_check(probe, timeout=timeout)
        if status != 0 and _PROPERTY_REFUSAL in stderr:
            return stderr.strip()
    return None


def prove(
    document: bytes | str,
    libvirt_argv: Sequence[str],
    *,
    domain: Domain | None = None,
    timeout: float = 20.0,
    binary: str | None = None,
) -> Proof:
    """Run libvirt's argv for ``document`` in real QEMU and judge what the guest sees.

    ``domain`` is the document's lenient model (default: what
    :func:`gi_conform.validate.validate` reads, which is a model even for an invalid
    document); ``binary`` overrides the host QEMU. Never raises for what QEMU does.
    """
    start = time.monotonic()
    try:
        host = binary if binary is not None else _host_binary(libvirt_argv)
    except qemu.QemuUnavailable as error:
        return Proof(
            ProofVerdict.INCONCLUSIVE,
            f"no QEMU to run {PurePath(libvirt_argv[0]).name if libvirt_argv else 'it'}: "
            + str(error).split(";")[0],
            seconds=time.monotonic() - start,
        )
    runnable = runnable_libvirt_argv(libvirt_argv, binary=host, machines=machine_types(host))
    changes = list(runnable.changes)
    readback_argv, acpi_note = with_acpi(runnable.argv)
    readback_argv, memory_note = with_readback_memory(readback_argv, runnable.memory)
    readback_notes = [note for note in (acpi_note, memory_note) if note is not None]

    def finish(verdict: ProofVerdict, message: str, details: Sequence[str] = ()) -> Proof:
        return Proof(
            verdict,
            message,
            tuple(details),
            time.monotonic() - start,
            tuple(changes),
            runnable.argv,
        )

    try:
        refusal = host_property_refusal(libvirt_argv, host, timeout)
        if refusal is not None:
            changes.append("each vfio-pci host address checked alone in QEMU first")
            return finish(ProofVerdict.QEMU_REFUSES, refusal)
        if readback_notes:
            # The verdict comes from libvirt's own argv; only the readback is adjusted.
            status, stderr = qemu.run_argv_check(runnable.argv, timeout=timeout)
            if status != 0:
                return finish(ProofVerdict.QEMU_REFUSES, stderr.strip())
            changes += readback_notes
        readback = qemu.read_srat(readback_argv, timeout=timeout)
    except qemu.QemuRefused as refused:
        return finish(ProofVerdict.QEMU_REFUSES, refused.stderr.strip())
    except qemu.QemuTimeout as error:
        return finish(ProofVerdict.INCONCLUSIVE, f"QEMU ran but: {error}")
    model, how = (domain, None) if domain is not None else lenient_domain(document)
    if how is not None:
        changes.append(how)
    if model is None:
        return finish(
            ProofVerdict.INCONCLUSIVE,
            "QEMU runs libvirt's argv; the reference cannot read the document, so what "
            "it asks for is unknown",
            [f"{len(readback.generic_initiators)} GI entries in the guest's SRAT"],
        )
    asked = asked_initiators(model)
    missing, seen = missing_initiators(asked, libvirt_argv, readback)
    gis = len(readback.generic_initiators)
    summary = f"the guest's SRAT has {len(seen)} of {len(asked)} asked-for initiators"
    if missing:
        return finish(ProofVerdict.SRAT_MISSING, f"{summary} ({gis} GI entries)", missing)
    return finish(ProofVerdict.NO_VISIBLE_DIFFERENCE, f"QEMU runs it; {summary}", seen)


# ------------------------------------------------------------------ a campaign


class Selection(enum.StrEnum):
    """Why a document is proved: libvirt accepted it and differs from the reference."""

    REFERENCE_REJECTS = "reference-rejects"
    """libvirt accepts a document the reference rejects."""
    INITIATORS_DIFFER = "initiators-differ"
    """Both accept, but libvirt's argv has other (device, node) pairs (FACT-GI-PAIRS)."""
    INVARIANT_BROKEN = "invariant-broken"
    """Both accept with the same pairs, but libvirt's argv breaks an invariant (INV-*)."""


@dataclass(frozen=True)
class CaseProof:
    """One selected document: why it was selected, what libvirt said, QEMU's verdict."""

    case_id: str
    source: str
    dialect: str
    selection: Selection
    reference_rules: tuple[str, ...]
    libvirt_initiators: int
    """``acpi-generic-initiator`` objects in libvirt's argv."""
    libvirt_seconds: float
    proof: Proof

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.case_id,
            "source": self.source,
            "dialect": self.dialect,
            "selection": str(self.selection),
            "reference_rules": list(self.reference_rules),
            "libvirt_initiators": self.libvirt_initiators,
            "libvirt_seconds": round(self.libvirt_seconds, 3),
            **self.proof.as_json(),
        }


@dataclass(frozen=True)
class ProofRun:
    """A whole ``gi-conform libvirt prove``: every document's fate and the proofs."""

    libvirt: str
    qemu: str
    documents: int
    libvirt_accepted: int
    libvirt_rejected: int
    libvirt_errors: tuple[tuple[str, str], ...]
    """(case id, message) for each document libvirt failed on without a verdict."""
    proofs: tuple[CaseProof, ...]
    seconds: float
    libvirt_seconds: float
    qemu_seconds: float

    def count(self, verdict: ProofVerdict) -> int:
        return sum(1 for p in self.proofs if p.proof.verdict is verdict)

    @property
    def proven(self) -> int:
        return sum(1 for p in self.proofs if p.proof.proves_gap)


def selection(
    expectation_accepted: bool,
    reference_argv: Sequence[str],
    libvirt_argv: Sequence[str],
    *,
    document: bytes | str | None = None,
) -> Selection | None:
    """Whether (and why) a document libvirt accepted is worth proving. With ``document``
    (an accepted one), libvirt's argv is also held to the invariants."""
    if not expectation_accepted:
        return Selection.REFERENCE_REJECTS
    ours = semantic_facts(list(reference_argv)).initiators
    theirs = semantic_facts(list(libvirt_argv[1:])).initiators
    if ours != theirs:
        return Selection.INITIATORS_DIFFER
    if document is not None and check_invariants(document, reduce(libvirt_argv)):
        return Selection.INVARIANT_BROKEN
    return None


def _selection_rules(
    why: Selection, errors: Sequence[str], document: bytes, libvirt_argv: Sequence[str]
) -> tuple[str, ...]:
    """The reference's ids behind a selection: its error rules, or what libvirt breaks."""
    if why is Selection.REFERENCE_REJECTS:
        return tuple(errors)
    if why is Selection.INITIATORS_DIFFER:
        return ("FACT-GI-PAIRS",)
    broken = check_invariants(document, reduce(libvirt_argv))
    return tuple(dict.fromkeys(item.id for item in broken))


def prove_cases(
    cases: Sequence[CheckCase],
    *,
    libvirt: Libvirt,
    timeout: float = 20.0,
    progress: Callable[[str, CaseProof | None], None] | None = None,
) -> ProofRun:
    """Convert every case with real libvirt and prove each selected one in real QEMU.

    ``cases`` are :class:`gi_conform.oracle.model.CheckCase` (the oracle's, so the
    reference's verdict comes with each); ``libvirt`` a located
    :class:`gi_conform.libvirt.Libvirt`; ``progress(case_id, proof_or_None)`` is called
    after each document. A document libvirt fails on without a verdict is recorded and
    the run goes on.
    """
    start = time.monotonic()
    accepted = rejected = 0
    errors: list[tuple[str, str]] = []
    proofs: list[CaseProof] = []
    libvirt_seconds = qemu_seconds = 0.0
    host = qemu.find_qemu()
    for case in cases:
        try:
            result = convert(case.data, libvirt=libvirt, timeout=max(timeout, 60.0))
        except (LibvirtError, LibvirtTimeout, OSError) as error:
            errors.append((case.id, str(error) or type(error).__name__))
            if progress is not None:
                progress(case.id, None)
            continue
        libvirt_seconds += result.seconds
        if not result.accepted:
            rejected += 1
            if progress is not None:
                progress(case.id, None)
            continue
        accepted += 1
        expectation = case.expectation
        why = selection(
            expectation.accepted,
            expectation.argv,
            result.argv,
            document=case.data if expectation.accepted else None,
        )
        found: CaseProof | None = None
        if why is not None:
            proof = prove(case.data, result.argv, domain=expectation.domain, timeout=timeout)
            qemu_seconds += proof.seconds
            rules = _selection_rules(why, expectation.errors, case.data, result.argv)
            found = CaseProof(
                case_id=case.id,
                source=case.source,
                dialect=case.dialect,
                selection=why,
                reference_rules=tuple(rules),
                libvirt_initiators=len(read_argv(list(result.argv[1:])).initiators),
                libvirt_seconds=result.seconds,
                proof=proof,
            )
            proofs.append(found)
        if progress is not None:
            progress(case.id, found)
    return ProofRun(
        libvirt=libvirt.version,
        qemu=".".join(map(str, host.version)),
        documents=len(cases),
        libvirt_accepted=accepted,
        libvirt_rejected=rejected,
        libvirt_errors=tuple(errors),
        proofs=tuple(proofs),
        seconds=time.monotonic() - start,
        libvirt_seconds=libvirt_seconds,
        qemu_seconds=qemu_seconds,
    )
