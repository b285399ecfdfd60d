"""One way to make any argv run on this host, for both ground-truth runners.

A command line written for a real host names host devices, images, sockets, host NUMA
nodes and KVM. Ground truth needs QEMU to start it here under TCG and publish the ACPI
tables a guest would see, so whatever needs this host's resources is replaced by an
emulated stand-in in the same place, and every other option is kept as written. Two
entry points share the rewriting: :func:`runnable_argv` wraps the reference's GI-relevant
subset into a whole command (machine, RAM, vCPUs, the root ports libvirt would add);
:func:`runnable_libvirt_argv` adapts libvirt's complete command and records each change.
Pure: nothing is run here but ``-machine help``.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gi_conform.argv.build import Profile, aligned_memory, build_argv, flatten
from gi_conform.argv.options import OptionValue, join_keyval, parse_size, split_keyval
from gi_conform.argv.read import VFIO_PCI_DRIVERS, read_argv
from gi_conform.document.validate import Report
from gi_conform.groundtruth.tables import Check
from gi_conform.model import Domain
from gi_conform.pcitopology import DEVICE_DRIVERS, controller_props, pci_path, pci_topology
from gi_conform.semantics import BRIDGE_MODELS, initiator_pairs, legacy_numa_mem

__all__ = [
    "MEM_PATH_STAND_IN",
    "READBACK_MIN_MEMORY",
    "STAND_IN",
    "STAND_IN_IDS",
    "RunnableArgv",
    "acpi_check",
    "acpi_words",
    "document_command",
    "libvirt_acpi",
    "machine_types",
    "memory_size",
    "runnable_argv",
    "runnable_libvirt_argv",
    "runnable_report",
    "with_acpi",
    "with_every_controller",
    "with_readback_memory",
]

_BUS_RE = re.compile(r"pci\.(\d+)\Z")
_ROOT_BUS = "pcie.0"
_BRIDGE_DRIVERS = {model: DEVICE_DRIVERS[model] for model in BRIDGE_MODELS}
"""libvirt's bridge models and QEMU's devices for them."""
_FREE_SLOTS = {
    "q35": range(0x01, 0x1F),  # 0x00 the host bridge, 0x1f the ICH9 LPC/SATA/SMBus
    "pc": range(0x02, 0x20),  # 0x00 the host bridge, 0x01 the PIIX3 (measured: "in use by PIIX3")
    "virt": range(0x01, 0x20),  # 0x00 the GPEX host bridge
}
READBACK_MIN_MEMORY = 4 * 1024 * 1024
"""SeaBIOS publishes no ACPI tables in a guest with under about 2 MiB of RAM (measured:
1 MiB never, 2 MiB always); below this the readback run gets more, never the verdict run."""

STAND_IN = "edu"
"""What a vfio-pci device becomes in both runners: one memory BAR, no I/O BAR, no option
ROM, so SeaBIOS never runs out of I/O space (see :func:`runnable_argv`)."""
STAND_IN_IDS = (0x1234, 0x11E8)
"""The stand-in's PCI vendor and device id, as a guest enumerates it."""

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


@dataclass(frozen=True)
class RunnableArgv:
    """libvirt's argv made runnable here, and every change with its reason."""

    argv: tuple[str, ...]
    changes: tuple[str, ...]
    memory: int | None
    """Guest RAM in bytes (``-m``), ``None`` when the argv gives none or it is unreadable."""


