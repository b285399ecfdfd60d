"""A QEMU-style reader for the GI-relevant part of any implementation's argv.

The conformance oracle compares implementations on what their command lines *mean*, not
on their spelling: key=value or JSON, ``cpus=0-1,cpus=3`` or a JSON list, ``8G`` or a byte
count. This module reads ``-object``, ``-device`` and ``-numa`` as QEMU 10 does and
turns them into frozen facts. It never raises on garbage: an argv from a foreign
implementation can be anything, so every argument it cannot read becomes a
:class:`ReadError` and reading goes on.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from gi_conform.argv.options import parse_size, split_keyval
from gi_conform.semantics import MDEV_SYSFS_PREFIX
from gi_conform.units import MAX_U64, NumberTooLarge, c_uint

__all__ = [
    "VFIO_PCI_DRIVERS",
    "ArgvReading",
    "Device",
    "Form",
    "GenericInitiator",
    "HmatEntry",
    "MemoryBackend",
    "NumaDistance",
    "NumaNode",
    "OtherObject",
    "ReadError",
    "device_key",
    "iommufd_key",
    "normalize_host",
    "normalize_sysfsdev",
    "read_argv",
]

VFIO_PCI_DRIVERS = frozenset({"vfio-pci", "vfio-pci-nohotplug"})
"""QEMU's drivers of a host PCI device: libvirt 12.8 writes ``vfio-pci-nohotplug`` (the same
device, without hotplug) for a hostdev with ``ramfb='on'``."""
GI_TYPE = "acpi-generic-initiator"
"""The QOM type of a generic initiator object."""
GI_PROPERTIES = frozenset({"qom-type", "id", "pci-dev", "node"})
"""Everything a GI object may carry: QEMU refuses any other property."""
NUMA_NODE_PROPERTIES = frozenset({"type", "nodeid", "cpus", "memdev", "initiator"})
"""What a ``-numa node`` may carry here; ``mem=`` (legacy) is extra."""
NUMA_DIST_PROPERTIES = frozenset({"type", "src", "dst", "val"})

_READ_FLAGS = frozenset({"-object", "-device", "-numa", "-machine"})
_HOST = re.compile(
    r"(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])\Z", re.IGNORECASE
)
_ADDR_PART = r"\s*\+?(?:0[xX])?([0-9a-fA-F]+)"
_ADDR = re.compile(rf"{_ADDR_PART}(?:\.{_ADDR_PART})?\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.I)


class Form(enum.StrEnum):
    """How an argument was written: QEMU's two syntaxes for the same properties."""

    KEYVAL = "keyval"
    JSON = "json"


@dataclass(frozen=True)
class ReadError:
    """One argument (or part of one) that could not be read the way QEMU would.

    ``form`` is ``None`` when the option has no value at all. ``stray`` marks a key=value
    token QEMU would read as some other property than the writer meant (a token without
    ``=``, a repeated key, an empty parameter): that is how an unescaped comma shows up.
    """

    position: int
    flag: str
    value: str
    message: str
    form: Form | None = None
    stray: bool = False


@dataclass(frozen=True)
class NumaNode:
    """A ``-numa node``: its CPUs are the union of every ``cpus=`` it repeats."""

    position: int
    nodeid: int | None
    cpus: frozenset[int]
    memdev: str | None
    form: Form
    properties: frozenset[str]
    """The property names as written (``type`` included): extras show injected keys."""
    mem: int | None = None
    """The legacy ``mem=`` size in bytes, when given."""
    initiator: int | None = None
    """HMAT's ``initiator=``, when given."""


@dataclass(frozen=True)
class HmatEntry:
    """A ``-numa hmat-lb`` (``target`` set) or ``-numa hmat-cache`` (``node`` set)."""

    position: int
    kind: str
    """``hmat-lb`` or ``hmat-cache``."""
    node: int | None
    """The target of an hmat-lb, the node-id of an hmat-cache."""
    initiator: int | None
    form: Form
    properties: frozenset[str]


@dataclass(frozen=True)
class NumaDistance:
    """A ``-numa dist``: the distance from node ``src`` to node ``dst``."""

    position: int
    src: int | None
    dst: int | None
    value: int | None
    form: Form
    properties: frozenset[str]


