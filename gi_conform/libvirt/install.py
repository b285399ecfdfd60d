"""Where real libvirt is: the ``Libvirt`` that conversions use, and how it is found.

The strongest evidence about libvirt is libvirt itself, and gi-conform asks it directly
(:mod:`gi_conform.libvirt.convert`). This module answers the question every use of it
starts with: which libvirt >= 11.8 is there, and where does it live? Either the Debian
sid chroot that ``gi-conform libvirt setup`` (:mod:`gi_conform.libvirt.lifecycle`) left
in the setup directory, recorded in its state file, or the host's own libvirt when it
is recent enough and has the QEMU driver. ``locate`` says how to get one when neither
is usable.

It is the lowest of the three: converting needs to find libvirt and building it needs
the same layout (setup directory, chroot, state file, recipe), so both import this
module and it imports neither.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_DRIVERS",
    "DIR_ENV",
    "MIN_VERSION",
    "Libvirt",
    "LibvirtUnavailable",
    "default_dir",
    "locate",
    "system_libvirt",
]

DIR_ENV = "GI_CONFORM_LIBVIRT_DIR"
"""Environment variable naming the setup directory when none is given."""
DEFAULT_DIR = Path("/var/cache/gi-conform/libvirt-sid")
MIN_VERSION = (11, 8)
"""libvirt 11.8.0 merged ``<acpi nodeset>``; older ones ignore it."""
DEFAULT_DRIVERS = 4
"""Embedded-driver roots prepared by ``setup``: parallel conversions without waiting."""
RECIPE = 2
"""Bumped when the chroot recipe changes: ``setup`` then rebuilds an older one."""

_STATE = "state.json"
_CHROOT = "chroot"
_SYSTEM_HOME = Path("/var/lib/gi-conform/libvirt-system")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class LibvirtUnavailable(RuntimeError):
    """No usable libvirt: no prepared chroot, no system libvirt >= 11.8, or not root."""


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
