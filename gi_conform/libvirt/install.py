"""Real libvirt as an implementation under test: a reproducible install and a converter.

The strongest evidence about libvirt is libvirt itself. This module builds (or finds) a
libvirt >= 11.8 and asks it, one fresh process per document, what QEMU command line a
domain becomes: ``virsh domxml-to-native qemu-argv`` through the embedded QEMU driver,
which needs no daemon. The recipe follows what was measured on libvirt 12.8 (Debian sid):

* a minbase Debian sid chroot with libvirt and QEMU, built by ``setup``;
* only ``/proc`` is mounted in it, and only inside a private mount namespace that dies
  with the process: the host's ``/dev`` would bring ``/dev/kvm``, which makes libvirt's
  capability cache look stale on every call (~70 s a call instead of ~0.05 s);
* ``/dev/vfio/vfio`` (an empty file) and ``/sys/kernel/iommu_groups/0/`` exist *inside*
  the chroot, so libvirt believes VFIO works without touching the host;
* every conversion runs in a new PID namespace: when it ends or is killed, the kernel
  ends every process libvirt started (its QEMU probes included), so none is left behind;
* one conversion at a time per embedded-driver root (libvirt holds a pid file there),
  several roots for parallel workers, each seeded with the warmed capability cache.

Nothing is ever mounted in, or written to, the host's ``/dev``, ``/sys`` or ``/proc``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gi_conform.argv.options import read_args_text
from gi_conform.argv.read import read_argv
from gi_conform.oracle.process import run_bounded

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_DRIVERS",
    "DIR_ENV",
    "MIN_VERSION",
    "PACKAGES",
    "STABLE_UUID",
    "Libvirt",
    "LibvirtError",
    "LibvirtResult",
    "LibvirtSetupError",
    "LibvirtTimeout",
    "LibvirtUnavailable",
    "SetupReport",
    "convert",
    "default_dir",
    "leftover_processes",
    "locate",
    "parse_virsh_output",
    "prepare_document",
    "reduce",
    "setup",
    "system_libvirt",
    "teardown",
]

DIR_ENV = "GI_CONFORM_LIBVIRT_DIR"
"""Environment variable naming the setup directory when none is given."""
DEFAULT_DIR = Path("/var/cache/gi-conform/libvirt-sid")
MIN_VERSION = (11, 8)
"""libvirt 11.8.0 merged ``<acpi nodeset>``; older ones ignore it."""
PACKAGES = (
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "libvirt-daemon",
    "qemu-system-x86",
    "qemu-system-arm",
)
"""qemu-system-arm (small) lets libvirt judge aarch64 documents instead of failing with
"No emulator found"; the brief's four packages are the rest."""
DEFAULT_DRIVERS = 4
"""Embedded-driver roots prepared by ``setup``: parallel conversions without waiting."""
STABLE_UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
"""Given to documents without ``<uuid>``, or libvirt invents a new ``-uuid`` every call."""
RECIPE = 2
"""Bumped when the chroot recipe changes: ``setup`` then rebuilds an older one."""