@dataclass(frozen=True)
class MemoryBackend:
    """A ``memory-backend-*`` object; ``size`` in bytes (``None`` when unreadable)."""

    position: int
    id: str
    qom_type: str
    size: int | None
    form: Form


@dataclass(frozen=True)
class Device:
    """A ``-device``. The reader cannot tell PCI from other devices: it keeps them all."""

    position: int
    id: str | None
    driver: str
    host: str | None
    sysfsdev: str | None
    bus: str | None
    addr: str | None
    form: Form
    iommufd: str | None = None
    """The ``iommufd`` object a vfio-pci uses (then it has no ``host``)."""
    numa_node: int | None = None
    """An expander bus's (``pxb``, ``pxb-pcie``) NUMA node."""
    primary_bus: str | None = None
    """An ``arm-smmuv3``'s ``primary-bus``."""
    devfn: int | None = None
    """Where ``addr`` puts it on its bus, ``slot << 3 | function`` as QEMU reads it (a
    JSON integer is the devfn itself, text is hex ``SLOT[.FUNCTION]``); None when absent
    or not an address."""
    bus_nr: int | None = None
    """An expander bus's ``bus_nr`` (the guest's number for its root bus), if readable."""


@dataclass(frozen=True)
class GenericInitiator:
    """An ``acpi-generic-initiator`` object; fields QEMU would refuse are ``None``."""

    position: int
    id: str
    pci_dev: str | None
    node: int | None
    form: Form
    properties: frozenset[str]


@dataclass(frozen=True)
class OtherObject:
    """Any other ``-object``: kept only for its id (ids share one namespace here)."""

    position: int
    id: str
    qom_type: str
    form: Form


@dataclass(frozen=True)
class ArgvReading:
    """Everything read from one argv, each list in argv order."""

    numa_nodes: tuple[NumaNode, ...] = ()
    distances: tuple[NumaDistance, ...] = ()
    backends: tuple[MemoryBackend, ...] = ()
    devices: tuple[Device, ...] = ()
    initiators: tuple[GenericInitiator, ...] = ()
    objects: tuple[OtherObject, ...] = ()
    errors: tuple[ReadError, ...] = ()
    hmat: tuple[HmatEntry, ...] = ()
    hmat_enabled: bool = False
    """Whether some ``-machine`` sets ``hmat=on``."""
    machine_memory_backend: str | None = None
    """``-machine memory-backend=ID``: the RAM of a guest without NUMA (libvirt's
    ``pc.ram``), a backend no ``-numa node`` uses."""

    def ids(self) -> list[tuple[str, int]]:
        """Every ``-object``/``-device`` id with its position, in argv order."""
        found: list[tuple[str, int]] = [
            *((b.id, b.position) for b in self.backends),
            *((d.id, d.position) for d in self.devices if d.id is not None),
            *((i.id, i.position) for i in self.initiators),
            *((o.id, o.position) for o in self.objects),
        ]
        return sorted(found, key=lambda item: item[1])

    def device(self, device_id: str) -> Device | None:
        """The first ``-device`` with this id (QEMU would refuse a second one anyway)."""
        return self._devices_by_id.get(device_id)

    def backend(self, backend_id: str) -> MemoryBackend | None:
        return self._backends_by_id.get(backend_id)

    @cached_property
    def _devices_by_id(self) -> dict[str, Device]:
        found: dict[str, Device] = {}
        for device in self.devices:
            if device.id is not None:
                found.setdefault(device.id, device)
        return found

    @cached_property
    def _backends_by_id(self) -> dict[str, MemoryBackend]:
        found: dict[str, MemoryBackend] = {}
        for backend in self.backends:
            found.setdefault(backend.id, backend)
        return found


class _Unreadable(Exception):
    """Internal: the argument as a whole cannot be read; the message says why."""


@dataclass(frozen=True)
class _Props:
    """Properties as read: JSON values as they are, key=value values as strings."""

    values: Mapping[str, object]
    order: tuple[str, ...]
    form: Form
    repeated: Mapping[str, tuple[str, ...]]
    problems: tuple[str, ...]