def _size(value: object, default_shift: int) -> int | None:
    """A size property as a rewriter needs it: None when it is no size at all."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parse_size(value, default_shift)
    except ValueError:
        return None


def _kept(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: values[key] for key in keys if key in values}


def _memory_option(value: str) -> int | None:
    """The RAM size of a ``-m`` value (``size=8388608k`` or ``1024``: MiB by default)."""
    props = OptionValue.read(value, "size")
    return None if props is None else _size(props.values.get("size"), 20)


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
    props = OptionValue.read(value, "type")
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
    for flash in ("pflash0", "pflash1"):
        # The firmware images are host files; flash backed by an empty null-co node has
        # the wrong size, and QEMU judges NUMA and initiators before any firmware runs.
        if flash in values:
            changes.append(f"machine {flash} dropped (no UEFI image here: QEMU's default)")
            del values[flash]
            changed = True
    return props.text(values) if changed else value


def _device(value: str, stand_in: str, changes: list[str]) -> str:
    """A host device becomes an emulated one with the same id and place."""
    props = OptionValue.read(value, "driver")
    if props is None:
        return value
    values = props.values
    driver = values.get("driver")
    ident = values.get("id", "?")
    if driver in VFIO_PCI_DRIVERS:
        replacement = {"driver": stand_in, **_kept(values, _KEEP_DEVICE_PCI)}
        changes.append(f"{ident}: {driver} -> {stand_in} (same id, bus, addr; no host device)")
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
    props = OptionValue.read(value, "driver")
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
    props = OptionValue.read(value, "qom-type")
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
    if kind == "iommufd":
        changes.append(f"object {ident} (iommufd) dropped: opens /dev/iommu (the stand-ins)")
        return []
    if kind == "monitor-qmp":
        # QEMU 11's object form of -mon (libvirt 12.8 uses it when its QEMU has it).
        monitor = f"chardev={values.get('chardev', '')},id={ident},mode=control"
        changes.append(f"object {ident} (monitor-qmp) -> -mon {monitor} (older QEMU's form)")
        return ["-mon", join_keyval(split_keyval(monitor))]
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
    props = OptionValue.read(value, "backend")
    if props is None:
        return value
    ident = props.values.get("id", "?")
    if props.values.get("backend") == "null":
        return value
    changes.append(f"chardev {ident}: {props.values.get('backend')} -> null (host resources)")
    return props.text({"backend": "null", "id": ident})


def _netdev(value: str, changes: list[str]) -> str:
    """Any network backend (tap needs /dev/net/tun and fds) becomes a hub port."""
    props = OptionValue.read(value, "type")
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
    backends (host binding dropped, ``reserve=off``). Dropped: the ``iommufd`` object
    (``/dev/iommu``), ``-S`` (the guest must run
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
        if flag == "-m":
            memory = _memory_option(value)
        out += _rewritten(flag, value, machines, stand_in, changes)
    if display and "-display" not in out:
        out += ["-display", "none"]
        changes.append("-display none (the dropped display needs a host socket)")
    return RunnableArgv(tuple(out), tuple(changes), memory)


def _accel(value: str, changes: list[str]) -> str:
    props = OptionValue.read(value, "accel")
    if props is not None and props.values.get("accel") != "tcg":
        changes.append(f"-accel {value} -> tcg (no KVM here)")
        return "tcg"
    return value


def _rewritten(
    flag: str, value: str, machines: frozenset[str] | None, stand_in: str, changes: list[str]
) -> list[str]:
    """One option with a value, as it runs here (possibly none, or a different flag)."""
    if flag == "-object":
        return _object(value, changes)
    rewrite: Callable[[str, list[str]], str] | None = {
        "-machine": lambda v, c: _machine(v, machines, c),
        "-accel": _accel,
        "-device": lambda v, c: _device(v, stand_in, c),
        "-blockdev": _blockdev,
        "-chardev": _chardev,
        "-netdev": _netdev,
    }.get(flag)
    return [flag, value if rewrite is None else rewrite(value, changes)]


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
            props = OptionValue.read(out[position + 1], "type")
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
            props = OptionValue.read(value, "qom-type")
            if props is not None and props.values.get("id") == grow:
                size = _size(props.values.get("size"), 0)
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
    reaches any guest whatever libvirt emits (GI-ACPI-DISABLED; the proof's verdict says
    so itself). The readback turns ACPI on, as ``gi-conform qemu --force-acpi`` does, to
    see whether libvirt's argv carries the initiators; the verdict run keeps libvirt's.
    """
    out = list(argv)
    note: str | None = None
    for position, token in enumerate(out[:-1]):
        if token != "-machine":
            continue
        props = OptionValue.read(out[position + 1], "type")
        if props is not None and props.values.get("acpi") in ("off", False):
            out[position + 1] = props.text({**props.values, "acpi": "on"})
            note = (
                "readback only: acpi=off -> on (the document has no <acpi/>: no guest gets "
                "initiators then; read as gi-conform qemu does)"
            )
    return tuple(out), note


