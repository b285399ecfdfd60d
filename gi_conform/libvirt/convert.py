"""Asking real libvirt what QEMU argv a domain document becomes, and reducing it.

Each document is converted by a fresh ``virsh domxml-to-native qemu-argv`` through the
embedded QEMU driver, which needs no daemon, in the libvirt that
:func:`gi_conform.libvirt.install.locate` finds (measured on libvirt 12.8, Debian sid):

* only ``/proc`` is mounted in the chroot, and only inside a private mount namespace
  that dies with the process: the host's ``/dev`` would bring ``/dev/kvm``, which makes
  libvirt's capability cache look stale on every call (~70 s a call instead of ~0.05 s);
* every conversion runs in a new PID namespace: when it ends or is killed, the kernel
  ends every process libvirt started (its QEMU probes included), so none is left behind;
* one conversion at a time per embedded-driver root (libvirt holds a pid file there),
  several roots for parallel workers, each seeded with the warmed capability cache;
* only what depends on the host is changed in a document first (``prepare_document``).

``reduce`` keeps the GI-relevant part of libvirt's full argv, as the reference profiles
emit it. This module owns running libvirt; finding it (:mod:`gi_conform.libvirt.install`)
is below it and building it (:mod:`gi_conform.libvirt.lifecycle`, whose warm-up is a
conversion) above it. Nothing is ever mounted in, or written to, the host's ``/dev``,
``/sys`` or ``/proc``.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from gi_conform.argv.build import HUGETLBFS_PREFIX, hugetlbfs_mount
from gi_conform.argv.facts import path_positions
from gi_conform.argv.options import read_args_text
from gi_conform.argv.read import VFIO_PCI_DRIVERS, read_argv
from gi_conform.document.xml import hardened_parser
from gi_conform.libvirt.install import Libvirt, locate
from gi_conform.process import ProcessResult, run_bounded

__all__ = [
    "HUGETLBFS_PAGE_SIZES",
    "STABLE_UUID",
    "LibvirtError",
    "LibvirtResult",
    "LibvirtTimeout",
    "convert",
    "environment_reason",
    "hugetlbfs_mount_points",
    "leftover_processes",
    "parse_virsh_output",
    "prepare_document",
    "reduce",
    "run_on_document",
    "system_paths",
]

STABLE_UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
"""Given to documents without ``<uuid>``, or libvirt invents a new ``-uuid`` every call."""

_DRIVER_BASE = "/var/lib/gi-conform"
_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
_LOCK_POLL = 0.005
_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_GI_HINTS = ("acpi-generic-initiator", "vfio-pci", "memory-backend")
_DOMAIN_TAG = re.compile(rb"<domain(?=[\s/>])[^>]*>")
_KVM_TYPE = re.compile(rb"\stype\s*=\s*(['\"])(kvm)\1")
_CPU_TAG = re.compile(rb"<cpu(?=[\s/>])[^>]*>")
_HOST_CPU_MODE = re.compile(rb"\smode\s*=\s*(['\"])(host-passthrough|host-model)\1")
_CPU_EXTRA_ATTRIBUTES = re.compile(rb"\s(?:mode|check|migratable)\s*=\s*(['\"])[^'\"]*\1")
_USB_HOSTDEV = re.compile(
    rb"<hostdev(?=\s)[^>]*\stype\s*=\s*(['\"])usb\1[^>]*>.*?</hostdev>", re.DOTALL
)
_SOURCE = re.compile(rb"<source(?=[\s>])[^>]*>.*?</source>", re.DOTALL)
_USB_ADDRESS = re.compile(rb"<address(?=[\s/>])[^>]*>")
_USB_FIELD = re.compile(rb"\s(bus|device)\s*=\s*(['\"])([^'\"]*)\2")
_UUID_TAG = re.compile(rb"<uuid(?=[\s/>])")
_NAME_END = re.compile(rb"</name>")
HUGETLBFS_PAGE_SIZES = (2 << 20, 1 << 30)
"""The x86 hugepage sizes a hugetlbfs is mounted for in the chroot, each where the
reference assumes the host mounts it (:func:`gi_conform.argv.build.hugetlbfs_mount`)."""


def hugetlbfs_mount_points() -> tuple[tuple[str, str], ...]:
    """``(path inside the chroot, pagesize option)`` per hugepage size: ``/dev/hugepages2M``."""
    return tuple(
        (path, path.removeprefix(HUGETLBFS_PREFIX))
        for path in map(hugetlbfs_mount, HUGETLBFS_PAGE_SIZES)
    )


# Inside the chroot (never for the host's libvirt, whose mounts are the host's), a
# hugetlbfs per page size on the directory ``setup`` made for it, in the private mount
# namespace: libvirt finds hugetlbfs in /proc/mounts (no qemu.conf change); a mount that
# fails (no such page size in this kernel) leaves libvirt's own message, read as the
# environment's by ``environment_reason``.
_HUGETLBFS_MOUNTS = "".join(
    f'[ -d "$1{path}" ] && mount -t hugetlbfs -o pagesize={size} hugetlbfs "$1{path}" 2>/dev/null; '
    for path, size in hugetlbfs_mount_points()
)
# One conversion: mount /proc privately, then run virsh in the chroot ($1, "" for the
# host) with a clean environment. Arguments: $1 root, $2 document, $3 connection URI.
# The shell stays PID 1 of the namespace (no exec) so that it reaps the QEMU probe
# libvirt daemonizes: as PID 1 virsh would leave it a zombie and then wait 40 s for
# its SIGKILL to "take" (virProcessKillPainfully).
_CONVERT_SCRIPT = (
    'mount -t proc proc "$1/proc" || exit 125; if [ -n "$1" ]; then '
    + _HUGETLBFS_MOUNTS
    + 'fi; chroot "${1:-/}" env -i '
    + _PATH
    + ' LC_ALL=C virsh -q -c "$3" domxml-to-native qemu-argv --xml "$2"; exit $?'
)
_ISOLATE = ("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child")


class LibvirtTimeout(TimeoutError):
    """A conversion did not finish in time (its processes have all been killed)."""


class LibvirtError(RuntimeError):
    """virsh failed for a reason that is not a verdict on the document (crash, no driver)."""


@dataclass(frozen=True)
class LibvirtResult:
    """libvirt's verdict on one document.

    ``argv`` is the full command line from the binary on (the environment assignments
    libvirt prints first are in ``environment``); ``message`` is libvirt's standard
    error, exactly: its verdict when it rejected the document, warnings (if any) when
    it accepted. ``document`` is what was converted:
    the input after ``adjustments`` (see :func:`prepare_document`).
    """

    accepted: bool
    argv: tuple[str, ...]
    message: str
    seconds: float
    document: bytes
    adjustments: tuple[str, ...] = ()
    environment: tuple[str, ...] = ()
    driver: int = 0


# ------------------------------------------------------------------------ documents


def _well_formed(xml: bytes) -> bool:
    """Whether libxml2 reads the document (DTDs allowed, nothing expanded or fetched)."""
    try:
        root = etree.fromstring(xml, hardened_parser())
    except etree.XMLSyntaxError:
        return False
    return root.tag == "domain"


def _usb_devices_on_bus_1(document: bytes) -> set[int]:
    """The device numbers the document's USB sources already give on bus 1: a vendor/product
    device must get another (libvirt: 'Hostdev already exists in the domain configuration')."""
    taken: set[int] = set()
    for block in _USB_HOSTDEV.finditer(document):
        source = _SOURCE.search(block.group(0))
        address = _USB_ADDRESS.search(source.group(0)) if source is not None else None
        if address is None:
            continue
        fields = {name: value for name, _, value in _USB_FIELD.findall(address.group(0))}
        with contextlib.suppress(KeyError, ValueError):
            if int(fields[b"bus"], 0) == 1:
                taken.add(int(fields[b"device"], 0))
    return taken


def _fill_usb_address(match: re.Match[bytes], counter: list[int], taken: set[int]) -> bytes:
    """A USB hostdev block with ``<address bus='1' device='N'/>`` added to its source, N from
    2 up, skipping the numbers in ``taken`` (and adding its own to them)."""
    block = match.group(0)
    source = _SOURCE.search(block)
    if source is None or b"<address" in source.group(0):
        return block
    counter[0] += 1
    device = next(n for n in itertools.count(2) if n not in taken)
    taken.add(device)
    address = b"<address bus='1' device='%d'/>" % device
    close = source.end() - len(b"</source>")
    return block[:close] + address + block[close:]


def prepare_document(xml: bytes) -> tuple[bytes, tuple[str, ...]]:
    """The document libvirt is given, and what was changed in it (and why).

    Only what depends on the host, none of it part of the feature, is changed, in place,
    so that line numbers in libvirt's messages stay those of the input:

    * ``<domain type='kvm'>`` becomes ``qemu``: the chroot has no ``/dev/kvm`` (on
      purpose: with it every call re-probes QEMU for ~70 s);
    * a ``host-passthrough``/``host-model`` CPU mode is dropped: TCG cannot provide it
      (the ``<numa>`` inside stays);
    * a USB hostdev given by vendor/product gets a bus/device address: domxml-to-native
      does not look devices up on the host as starting a domain would;
    * a missing ``<uuid>`` is added after ``<name>``, or ``-uuid`` changes every call.

    A document libxml2 cannot read, or whose root is not ``<domain>``, is left as it is:
    libvirt's verdict on it is what we want to see.
    """
    if not _well_formed(xml):
        return xml, ()
    changes: list[str] = []
    document = xml
    domain = _DOMAIN_TAG.search(document)
    if domain is not None and (kvm := _KVM_TYPE.search(domain.group(0))) is not None:
        tag = domain.group(0)
        tag = tag[: kvm.start(2)] + b"qemu" + tag[kvm.end(2) :]
        document = document[: domain.start()] + tag + document[domain.end() :]
        changes.append("domain type kvm -> qemu (no /dev/kvm in the chroot)")

    def cpu_tag(match: re.Match[bytes]) -> bytes:
        tag = match.group(0)
        mode = _HOST_CPU_MODE.search(tag)
        if mode is None:
            return tag
        changes.append(f"cpu mode {mode.group(2).decode()} dropped (TCG cannot provide it)")
        return _CPU_EXTRA_ATTRIBUTES.sub(b"", tag)

    document = _CPU_TAG.sub(cpu_tag, document)
    counter = [0]
    taken = _usb_devices_on_bus_1(document)
    document = _USB_HOSTDEV.sub(lambda m: _fill_usb_address(m, counter, taken), document)
    if counter[0]:
        changes.append(
            f"{counter[0]} USB hostdev(s) by vendor/product given bus 1 device 2.. "
            "(domxml-to-native does not look them up)"
        )
    if _UUID_TAG.search(document) is None and (name := _NAME_END.search(document)):
        uuid = b"<uuid>" + STABLE_UUID.encode() + b"</uuid>"
        document = document[: name.end()] + uuid + document[name.end() :]
        changes.append(f"uuid {STABLE_UUID} added (stable -uuid)")
    return document, tuple(changes)


_ENVIRONMENT: tuple[tuple[str | re.Pattern[str], str], ...] = (
    (
        "hugetlbfs filesystem is not mounted",
        "no hugetlbfs mounted in the chroot (run gi-conform libvirt setup again)",
    ),
    (
        "Unable to find any usable hugetlbfs mount",
        "the host has no hugetlbfs of that page size (x86 has 2 MiB and 1 GiB)",
    ),
    (
        "Advice from numad is needed",
        "placement auto needs numad, which domxml-to-native does not run",
    ),
    ("/dev/net/tun", "the chroot has no /dev/net/tun"),
    (
        "does not support machine type",
        "the chroot's QEMU has no such machine type",
    ),
    (
        "VFIO PCI device assignment is not supported by the host",
        "the chroot lacks the VFIO stand-ins (run gi-conform libvirt setup again)",
    ),
    (
        re.compile(r"NUMA node \d+ is unavailable"),
        "this host lacks a NUMA node the document binds (libvirt's own tests mock nodes 0-3)",
    ),
    (
        re.compile(r"does not support video model '(qxl|virtio)'"),
        "the chroot's QEMU lacks that display device",
    ),
)
"""libvirt messages that are facts of the harness's chroot, never of the document or of
libvirt's rules: a document refused only for one of them measures nothing."""