def _read_keyval(text: str, implied: str, repeatable: frozenset[str]) -> _Props:
    """QemuOpts-style key=value: first token may omit its key (``implied``)."""
    values: dict[str, object] = {}
    order: list[str] = []
    repeated: dict[str, list[str]] = {}
    problems: list[str] = []
    for index, part in enumerate(split_keyval(text)):
        if "=" not in part:
            if index == 0 and part:
                key, value = implied, part
            elif part == "":
                problems.append("empty parameter (a stray ',')")
                continue
            else:
                problems.append(f"'{part}' is a parameter without '=' (an unescaped comma?)")
                continue
        else:
            key, value = part.split("=", 1)
            if key == "":
                problems.append(f"'{part}' has no key")
                continue
        if key in repeatable:
            repeated.setdefault(key, []).append(value)
            if key not in order:
                order.append(key)
            values.setdefault(key, value)
            continue
        if key in values:
            problems.append(f"'{key}' given twice ('{values[key]}' and '{value}')")
            continue
        values[key] = value
        order.append(key)
    return _Props(
        values=values,
        order=tuple(order),
        form=Form.KEYVAL,
        repeated={key: tuple(items) for key, items in repeated.items()},
        problems=tuple(problems),
    )


def _read_json(text: str) -> _Props:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        seen: dict[str, object] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError) as error:
        raise _Unreadable(f"not valid JSON ({_short(str(error))})") from None
    if not isinstance(data, dict):
        raise _Unreadable(f"JSON value is a {type(data).__name__}, not an object")
    if duplicates:
        raise _Unreadable(f"duplicate JSON key '{_short(duplicates[0])}'")
    return _Props(values=data, order=tuple(data), form=Form.JSON, repeated={}, problems=())


def _read_props(text: str, implied: str, repeatable: frozenset[str] = frozenset()) -> _Props:
    if text.startswith("{"):
        return _read_json(text)
    return _read_keyval(text, implied, repeatable)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _c_uint(text: str) -> int:
    """An unsigned integer as ``strtoull(text, NULL, 0)`` reads it, in 64 bits."""
    try:
        return c_uint(text)
    except NumberTooLarge:
        raise _Unreadable(f"'{_short(text)}' does not fit in 64 bits") from None
    except ValueError:
        raise _Unreadable(f"'{_short(text)}' is not an unsigned integer") from None


def _uint(props: _Props, key: str) -> int | None:
    """A required-if-present unsigned property: JSON integer or key=value text."""
    if key not in props.values:
        return None
    value = props.values[key]
    if props.form is Form.JSON:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Unreadable(f"'{key}' must be a JSON integer, not {json.dumps(value)[:40]}")
        if not 0 <= value <= MAX_U64:
            raise _Unreadable(f"'{key}' {value} is not an unsigned 64-bit integer")
        return value
    return _c_uint(str(value))


def _size(props: _Props, key: str, default_shift: int = 0) -> int | None:
    """A size: JSON integer, or key=value bytes with QEMU's optional B/K/M/G/T/P/E (a
    bare number in ``default_shift`` units)."""
    if key not in props.values or props.form is Form.JSON:
        return _uint(props, key)
    text = str(props.values[key]).strip()
    if text.lower().startswith("0x"):
        return _c_uint(text)
    try:
        return parse_size(text, default_shift)
    except ValueError as error:
        raise _Unreadable(f"'{key}' '{_short(text)}' {error}") from None


def _required(props: _Props, key: str) -> str:
    value = _text(props, key)
    if value is None:
        raise _Unreadable(f"'{key}' is missing")
    return value


def _text(props: _Props, key: str) -> str | None:
    if key not in props.values:
        return None
    value = props.values[key]
    if props.form is Form.JSON and not isinstance(value, str):
        if key == "addr" and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _Unreadable(f"'{key}' must be a JSON string, not {json.dumps(value)[:40]}")
    return str(value)


def _devfn(props: _Props) -> int | None:
    """``addr`` as QEMU 10's ``set_pci_devfn`` reads it: a JSON integer 0-255 is the
    devfn, a string ``SLOT[.FUNCTION]`` in hex (``sscanf %x``: blanks, ``+``, ``0x``);
    slot 0-31, function 0-7."""
    value = props.values.get("addr")
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= 0xFF else None
    match = _ADDR.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    slot, function = int(match[1], 16), int(match[2] or "0", 16)
    return slot << 3 | function if slot <= 0x1F and function <= 7 else None