# ------------------------------------------------------------------ the reference's subset


def memory_size(domain: Domain) -> int:
    """Guest RAM in bytes: the cells' sum with NUMA (QEMU requires it), else ``<memory>``."""
    if domain.cells:
        return sum(aligned_memory(cell.memory or 0) for cell in domain.cells)
    return domain.memory or 0  # no <memory> and no cells: libvirt refuses the domain


def _machine_kind(machine: str) -> str:
    """q35, pc or virt: what a ``-machine`` value (``pc-i440fx-9.2,acpi=on``) is."""
    name = machine.split(",", maxsplit=1)[0]
    if name.startswith("virt"):
        return "virt"
    if name == "pc" or (name.startswith("pc-") and not name.startswith("pc-q35")):
        return "pc"
    return "q35"


def libvirt_acpi(domain: Domain) -> bool:
    """Whether libvirt runs the document with ACPI on: only with ``<features><acpi/>``
    (libvirt 12.8, measured on q35, pc and virt: no ``<features>``, or one without
    ``<acpi/>``, gives ``-machine ...,acpi=off``, and every initiator object still)."""
    return domain.acpi is True


def acpi_check(domain: Domain, *, forced: bool) -> Check | None:
    """The failed check of a document whose initiators libvirt's ``acpi=off`` loses
    (GI-ACPI-DISABLED); None when ACPI is on as libvirt runs it, or nothing is asked.
    ``forced``: the run had ACPI turned on anyway, to show the tables."""
    count = len(set(initiator_pairs(domain)))
    if libvirt_acpi(domain) or not count:
        return None
    lost = "QEMU builds no SRAT, the guest gets none of the initiators"
    seen = (
        f"forced on for this run (--force-acpi); libvirt writes acpi=off: {lost}"
        if forced
        else f"acpi=off, as libvirt writes it (no <features><acpi/>): {lost}"
    )
    return Check("ACPI", f"on ({count} generic initiator(s) asked for)", seen, False)


def runnable_report(report: Report) -> bool:
    """Whether a validated document still runs: accepted, or rejected only because
    libvirt would run it with ACPI off (GI-ACPI-DISABLED), which the run is to show."""
    return report.accepted or {v.rule for v in report.errors} == {"GI-ACPI-DISABLED"}


def acpi_words(domain: Domain, acpi: bool) -> str:
    """How ACPI was set for a run, for its summary line: nothing when on as libvirt runs it."""
    if acpi and not libvirt_acpi(domain):
        return ", ACPI forced on (--force-acpi; libvirt writes acpi=off)"
    return "" if acpi else ", ACPI off as libvirt runs it (no <features><acpi/>)"


def document_command(
    domain: Domain, profile: Profile, binary: str, *, arch: str = "x86_64", acpi: bool = True
) -> list[str]:
    """The runnable command for a valid document: its reference argv, wrapped for QEMU
    (aarch64: the ``virt`` machine with ACPI and a GICv3, which takes more than 8 vCPUs).
    ``acpi=False``: ``acpi=off`` on the machine, as libvirt runs a document without
    ``<acpi/>`` (:func:`libvirt_acpi`)."""
    legacy = domain.machine is not None and legacy_numa_mem(domain)
    if arch == "aarch64":
        # only a machine type up to 5.0 takes the legacy mem=: virt-5.0 on aarch64
        # virt-5.0 has no ITS under TCG: a GICv2 gives MSI through its v2m frame (8 vCPUs)
        kind = "virt-5.0" if legacy else "virt"
        gic = "2" if legacy else "max"
        machine = f"{kind},acpi={'on' if acpi else 'off'},gic-version={gic}"
    else:
        machine = "pc" if domain.pci_root_bus == "pci.0" else "q35"
        if legacy and domain.machine is not None:
            machine = domain.machine  # the document's own machine type, up to 5.0
    if not acpi and arch != "aarch64":
        machine += ",acpi=off"
    bridges = {
        c.index: c.model
        for c in domain.pci_controllers
        if c.index is not None and c.model in _BRIDGE_DRIVERS
    }
    return runnable_argv(
        with_every_controller(domain, flatten(build_argv(domain, profile))),
        memory_bytes=memory_size(domain),
        vcpus=domain.vcpus or 1,
        machine=machine,
        binary=binary,
        bridges=bridges,
    )