_SUITE = "sid"
_FALLBACK_MIRROR = "http://deb.debian.org/debian"
_MARKER = "gi-conform-libvirt"
_STATE = "state.json"
_CHROOT = "chroot"
_DRIVER_BASE = "/var/lib/gi-conform"
_SYSTEM_HOME = Path("/var/lib/gi-conform/libvirt-system")
_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
_APT_OPTIONS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Dpkg::Use-Pty=0")
_STEP_TIMEOUT = 1800.0
_WARM_TIMEOUT = 300.0
_LOCK_POLL = 0.005
_ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
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
_UUID_TAG = re.compile(rb"<uuid(?=[\s/>])")
_NAME_END = re.compile(rb"</name>")
_WARM_DOCUMENT = b"""<domain type='qemu'>
  <name>gi-conform-warm-up</name>
  <uuid>UUID</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/><cell id='1' memory='0'/></numa></cpu>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x06' slot='0x12' function='0x1'/></source>
      <acpi nodeset='1'/>
    </hostdev>
  </devices>
</domain>
""".replace(b"UUID", STABLE_UUID.encode())
# One conversion: mount /proc privately, then run virsh in the chroot ($1, "" for the
# host) with a clean environment. Arguments: $1 root, $2 document, $3 connection URI.
# The shell stays PID 1 of the namespace (no exec) so that it reaps the QEMU probe
# libvirt daemonizes: as PID 1 virsh would leave it a zombie and then wait 40 s for
# its SIGKILL to "take" (virProcessKillPainfully).
_CONVERT_SCRIPT = (
    'mount -t proc proc "$1/proc" || exit 125; chroot "${1:-/}" env -i '
    + _PATH
    + ' LC_ALL=C virsh -q -c "$3" domxml-to-native qemu-argv --xml "$2"; exit $?'
)
_ISOLATE = ("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child")


class LibvirtUnavailable(RuntimeError):
    """No usable libvirt: no prepared chroot, no system libvirt >= 11.8, or not root."""


class LibvirtSetupError(RuntimeError):
    """A setup or teardown step failed; the message ends with the log's last lines."""


class LibvirtTimeout(TimeoutError):
    """A conversion did not finish in time (its processes have all been killed)."""


class LibvirtError(RuntimeError):
    """virsh failed for a reason that is not a verdict on the document (crash, no driver)."""


@dataclass(frozen=True)
class Libvirt:
    """A libvirt that can convert documents.

    ``root`` is the filesystem libvirt lives in (the chroot, or ``/`` for the host's);
    ``home`` holds the locks and the setup state. ``drivers`` is how many embedded-driver
    roots conversions spread over.
    """

    kind: str
    root: Path
    home: Path
    version: str
    qemu_version: str
    drivers: int = DEFAULT_DRIVERS

    @property
    def in_chroot(self) -> bool:
        return self.kind == "chroot"

    def describe(self) -> str:
        where = f"chroot {self.root}" if self.in_chroot else "system (host) libvirt"
        return f"libvirt {self.version}, QEMU {self.qemu_version}, {where}"


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


@dataclass(frozen=True)
class SetupReport:
    """What ``setup`` did: the libvirt it left ready and how long each step took."""

    libvirt: Libvirt
    reused: bool
    timings: tuple[tuple[str, float], ...] = field(default=())


Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default progress sink: say nothing."""


# --------------------------------------------------------------------------- locating


def default_dir() -> Path:
    """The setup directory: ``$GI_CONFORM_LIBVIRT_DIR`` or ``DEFAULT_DIR``."""
    named = os.environ.get(DIR_ENV, "").strip()
    return Path(named) if named else DEFAULT_DIR


def _version_tuple(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _run_text(argv: Sequence[str], timeout: float = 30.0) -> str | None:
    """stdout of a short command, or None when it cannot run or fails."""
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def system_libvirt() -> Libvirt | None:
    """The host's own libvirt when it is >= 11.8 with the QEMU driver, else None."""
    virsh = shutil.which("virsh")
    if virsh is None:
        return None
    version = _run_text([virsh, "--version"])
    numbers = _version_tuple(version or "")
    if numbers is None or numbers[:2] < MIN_VERSION:
        return None
    driver = any(
        Path(base, "libvirt/connection-driver/libvirt_driver_qemu.so").exists()
        for base in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")
    )
    qemu = _run_text(["qemu-system-x86_64", "--version"])
    if not driver or qemu is None:
        return None
    qemu_numbers = _version_tuple(qemu)
    return Libvirt(
        kind="system",
        root=Path("/"),
        home=_SYSTEM_HOME,
        version=str(version),
        qemu_version=".".join(map(str, qemu_numbers)) if qemu_numbers else "unknown",
    )