def _lenient_uint(props: _Props, key: str) -> int | None:
    """An unsigned property, None when absent or unreadable (not an error of the argv)."""
    try:
        return _uint(props, key)
    except _Unreadable:
        return None


def _cpu_range(text: str) -> range:
    first, dash, last = text.partition("-")
    low = _c_uint(first)
    high = _c_uint(last) if dash else low
    if high < low:
        raise _Unreadable(f"cpus '{_short(text)}' runs backwards")
    if high >= 1 << 16:
        raise _Unreadable(f"cpus '{_short(text)}' is beyond QEMU's uint16 CPU index")
    return range(low, high + 1)


def _cpus(props: _Props) -> frozenset[int]:
    if props.form is Form.KEYVAL:
        found: set[int] = set()
        for item in props.repeated.get("cpus", ()):
            found.update(_cpu_range(item))
        return frozenset(found)
    value = props.values.get("cpus")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or any(
        isinstance(cpu, bool) or not isinstance(cpu, int) or not 0 <= cpu < 1 << 16 for cpu in value
    ):
        raise _Unreadable("'cpus' must be a JSON list of CPU indexes (uint16)")
    return frozenset(value)


@dataclass
class _Reader:
    """Accumulates what one pass over the argv finds."""

    numa_nodes: list[NumaNode]
    distances: list[NumaDistance]
    backends: list[MemoryBackend]
    devices: list[Device]
    initiators: list[GenericInitiator]
    objects: list[OtherObject]
    errors: list[ReadError]
    hmat: list[HmatEntry] = field(default_factory=list)
    hmat_enabled: bool = False
    machine_memory_backend: str | None = None

    def problems(self, position: int, flag: str, value: str, props: _Props) -> None:
        for message in props.problems:
            self.errors.append(ReadError(position, flag, value, message, props.form, stray=True))

    def read(self, position: int, flag: str, value: str) -> None:
        form = Form.JSON if value.startswith("{") else Form.KEYVAL
        try:
            if flag == "-object":
                self._object(position, value)
            elif flag == "-device":
                self._device(position, value)
            elif flag == "-machine":
                # the machine type may come first without a key; QEMU's last hmat= wins
                for item in value.split(","):
                    if item.startswith("hmat="):
                        self.hmat_enabled = item == "hmat=on"
                    elif item.startswith("memory-backend="):
                        self.machine_memory_backend = item.partition("=")[2]
            else:
                self._numa(position, value)
        except _Unreadable as error:
            self.errors.append(ReadError(position, flag, value, str(error), form))

    def _object(self, position: int, value: str) -> None:
        props = _read_props(value, "qom-type")
        self.problems(position, "-object", value, props)
        qom_type = _required(props, "qom-type")
        object_id = _required(props, "id")
        if qom_type == GI_TYPE:
            pci_dev = _text(props, "pci-dev")
            node = _uint(props, "node")
            missing = [key for key in ("pci-dev", "node") if key not in props.values]
            for key in missing:
                self.errors.append(
                    ReadError(position, "-object", value, f"'{key}' is missing", props.form)
                )
            self.initiators.append(
                GenericInitiator(
                    position, object_id, pci_dev, node, props.form, frozenset(props.order)
                )
            )
        elif qom_type.startswith("memory-backend-"):
            size = _size(props, "size")
            if size is None:
                self.errors.append(
                    ReadError(position, "-object", value, "'size' is missing", props.form)
                )
            self.backends.append(MemoryBackend(position, object_id, qom_type, size, props.form))
        else:
            self.objects.append(OtherObject(position, object_id, qom_type, props.form))

    def _device(self, position: int, value: str) -> None:
        props = _read_props(value, "driver")
        self.problems(position, "-device", value, props)
        driver = _required(props, "driver")
        self.devices.append(
            Device(
                position=position,
                id=_text(props, "id"),
                driver=driver,
                host=_text(props, "host"),
                sysfsdev=_text(props, "sysfsdev"),
                iommufd=_text(props, "iommufd"),
                numa_node=_uint(props, "numa_node"),
                primary_bus=_text(props, "primary-bus"),
                bus=_text(props, "bus"),
                addr=_text(props, "addr"),
                form=props.form,
                devfn=_devfn(props),
                bus_nr=_lenient_uint(props, "bus_nr"),
            )
        )

    def _numa(self, position: int, value_text: str) -> None:
        props = _read_props(value_text, "type", frozenset({"cpus"}))
        self.problems(position, "-numa", value_text, props)
        numa_type = _required(props, "type")
        if numa_type == "dist":
            values = {key: _uint(props, key) for key in ("src", "dst", "val")}
            for key, value in values.items():
                if value is None:
                    message = f"'{key}' is missing"
                    self.errors.append(
                        ReadError(position, "-numa", value_text, message, props.form)
                    )
            self.distances.append(
                NumaDistance(
                    position,
                    values["src"],
                    values["dst"],
                    values["val"],
                    props.form,
                    frozenset(props.order),
                )
            )
            return
        if numa_type in ("hmat-lb", "hmat-cache"):
            lb = numa_type == "hmat-lb"
            self.hmat.append(
                HmatEntry(
                    position,
                    numa_type,
                    _uint(props, "target" if lb else "node-id"),
                    _uint(props, "initiator") if lb else None,
                    props.form,
                    frozenset(props.order),
                )
            )
            return
        if numa_type != "node":
            return
        memdev = _text(props, "memdev")
        self.numa_nodes.append(
            NumaNode(
                position=position,
                nodeid=_uint(props, "nodeid"),
                cpus=_cpus(props),
                memdev=memdev,
                form=props.form,
                properties=frozenset(props.order),
                mem=_size(props, "mem", 20),  # QEMU: a suffix-less legacy mem= is MiB
                initiator=_uint(props, "initiator"),
            )
        )