def with_every_controller(domain: Domain, argv: list[str]) -> list[str]:
    """The argv with the controllers libvirt would write for its devices' buses.

    The seed profile writes no controller, the libvirt profile only the PCI path of each
    initiator's device; so every controller :func:`pci_topology` places is put back (an
    expander bus with its node, the root ports and bridges libvirt adds for devices
    without a guest address: issue 23), so the firmware numbers the buses as in
    libvirt's guest, before the argv's own devices, in index order (a parent before its
    children). A controller with an unplaced one on its path is left out (QEMU would
    refuse its bus)."""
    devices = read_argv(argv).devices
    defined = {device.id for device in devices if device.id is not None}
    topology = pci_topology(domain)
    extra: list[str] = []
    for controller in topology.values():
        props = controller_props(domain, controller)
        # every controller whose whole path is placed: libvirt's guest has them all
        if props["id"] in defined or pci_path(topology, controller.index) is None:
            continue
        extra += ["-device", json.dumps(props, separators=(",", ":"))]
    if not extra:
        return argv
    first = next((i for i, token in enumerate(argv) if token == "-device"), len(argv))
    return [*argv[:first], *extra, *argv[first:]]


def _slot_of(addr: object) -> int | None:
    """The slot number of a ``addr`` property (``"0x2"``, ``"0x2.0x1"``, ``"02.1"``, 2)."""
    if isinstance(addr, int):
        return addr
    if not isinstance(addr, str) or addr == "":
        return None
    try:
        return int(addr.split(".")[0], 16)
    except ValueError:
        raise ValueError(f"-device addr {addr!r} is not SLOT[.FUNCTION] in hex") from None


MEM_PATH_STAND_IN = "/dev/shm"
"""Where file memory backends are placed when a document is run (see runnable_argv)."""