def _read_state(directory: Path) -> dict[str, object] | None:
    try:
        loaded = json.loads((directory / _STATE).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _chroot_libvirt(directory: Path) -> Libvirt | None:
    """The chroot ``setup`` left in ``directory``, when it is complete and current."""
    state = _read_state(directory)
    root = directory / _CHROOT
    if (
        state is None
        or state.get("recipe") != RECIPE
        or not state.get("ready")
        or not (root / "usr/bin/virsh").exists()
    ):
        return None
    drivers = state.get("drivers")
    return Libvirt(
        kind="chroot",
        root=root,
        home=directory,
        version=str(state.get("libvirt", "unknown")),
        qemu_version=str(state.get("qemu", "unknown")),
        drivers=drivers if isinstance(drivers, int) and drivers > 0 else DEFAULT_DRIVERS,
    )


def _setup_hint(directory: Path) -> str:
    return (
        f"run (as root): gi-conform libvirt setup {directory}  "
        "(builds a Debian sid chroot with libvirt and QEMU in about a minute; "
        "needs debootstrap, installed with apt-get if missing, and network access "
        "to the Debian archive)"
    )


def locate(directory: Path | None = None, *, system: bool = True) -> Libvirt:
    """The libvirt to convert with: the chroot in ``directory`` or, else, the host's.

    ``directory`` ``/`` names the host's libvirt explicitly. Raises
    ``LibvirtUnavailable`` (saying how to get one) when neither is usable, and when not
    running as root (the conversion needs ``chroot`` and namespaces).
    """
    chosen = directory if directory is not None else default_dir()
    if os.geteuid() != 0:
        raise LibvirtUnavailable(
            "converting with real libvirt needs root (it uses chroot and namespaces)"
        )
    missing = [tool for tool in ("unshare", "chroot") if shutil.which(tool) is None]
    if missing:
        raise LibvirtUnavailable(f"{' and '.join(missing)} not found on PATH (util-linux)")
    if chosen == Path("/"):
        found = system_libvirt()
        if found is None:
            raise LibvirtUnavailable(
                "no system libvirt >= 11.8 with its QEMU driver is installed; "
                + _setup_hint(default_dir())
            )
        return found
    prepared = _chroot_libvirt(chosen)
    if prepared is not None:
        return prepared
    if system and directory is None:
        found = system_libvirt()
        if found is not None:
            return found
    raise LibvirtUnavailable(f"no libvirt prepared in {chosen}; {_setup_hint(chosen)}")


# ------------------------------------------------------------------------ documents


def _well_formed(xml: bytes) -> bool:
    """Whether libxml2 reads the document (DTDs allowed, nothing expanded or fetched)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return False
    return root.tag == "domain"


def _fill_usb_address(match: re.Match[bytes], counter: list[int]) -> bytes:
    """A USB hostdev block with ``<address bus='1' device='N'/>`` added to its source."""
    block = match.group(0)
    source = _SOURCE.search(block)
    if source is None or b"<address" in source.group(0):
        return block
    counter[0] += 1
    address = b"<address bus='1' device='%d'/>" % (counter[0] + 1)
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
    document = _USB_HOSTDEV.sub(lambda m: _fill_usb_address(m, counter), document)
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
    memory backends the nodes use, ``vfio-pci`` devices and ``acpi-generic-initiator``
    objects. Anything the argv reader cannot read is kept when it looks like one of
    these, so a malformed option is seen.
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
    keep |= {device.position for device in reading.devices if device.driver == "vfio-pci"}
    keep |= {initiator.position for initiator in reading.initiators}
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


def convert(
    xml: bytes,
    *,
    root: Path | None = None,
    timeout: float = 60.0,
    driver: int | None = None,
    libvirt: Libvirt | None = None,
) -> LibvirtResult:
    """Ask real libvirt what QEMU argv ``xml`` becomes, in a fresh process.

    ``root`` is the directory ``setup`` prepared (``/`` for the host's libvirt; the
    default is :func:`default_dir`), or pass an already located ``libvirt``. ``driver``
    pins an embedded-driver root, else any free one is used. Raises ``LibvirtTimeout``
    (every process it started is gone), ``LibvirtError`` when virsh fails without a
    verdict, ``LibvirtUnavailable`` when there is no libvirt to run.
    """
    found = libvirt if libvirt is not None else locate(root)
    document, adjustments = prepare_document(xml)
    start = time.monotonic()
    deadline = start + timeout
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
                _CONVERT_SCRIPT,
                "sh",
                str(found.root) if found.in_chroot else "",
                inside,
                f"qemu:///embed?root={_driver_root(index)}",
            ]
            remaining = max(0.001, deadline - time.monotonic())
            result = run_bounded(command, timeout=remaining)
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
            argv=tuple(argv),
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


# --------------------------------------------------------------------------- setup


def _mirror() -> str:
    """The Debian mirror the host itself uses (deb822 or one-line sources), else the CDN."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            for block in path.read_text().split("\n\n"):
                fields = dict(
                    line.split(":", 1)
                    for line in block.splitlines()
                    if ":" in line and not line.startswith("#")
                )
                uris = fields.get("URIs", "").split()
                suites = fields.get("Suites", "")
                if uris and "security" not in suites and "debian" in uris[0]:
                    return uris[0].rstrip("/")
    with contextlib.suppress(OSError):
        for line in Path("/etc/apt/sources.list").read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "deb" and "security" not in line:
                url = next((w for w in words[1:] if "://" in w), None)
                if url is not None:
                    return url.rstrip("/")
    return _FALLBACK_MIRROR


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _step(log: Path, argv: Sequence[str], what: str, timeout: float = _STEP_TIMEOUT) -> None:
    """Run one setup command, its output appended to ``log``; raise with the log's tail."""
    with log.open("ab") as sink:
        sink.write(f"\n$ {' '.join(argv)}\n".encode())
        sink.flush()
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={
                    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "LC_ALL": "C",
                    "DEBIAN_FRONTEND": "noninteractive",
                },
            )
        except OSError as error:
            raise LibvirtSetupError(f"{what}: cannot run {argv[0]}: {error}") from None
        try:
            status = process.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait()
            raise
    if status != 0:
        raise LibvirtSetupError(
            f"{what} failed (exit status {status}); log {log}, last lines:\n{_log_tail(log)}"
        )


