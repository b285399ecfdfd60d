"""Building and removing the libvirt chroot: ``gi-conform libvirt setup`` and ``teardown``.

``setup`` makes a libvirt >= 11.8 ready to convert with: the host's own when it has
one, else a minbase Debian sid chroot with libvirt and QEMU (the recipe measured on
libvirt 12.8):

* debootstrap and apt-get run with the chroot's ``/proc`` mounted only in a private
  mount namespace that dies with them; no service is ever started in it;
* ``/dev/vfio/vfio`` (an empty file), ``/sys/kernel/iommu_groups/0/``, SCSI and NUMA
  sysfs stand-ins exist *inside* the chroot, so libvirt believes the host has what the
  documents use without touching the host;
* the QEMU capability cache of every embedded-driver root is warmed by a first
  conversion, so no later one waits for the ~2 s QEMU probe.

``teardown`` unmounts and removes what ``setup`` made, never anything else.

It is its own module because warming is a conversion: setup sits above
:mod:`gi_conform.libvirt.convert`, which needs only to find libvirt
(:mod:`gi_conform.libvirt.install`), never to build it.
Nothing is ever mounted in, or written to, the host's ``/dev``, ``/sys`` or ``/proc``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.libvirt.convert import (
    _ISOLATE,
    _PATH,
    STABLE_UUID,
    convert,
    hugetlbfs_mount_points,
    leftover_processes,
)
from gi_conform.libvirt.install import (
    _CHROOT,
    _STATE,
    DEFAULT_DRIVERS,
    MIN_VERSION,
    RECIPE,
    Libvirt,
    LibvirtUnavailable,
    _chroot_libvirt,
    _read_state,
    _run_text,
    _version_tuple,
    default_dir,
    system_libvirt,
)

__all__ = [
    "PACKAGES",
    "LibvirtSetupError",
    "SetupReport",
    "setup",
    "teardown",
]

PACKAGES = (
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "libvirt-daemon",
    "qemu-system-x86",
    "qemu-system-arm",
    "virtinst",
)
"""qemu-system-arm (small) lets libvirt judge aarch64 documents instead of failing with
"No emulator found"; virtinst (virt-install's library, with python3-libvirt) is the
``virtinst`` round-trip implementation; the brief's four packages are the rest."""

_SUITE = "sid"
_FALLBACK_MIRROR = "http://deb.debian.org/debian"
_MARKER = "gi-conform-libvirt"
_APT_OPTIONS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Dpkg::Use-Pty=0")
_STEP_TIMEOUT = 1800.0
_WARM_TIMEOUT = 300.0
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


class LibvirtSetupError(RuntimeError):
    """A setup or teardown step failed; the message ends with the log's last lines."""


@dataclass(frozen=True)
class SetupReport:
    """What ``setup`` did: the libvirt it left ready and how long each step took."""

    libvirt: Libvirt
    reused: bool
    timings: tuple[tuple[str, float], ...] = field(default=())


Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default progress sink: say nothing."""


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
    No source device must exist. ``/dev/hugepages2M`` and ``/dev/hugepages1G`` are where
    every conversion mounts a hugetlbfs, in its private namespace (see
    :mod:`gi_conform.libvirt.convert`): libvirt refuses hugepage documents without one.
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
    for path, _size in hugetlbfs_mount_points():
        (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)


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
            missing = _missing_packages(ready.root)
            if missing:
                # A chroot made before a package joined the list gets it now.
                progress(f"installing {', '.join(missing)}")
                _install(ready.root, target / "setup.log", missing)
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
    # dpkg-query fails when any package is unknown to dpkg: read what it printed anyway.
    query = "dpkg-query -W -f '${Package} ${Status}\\n' \"$@\" 2>/dev/null; true"
    status = _run_text(["chroot", str(root), "sh", "-c", query, "sh", *PACKAGES])
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
        "[3/4] creating /dev/vfio/vfio, /sys/kernel/iommu_groups/0/, SCSI sysfs "
        "stand-ins and hugetlbfs mount points inside the chroot",
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