def runnable_argv(
    profile_argv: Sequence[str],
    *,
    memory_bytes: int,
    vcpus: int,
    machine: str = "q35",
    binary: str = "qemu-system-x86_64",
    stand_in: str = "edu",
    bridges: Mapping[int, str] | None = None,
) -> list[str]:
    """Wrap the GI-relevant argv subset into a QEMU command that runs on any host.

    ``bridges`` maps a bus number to the PCI bridge model the document declares for it
    (``pci-bridge``, ``pcie-to-pci-bridge``); every other ``pci.N`` is a root port.

    Why each change:

    * ``-accel tcg -nodefaults -display none``: no KVM, no default NIC/VGA, no window;
      the guest only has to run SeaBIOS far enough to publish the ACPI tables.
    * ``-m {memory_bytes}b``: a bare ``-m`` number means MiB, the ``b`` suffix gives
      exact bytes. QEMU rounds ``-m`` up to a multiple of 8 KiB while memory backends
      keep their exact size, so NUMA memory that is not a multiple of 8 KiB is refused
      ("total memory for NUMA nodes ... should equal RAM size"); this is passed through
      on purpose, it is QEMU's verdict to report.
    * the ``iommufd`` object (libvirt's iommufd devices) is dropped: it opens
      ``/dev/iommu``, which this host lacks, and the stand-ins need no IOMMU; so is an
      ``arm-smmuv3``: it changes the IORT, not the SRAT or any bus, and x86 has none.
    * every ``vfio-pci`` (or ``vfio-pci-nohotplug``) device becomes ``stand_in`` with the
      same ``id``, ``bus``, ``addr`` (and ``multifunction``), in the same syntax (JSON or
      key=value), with or without ``host`` (an iommufd device has none; ``iommufd`` is
      dropped too): any PCI device can be a generic initiator, and no host device or
      IOMMU is needed. The
      default ``edu`` has one memory BAR, no I/O BAR and no option ROM. ``pci-testdev``
      has a 256-byte I/O BAR, so each root port above one needs a 4 KiB I/O window and
      SeaBIOS panics ("PCI: out of I/O address space") from 15 such ports on: no ACPI
      tables ever appear.
    * a ``-machine`` of properties only (``hmat=on``) is folded into the wrapper's own
      ``-machine``: QEMU merges repeated ``-machine`` options too (measured on 10.0.2),
      but one option keeps the command readable and leaves no doubt which wins.
    * each ``pci.N`` bus referenced by a device, and not defined by the argv itself,
      gets a ``pcie-root-port`` with ``id=pci.N`` on ``pcie.0``, as libvirt's
      controllers would. Ports are packed eight to a slot as multifunction devices in
      ascending slots from 0x01, skipping slots the argv puts devices in explicitly, in
      ascending N: SeaBIOS numbers buses in devfn order, so when the argv uses pci.1 ..
      pci.K they get bus numbers 1 .. K as with libvirt. Each port has its own chassis
      number, which QEMU requires to be unique per (chassis, slot).
      Root ports come before the argv's own devices, and devices without ``addr`` come
      last (QEMU gives them the first free slot when it creates them), so they cannot
      take a slot a port or an explicitly placed device needs. QEMU resolves
      ``pci-dev`` when it builds the tables, so the order changes nothing else.

    The QMP monitor is not added here: the runner that owns the socket adds it.
    """
    if memory_bytes <= 0:
        raise ValueError(f"memory_bytes must be positive, got {memory_bytes}")
    if vcpus <= 0:
        raise ValueError(f"vcpus must be positive, got {vcpus}")
    kind = _machine_kind(machine)
    root_bus = "pci.0" if kind == "pc" else _ROOT_BUS  # i440fx's root is pci.0
    layout = _SubsetLayout(root_bus, _FREE_SLOTS[kind], dict(bridges or {}))
    machine_props: list[str] = []
    body: list[str] = []
    unplaced: list[str] = []
    i = 0
    while i < len(profile_argv):
        option = profile_argv[i]
        value = profile_argv[i + 1] if i + 1 < len(profile_argv) else None
        if value is None or option not in ("-machine", "-object", "-device"):
            body.append(option)
            i += 1
            continue
        i += 2
        if option == "-machine" and all("=" in part for part in split_keyval(value)):
            machine_props.append(value)
        elif option == "-object" and '"qom-type":"thread-context"' in value:
            pass  # pins preallocation to the document's host nodes, which this host may lack
        elif option == "-object" and '"qom-type":"iommufd"' in value:
            pass  # opens /dev/iommu; the vfio-pci stand-ins do not use it
        elif option == "-device" and '"driver":"arm-smmuv3"' in value:
            pass  # an SMMU changes the IORT, no SRAT entry or bus; x86 QEMU has none
        elif option == "-object":
            body += [option, _subset_backend(value)]
        elif option == "-device":
            props = layout.add(value)
            value = _device(value, stand_in, [])
            # devices without addr go after every explicit one: see the docstring
            placed = props.get("addr") is not None or props.get("driver") not in VFIO_PCI_DRIVERS
            (body if placed else unplaced).extend([option, value])
        else:
            body += [option, value]
    ports, spare = layout.ports()
    return [
        binary,
        "-machine",
        ",".join([machine, *machine_props]),
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-m",
        f"{memory_bytes}b",
        "-smp",
        str(vcpus),
        *ports,
        *body,
        *_placed(unplaced, root_bus, spare),
    ]


def _subset_backend(value: str) -> str:
    """A memory backend with its host-side properties made local to this host."""
    if not (value.lstrip().startswith("{") and '"qom-type":"memory-backend-' in value):
        return value
    backend = json.loads(value)
    if "mem-path" in backend:
        # A host path (libvirt's memory_backing_dir); a directory makes QEMU create an
        # unlinked file there: RAM-backed tmpfs.
        backend["mem-path"] = MEM_PATH_STAND_IN
    # numatune's binding names the *host's* nodes, which this host may lack ("cannot
    # bind memory to host NUMA nodes"); the guest sees no difference.
    backend.pop("host-nodes", None)
    backend.pop("policy", None)
    # Hugepages and preallocation are host resources this host need not have (no
    # hugetlbfs reserved; a 1 GiB cell allocated up front); the guest sees no difference.
    for key in ("hugetlb", "hugetlbsize", "prealloc", "prealloc-threads", "prealloc-context"):
        backend.pop(key, None)
    return json.dumps(backend, separators=(",", ":"))