def _in_chroot(root: Path, *command: str) -> list[str]:
    """A command run in the chroot with /proc mounted in a private, throw-away namespace."""
    script = (
        'mount -t proc proc "$0/proc" || exit 125; chroot "$0" env -i '
        + _PATH
        + ' LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; exit $?'
    )
    return [*_ISOLATE, "sh", "-c", script, str(root), *command]


def _ensure_debootstrap(log: Path, progress: Progress) -> str:
    found = shutil.which("debootstrap")
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise LibvirtSetupError("debootstrap is not installed and there is no apt-get to get it")
    progress("debootstrap is not installed: installing it with apt-get (package debootstrap)")
    _step(log, ["apt-get", "-q", "update"], "apt-get update (host)")
    _step(
        log,
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"],
        "apt-get install debootstrap (host)",
    )
    found = shutil.which("debootstrap")
    if found is None:
        raise LibvirtSetupError("debootstrap is still not on PATH after installing it")
    return found


def _owned(directory: Path) -> bool:
    return (directory / _MARKER).exists()


@contextlib.contextmanager
def _setup_lock(directory: Path) -> Iterator[None]:
    """One setup or teardown of ``directory`` at a time (a lock file beside it)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(directory.parent / f".{directory.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory`` in our namespace, deepest first."""
    prefix = os.path.realpath(directory)
    found: list[str] = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].encode().decode("unicode_escape")
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(point)
    return sorted(found, key=len, reverse=True)