def environment_reason(message: str) -> str | None:
    """``environment: <why>`` when libvirt's rejection comes from the harness's
    environment (see ``_ENVIRONMENT``), else None: a verdict on the document."""
    for needle, why in _ENVIRONMENT:
        if needle.search(message) if isinstance(needle, re.Pattern) else needle in message:
            return f"environment: {why}"
    return None


_EMBEDDED_PATHS = (
    (re.compile(r"/var/lib/gi-conform/embed-\d+/lib/qemu/"), "/var/lib/libvirt/qemu/"),
    (re.compile(r"/libvirt/qemu-embed-[0-9a-f]+/"), "/libvirt/qemu/"),
)


def system_paths(argv: Sequence[str]) -> list[str]:
    """``argv`` with the embedded driver's state paths as libvirt's system driver writes
    them (a memory backend's ``mem-path`` under ``/var/lib/libvirt/qemu/ram/`` or a
    hugetlbfs's ``libvirt/qemu/``): where the harness runs libvirt is not the document's."""
    out = list(argv)
    for pattern, replacement in _EMBEDDED_PATHS:
        out = [pattern.sub(replacement, token) for token in out]
    return out


def parse_virsh_output(text: str) -> tuple[list[str], list[str]]:
    """``(environment, argv)`` from ``domxml-to-native``'s one line of shell words."""
    words = read_args_text(text)
    index = 0
    while index < len(words) and _ENV_ASSIGNMENT.match(words[index]):
        index += 1
    return words[:index], words[index:]