@dataclass
class _SubsetLayout:
    """What the subset's devices occupy: buses named, ids defined, root-bus slots used."""

    root_bus: str
    slots: range
    bridges: dict[int, str]
    buses: set[int] = field(default_factory=set)
    defined_ids: set[str] = field(default_factory=set)
    used_slots: set[int] = field(default_factory=set)

    def add(self, value: str) -> dict[str, Any]:
        """Record a ``-device`` value; its properties (ValueError when unreadable)."""
        option = OptionValue.read(value, "driver")
        if option is None:
            raise ValueError(f"-device JSON is not an object: {value}")
        props = option.values
        if isinstance(props.get("id"), str):
            self.defined_ids.add(props["id"])
        bus = props.get("bus")
        if isinstance(bus, str) and bus != self.root_bus and (match := _BUS_RE.match(bus)):
            self.buses.add(int(match[1]))
        if bus in (None, self.root_bus) and (slot := _slot_of(props.get("addr"))) is not None:
            self.used_slots.add(slot)
        return props

    def ports(self) -> tuple[list[str], list[int]]:
        """The root ports for every ``pci.N`` named but not defined, and the free slots
        left after them."""
        missing = sorted(n for n in self.buses if f"pci.{n}" not in self.defined_ids)
        free = [s for s in self.slots if s not in self.used_slots]
        bridged = [n for n in missing if n in self.bridges]
        missing = [n for n in missing if n not in self.bridges]
        ports = self._bridges(bridged, free)
        free = free[len(bridged) :]
        if len(missing) > 8 * len(free):
            raise ValueError(
                f"{len(missing)} root ports do not fit in the {len(free)} free slots of {_ROOT_BUS}"
            )
        for index, number in enumerate(missing):
            slot, function = free[index // 8], index % 8
            port: dict[str, Any] = {
                "driver": "pcie-root-port",
                "id": f"pci.{number}",
                "bus": _ROOT_BUS,
                "addr": f"{slot:#x}.{function:#x}",
                "chassis": index + 1,
            }
            if function == 0:
                port["multifunction"] = True
            ports += ["-device", json.dumps(port, separators=(",", ":"))]
        return ports, free[-(-len(missing) // 8) :]

    def _bridges(self, numbers: list[int], free: list[int]) -> list[str]:
        """A bridge of the declared model for each bus, one root-bus slot each: behind a
        root port (slot 0 only) a guest would never scan the bridge's slots 1-31."""
        if len(numbers) > len(free):
            raise ValueError(f"{len(numbers)} bridges do not fit in {len(free)} free slots")
        devices: list[str] = []
        for slot, number in zip(free, numbers, strict=False):
            bridge: dict[str, Any] = {"driver": _BRIDGE_DRIVERS[self.bridges[number]]}
            bridge.update({"id": f"pci.{number}", "bus": self.root_bus, "addr": f"{slot:#x}"})
            if bridge["driver"] == "pci-bridge":
                bridge["chassis_nr"] = number
            devices += ["-device", json.dumps(bridge, separators=(",", ":"))]
        return devices


def _placed(unplaced: list[str], root_bus: str, spare: list[int]) -> list[str]:
    """Devices without addr get their own slot: QEMU's first free slot could be one whose
    higher functions the argv places explicitly ("2.0 indicates single function")."""
    placed: list[str] = []
    spare = list(spare)
    for index in range(0, len(unplaced), 2):
        option, value = unplaced[index], unplaced[index + 1]
        if value.lstrip().startswith("{") and spare:
            device = json.loads(value)
            device.update({"bus": root_bus, "addr": f"{spare.pop(0):#x}"})
            value = json.dumps(device, separators=(",", ":"))
        placed += [option, value]
    return placed