def _unmount_all(directory: Path, progress: Progress) -> None:
    for point in _mounts_under(directory):
        progress(f"unmounting {point}")
        subprocess.run(["umount", point], capture_output=True, check=False)
    for point in _mounts_under(directory):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
    remaining = _mounts_under(directory)
    if remaining:
        raise LibvirtSetupError(f"cannot unmount {', '.join(remaining)}; not removing {directory}")


def _remove(directory: Path, progress: Progress) -> None:
    _unmount_all(directory, progress)
    shutil.rmtree(directory)


def _timed(
    timings: list[tuple[str, float]],
    name: str,
    progress: Progress,
    what: str,
    action: Callable[[], None],
) -> None:
    progress(what)
    start = time.monotonic()
    action()
    elapsed = time.monotonic() - start
    timings.append((name, round(elapsed, 3)))
    progress(f"  done in {elapsed:.1f} s")


def _package_version(root: Path, package: str) -> str:
    text = _run_text(["chroot", str(root), "dpkg-query", "-W", "-f", "${Version}", package])
    return text or "unknown"


HOST_NUMA_NODES = 2
"""Host NUMA nodes the chroot pretends to have (for ``<numatune>`` nodesets)."""


def _stub_host(root: Path) -> None:
    """Stand-ins for host devices libvirt looks for, created inside the chroot only.

    ``/dev/vfio/vfio`` (an empty file) and one IOMMU group make libvirt accept PCI
    assignment; ``scsi_generic/sgN`` entries for SCSI addresses 0-1:0-1:0-1:0-3 and
    0:0:0:0-255 (the generator's range) let it format a SCSI hostdev (it reads the name
    from sysfs). Two empty ``node0``/``node1`` directories make it see a two-node host, so
    ``<numatune>`` bindings to host nodes 0-1 convert (measured: nothing more is read).
    No source device must exist.
    """
    vfio = root / "dev/vfio/vfio"
    vfio.parent.mkdir(parents=True, exist_ok=True)
    if not vfio.exists():
        vfio.write_bytes(b"")
    (root / "sys/kernel/iommu_groups/0").mkdir(parents=True, exist_ok=True)
    number = 0
    for host in range(2):
        for bus in range(2):
            for target in range(2):
                for unit in range(4):
                    device = root / f"sys/bus/scsi/devices/{host}:{bus}:{target}:{unit}"
                    (device / "scsi_generic" / f"sg{number}").mkdir(parents=True, exist_ok=True)
                    number += 1
    for unit in range(4, 256):
        device = root / f"sys/bus/scsi/devices/0:0:0:{unit}"
        (device / "scsi_generic" / f"sg{number}").mkdir(parents=True, exist_ok=True)
        number += 1
    for node in range(HOST_NUMA_NODES):
        (root / f"sys/devices/system/node/node{node}").mkdir(parents=True, exist_ok=True)


def _warm(libvirt: Libvirt, progress: Progress) -> tuple[float, float]:
    """First conversion (QEMU probe, ~2 s) on root 0, then one on every other root."""
    first = convert(_WARM_DOCUMENT, libvirt=libvirt, driver=0, timeout=_WARM_TIMEOUT)
    if not first.accepted:
        raise LibvirtSetupError(f"libvirt refused the warm-up document: {first.message}")
    if not any('"acpi-generic-initiator"' in word for word in first.argv):
        raise LibvirtSetupError(
            f"libvirt {libvirt.version} emitted no acpi-generic-initiator: is it >= 11.8?"
        )
    others = 0.0
    for index in range(1, libvirt.drivers):
        others = max(
            others,
            convert(_WARM_DOCUMENT, libvirt=libvirt, driver=index, timeout=_WARM_TIMEOUT).seconds,
        )
    progress(f"  first conversion {first.seconds:.2f} s, other roots at most {others:.2f} s")
    return first.seconds, others