def reduce(argv: Sequence[str]) -> list[str]:
    """The GI-relevant part of a full argv, in its order, as the reference profiles emit.

    Kept: ``-numa`` node, dist and HMAT options, a ``-machine`` that sets ``hmat=``, the
    memory backends the nodes use, ``vfio-pci`` devices, the ``iommufd`` object they may
    use, ``acpi-generic-initiator`` objects and the PCI path of their devices (controllers,
    ``arm-smmuv3``). Anything the argv reader cannot read is
    kept when it looks like one of these, so a malformed option is seen.
    """
    tokens = list(argv)
    reading = read_argv(tokens)
    memdevs = {node.memdev for node in reading.numa_nodes if node.memdev is not None}
    keep = {node.position for node in reading.numa_nodes}
    keep |= {distance.position for distance in reading.distances}
    keep |= {entry.position for entry in reading.hmat}
    keep |= {
        index
        for index, token in enumerate(tokens[:-1])
        if token == "-machine" and "hmat=" in tokens[index + 1]
    }
    keep |= {backend.position for backend in reading.backends if backend.id in memdevs}
    keep |= {device.position for device in reading.devices if device.driver in VFIO_PCI_DRIVERS}
    keep |= {obj.position for obj in reading.objects if obj.qom_type == "iommufd"}
    keep |= {initiator.position for initiator in reading.initiators}
    keep |= path_positions(reading)
    keep |= {
        error.position
        for error in reading.errors
        if error.flag == "-numa" or any(hint in error.value for hint in _GI_HINTS)
    }
    reduced: list[str] = []
    for position in sorted(keep):
        reduced += tokens[position : position + 2]
    return reduced