def read_argv(argv: Sequence[str]) -> ArgvReading:
    """Read every ``-object``, ``-device`` and ``-numa`` of an argv; never raises.

    Other options are skipped: a token after an unknown flag counts as its value unless it
    starts with ``-``. Positions are indexes into ``argv`` (of the flag), so "right after"
    means two tokens later. ``--flag`` is read as ``-flag``, as QEMU does.
    """
    reader = _Reader([], [], [], [], [], [], [])
    index = 0
    tokens = [token if isinstance(token, str) else str(token) for token in argv]
    while index < len(tokens):
        token = tokens[index]
        flag = token[1:] if token.startswith("--") else token
        if flag in _READ_FLAGS:
            if index + 1 >= len(tokens):
                reader.errors.append(ReadError(index, flag, "", "the option has no value"))
                break
            reader.read(index, flag, tokens[index + 1])
            index += 2
        elif token.startswith("-") and index + 1 < len(tokens):
            index += 1 if tokens[index + 1].startswith("-") else 2
        else:
            index += 1
    return ArgvReading(
        numa_nodes=tuple(reader.numa_nodes),
        distances=tuple(reader.distances),
        backends=tuple(reader.backends),
        devices=tuple(reader.devices),
        initiators=tuple(reader.initiators),
        objects=tuple(reader.objects),
        errors=tuple(reader.errors),
        hmat=tuple(reader.hmat),
        hmat_enabled=reader.hmat_enabled,
        machine_memory_backend=reader.machine_memory_backend,
    )


def normalize_host(text: str) -> str:
    """``DDDD:BB:SS.F`` in lower case; QEMU's short ``BB:SS.F`` means domain 0."""
    match = _HOST.match(text.strip())
    if match is None:
        return text
    domain, bus, slot, function = match.groups()
    return f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(slot, 16):02x}.{function}"


def normalize_sysfsdev(text: str) -> str:
    """An mdev's ``sysfsdev`` with a lower-case UUID and no trailing slash."""
    path = text.rstrip("/")
    name = path.rsplit("/", 1)[-1]
    if _UUID.match(name):
        return MDEV_SYSFS_PREFIX + name.lower()
    return path


def device_key(device: Device) -> str | None:
    """What a host device is compared on: its host address or its mdev path; a vfio-pci
    that comes through iommufd (no ``host``, the device arrives by fd) by ``id:ID``."""
    if device.host is not None:
        return normalize_host(device.host)
    if device.sysfsdev is not None:
        return normalize_sysfsdev(device.sysfsdev)
    if device.iommufd is not None and device.id is not None:
        return iommufd_key(device.id)
    return None


def iommufd_key(device_id: str) -> str:
    """The key of an iommufd device: its QEMU id (what ``pci-dev`` names)."""
    return f"id:{device_id}"