def setup(
    directory: Path | None = None,
    *,
    mirror: str | None = None,
    drivers: int = DEFAULT_DRIVERS,
    use_system: bool = True,
    progress: Progress = _quiet,
) -> SetupReport:
    """Make a libvirt >= 11.8 ready to convert; idempotent.

    A system libvirt >= 11.8 is used as it is (unless ``use_system`` is False).
    Otherwise a minbase Debian sid chroot is built in ``directory/chroot`` with
    libvirt and QEMU, the VFIO stand-ins created inside it, and the QEMU capability
    cache warmed. A complete chroot of the current recipe is reused; an incomplete one
    that gi-conform made is rebuilt; a directory gi-conform did not make is refused.
    """
    target = directory if directory is not None else default_dir()
    if os.geteuid() != 0:
        raise LibvirtUnavailable("gi-conform libvirt setup needs root (debootstrap, chroot)")
    if drivers < 1:
        raise ValueError(f"drivers must be at least 1, got {drivers}")
    if use_system:
        found = system_libvirt()
        if found is not None:
            progress(f"using the system libvirt: {found.describe()} (no chroot needed)")
            return SetupReport(libvirt=found, reused=True)
    with _setup_lock(target):
        ready = _chroot_libvirt(target)
        if ready is not None:
            progress(f"already set up: {ready.describe()}")
            _stub_host(ready.root)
            if ready.drivers != drivers:
                ready = _record_drivers(target, drivers)
            return SetupReport(libvirt=ready, reused=True)
        if target.exists() and any(target.iterdir()) and not _owned(target):
            raise LibvirtSetupError(
                f"{target} exists, is not empty and was not made by gi-conform; "
                "choose another directory or remove it"
            )
        return _build(target, mirror or _mirror(), drivers, progress)


def _record_drivers(target: Path, drivers: int) -> Libvirt:
    state = _read_state(target) or {}
    state["drivers"] = drivers
    _write_state(target, state)
    ready = _chroot_libvirt(target)
    assert ready is not None
    return ready


def _write_state(target: Path, state: dict[str, object]) -> None:
    """Replace the state file atomically: a crash leaves the old one or the new one."""
    temporary = target / f".{_STATE}.tmp"
    temporary.write_text(json.dumps(state, indent=1) + "\n")
    temporary.replace(target / _STATE)


def _missing_packages(root: Path) -> list[str]:
    status = _run_text(
        ["chroot", str(root), "dpkg-query", "-W", "-f", "${Package} ${Status}\n", *PACKAGES]
    )
    installed = {
        line.split()[0]
        for line in (status or "").splitlines()
        if line.endswith("install ok installed")
    }
    return [package for package in PACKAGES if package not in installed]


def _install(root: Path, log: Path, packages: Sequence[str]) -> None:
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# gi-conform: never start services in the chroot\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc/apt/apt.conf.d/99gi-conform").write_text(
        "// the archive's sid Release file can be past its validity date\n"
        'Acquire::Check-Valid-Until "false";\n'
    )
    _step(log, _in_chroot(root, "apt-get", *_APT_OPTIONS, "-q", "update"), "apt-get update")
    _step(
        log,
        _in_chroot(
            root,
            "apt-get",
            *_APT_OPTIONS,
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            *packages,
        ),
        "apt-get install " + " ".join(packages),
    )
    _step(log, _in_chroot(root, "apt-get", "clean"), "apt-get clean")