# ------------------------------------------------------------------------ converting


@contextlib.contextmanager
def _driver_lock(libvirt: Libvirt, driver: int | None, deadline: float) -> Iterator[int]:
    """Hold one embedded-driver root's lock (any free one when ``driver`` is None).

    ``flock`` on a file per root: it serialises threads and processes alike and is
    released by the kernel if we die.
    """
    locks = libvirt.home / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    candidates = [driver] if driver is not None else list(range(libvirt.drivers))
    handles = {
        index: os.open(locks / f"embed-{index}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        for index in candidates
    }
    held: int | None = None
    try:
        while held is None:
            for index in candidates:
                try:
                    fcntl.flock(handles[index], fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                held = index
                break
            if held is None:
                if time.monotonic() >= deadline:
                    raise LibvirtTimeout(
                        f"every embedded-driver root of {libvirt.home} stayed busy until "
                        "the deadline"
                    )
                time.sleep(_LOCK_POLL)
        yield held
    finally:
        for handle in handles.values():
            os.close(handle)  # closing releases the flock


def _driver_root(index: int) -> str:
    return f"{_DRIVER_BASE}/embed-{index}"


def _seed_cache(libvirt: Libvirt, index: int) -> None:
    """Give a new driver root a copy of the warmed QEMU capability cache.

    libvirt validates the cache itself on load (binary and libvirt timestamps, host),
    so a copy is used only when it is still right; it saves a ~2 s QEMU probe per root.
    """
    if index == 0:
        return
    relative = "cache/qemu/capabilities"
    target = libvirt.root / _driver_root(index).lstrip("/") / relative
    source = libvirt.root / _driver_root(0).lstrip("/") / relative
    if target.exists() or not source.is_dir():
        return
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target)


def _is_infrastructure_failure(stderr: str) -> bool:
    """virsh could not even try the document: no driver, no /proc, no QEMU binary probe."""
    return "failed to connect to the hypervisor" in stderr or "Initialization of" in stderr


def run_on_document(
    found: Libvirt,
    document: bytes,
    script: str,
    *extra: str,
    driver: int | None = None,
    deadline: float,
    memory_limit: int | None = None,
) -> tuple[ProcessResult, int]:
    """Run the shell ``script`` on ``document`` in an isolated process holding a locked
    embedded-driver root, and return its result and the root's index. The document is
    written where libvirt sees it (inside the chroot); the script's arguments are the
    chroot (empty for the host's libvirt), the document's path as libvirt sees it, the
    driver's URI, then ``extra``. One way to run virsh, for the argv and the addresses."""
    with _driver_lock(found, driver, deadline) as index:
        if found.in_chroot:
            _seed_cache(found, index)
        scratch_base = found.root / "tmp" if found.in_chroot else Path(tempfile.gettempdir())
        with tempfile.TemporaryDirectory(prefix="gi-conform-", dir=scratch_base) as scratch:
            path = Path(scratch) / "domain.xml"
            path.write_bytes(document)
            inside = "/" + str(path.relative_to(found.root)) if found.in_chroot else str(path)
            command = [
                *_ISOLATE,
                "sh",
                "-c",
                script,
                "sh",
                str(found.root) if found.in_chroot else "",
                inside,
                f"qemu:///embed?root={_driver_root(index)}",
                *extra,
            ]
            remaining = max(0.001, deadline - time.monotonic())
            return run_bounded(command, timeout=remaining, memory_limit=memory_limit), index


def convert(
    xml: bytes,
    *,
    root: Path | None = None,
    timeout: float = 60.0,
    driver: int | None = None,
    libvirt: Libvirt | None = None,
    memory_limit: int | None = None,
) -> LibvirtResult:
    """Ask real libvirt what QEMU argv ``xml`` becomes, in a fresh process.

    ``root`` is the directory ``setup`` prepared (``/`` for the host's libvirt; the
    default is :func:`default_dir`), or pass an already located ``libvirt``. ``driver``
    pins an embedded-driver root, else any free one is used. Raises ``LibvirtTimeout``
    (every process it started is gone), ``LibvirtError`` when virsh fails without a
    verdict, ``LibvirtUnavailable`` when there is no libvirt to run. ``memory_limit``
    bounds the address space of virsh (and of everything it starts), in bytes.
    """
    found = libvirt if libvirt is not None else locate(root)
    document, adjustments = prepare_document(xml)
    start = time.monotonic()
    deadline = start + timeout
    result, index = run_on_document(
        found,
        document,
        _CONVERT_SCRIPT,
        driver=driver,
        deadline=deadline,
        memory_limit=memory_limit,
    )
    seconds = time.monotonic() - start
    stdout = result.stdout.decode("utf-8", errors="replace")
    stderr = result.stderr.decode("utf-8", errors="replace").strip()
    if result.timed_out:
        raise LibvirtTimeout(f"virsh did not answer within {timeout:g}s (killed)")
    if result.overflow is not None:
        raise LibvirtError(f"virsh flooded its {result.overflow}")
    if result.returncode == 0 and stdout.strip():
        environment, argv = parse_virsh_output(stdout)
        return LibvirtResult(
            accepted=True,
            argv=tuple(system_paths(argv)),
            message=stderr,
            seconds=seconds,
            document=document,
            adjustments=adjustments,
            environment=tuple(environment),
            driver=index,
        )
    if (
        result.returncode == 1
        and stderr.startswith("error:")
        and not _is_infrastructure_failure(stderr)
    ):
        return LibvirtResult(
            accepted=False,
            argv=(),
            message=stderr,
            seconds=seconds,
            document=document,
            adjustments=adjustments,
            driver=index,
        )
    raise LibvirtError(
        f"virsh exited with status {result.returncode} without a verdict: "
        f"{stderr[-2000:] or '(no message)'}"
    )


def leftover_processes(libvirt: Libvirt) -> list[int]:
    """Pids of live processes running inside ``libvirt``'s chroot (for tests and checks)."""
    if not libvirt.in_chroot:
        return []
    target = os.path.realpath(libvirt.root)
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/root") != target:
                continue
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2 :][:1]
        if state not in (b"Z", b"X"):
            found.append(int(name))
    return found