def _build(target: Path, mirror: str, drivers: int, progress: Progress) -> SetupReport:
    """Bring ``target`` to a ready chroot, doing only the steps not already done."""
    target.mkdir(parents=True, exist_ok=True)
    (target / _MARKER).write_text(
        "Made by gi-conform libvirt setup; remove with gi-conform libvirt teardown.\n"
    )
    log = target / "setup.log"
    root = target / _CHROOT
    bootstrapped = target / "debootstrap.done"
    timings: list[tuple[str, float]] = []
    if bootstrapped.exists() and (root / "usr/bin/apt-get").exists():
        progress(f"[1/4] debootstrap: already done in {root}")
    else:
        if root.exists():
            progress(f"[1/4] removing the incomplete chroot {root}")
            _remove(root, progress)
        debootstrap = _ensure_debootstrap(log, progress)
        _timed(
            timings,
            "debootstrap",
            progress,
            f"[1/4] debootstrap --variant=minbase {_SUITE} {root} {mirror} (about 30 s)",
            lambda: _step(
                log,
                # its /proc and /sys mounts stay in a private namespace: none can leak
                [*_ISOLATE[:4], debootstrap, "--variant=minbase", _SUITE, str(root), mirror],
                "debootstrap",
            ),
        )
        bootstrapped.write_text(mirror + "\n")
    missing = _missing_packages(root)
    if missing:
        _timed(
            timings,
            "packages",
            progress,
            f"[2/4] installing {', '.join(missing)} (about 20 s)",
            lambda: _install(root, log, missing),
        )
    else:
        progress("[2/4] packages: all installed")
    _timed(
        timings,
        "stubs",
        progress,
        "[3/4] creating /dev/vfio/vfio, /sys/kernel/iommu_groups/0/ and SCSI sysfs "
        "stand-ins inside the chroot",
        lambda: _stub_host(root),
    )
    libvirt_version = _package_version(root, "libvirt-daemon")
    qemu_version = _package_version(root, "qemu-system-x86")
    numbers = _version_tuple(libvirt_version)
    if numbers is None or numbers[:2] < MIN_VERSION:
        raise LibvirtSetupError(
            f"Debian {_SUITE} gave libvirt {libvirt_version}, need >= "
            f"{'.'.join(map(str, MIN_VERSION))}"
        )
    candidate = Libvirt("chroot", root, target, libvirt_version, qemu_version, drivers)
    warm: list[float] = []
    _timed(
        timings,
        "warm",
        progress,
        f"[4/4] warming the QEMU capability cache of {drivers} driver root(s)",
        lambda: warm.extend(_warm(candidate, progress)),
    )
    _write_state(
        target,
        {
            "recipe": RECIPE,
            "ready": True,
            "suite": _SUITE,
            "mirror": mirror,
            "libvirt": libvirt_version,
            "qemu": qemu_version,
            "packages": list(PACKAGES),
            "drivers": drivers,
            "timings": dict(timings),
            "first_conversion": round(warm[0], 3),
        },
    )
    progress(f"ready: {candidate.describe()}")
    return SetupReport(libvirt=candidate, reused=False, timings=tuple(timings))


def teardown(directory: Path | None = None, *, progress: Progress = _quiet) -> bool:
    """Unmount and remove what ``setup`` made; False when there was nothing to remove.

    Refuses a directory gi-conform did not make, and removes nothing while anything
    below it is still mounted.
    """
    target = directory if directory is not None else default_dir()
    if os.geteuid() != 0:
        raise LibvirtUnavailable("gi-conform libvirt teardown needs root")
    if not target.exists():
        progress(f"nothing to remove: {target} does not exist")
        return False
    if not _owned(target):
        raise LibvirtSetupError(f"{target} was not made by gi-conform; not removing it")
    with _setup_lock(target):
        busy = (
            leftover_processes(Libvirt("chroot", target / _CHROOT, target, "", ""))
            if (target / _CHROOT).exists()
            else []
        )
        if busy:
            raise LibvirtSetupError(
                f"processes still run in {target / _CHROOT} (pids {busy}); not removing it"
            )
        progress(f"removing {target}")
        start = time.monotonic()
        _remove(target, progress)
        progress(f"  done in {time.monotonic() - start:.1f} s")
    with contextlib.suppress(OSError):
        (target.parent / f".{target.name}.lock").unlink()
    return True
