"""The guest kits: Debian's kernels, busybox, UEFI firmware and qemu-system-aarch64.

Everything comes from Debian's archive through a private apt (its own sources list,
lists and cache under the kit folder, arm64 among its architectures), is downloaded with
``apt-get download`` and unpacked with ``dpkg-deb -x``: nothing is installed into the
system, and the host's apt configuration is not touched. Set-up is idempotent: a package
already unpacked is not fetched again. Which releases, and why:

* kernels and busybox from bookworm (``linux-image-cloud-*``: NUMA, ACPI NUMA and HMAT on);
* the aarch64 UEFI firmware from sid (EDK2 2026.08): bookworm's EDK2 2022.11 makes the
  guest kernel discard NUMA ("NUMA: Faking a node"), so it is kept too, as the known-bad
  firmware a test must catch;
* ``qemu-system-aarch64`` from bookworm-backports (10.0.2, the same build as the x86 QEMU
  ``.ci/setup`` installs, so it runs on the host's libraries).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gi_conform.groundtruth.guest import GuestKit

__all__ = [
    "DEFAULT_DIR",
    "DIR_ENV",
    "PACKAGES",
    "GuestSetupError",
    "GuestUnavailable",
    "KitPackage",
    "default_dir",
    "locate_kit",
    "setup",
    "status",
    "teardown",
]

DIR_ENV = "GI_CONFORM_GUEST_DIR"
DEFAULT_DIR = Path("/var/cache/gi-conform/guest")
_MIRROR = "http://deb.debian.org/debian"
_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
_SUITES = ("bookworm", "bookworm-backports", "sid")
_STATE = "state.json"
_RECIPE = 1
_STEP_TIMEOUT = 900.0

Progress = Callable[[str], None]


class GuestUnavailable(RuntimeError):
    """No guest kit is set up (or a part of it is missing); the message says how to get it."""


class GuestSetupError(RuntimeError):
    """Set-up failed; the message names the step and quotes apt's or dpkg's words."""


@dataclass(frozen=True)
class KitPackage:
    """One package of the kits: ``name`` (``:arm64`` for a foreign one) from ``suite``;
    ``meta`` when it only depends on the real package (the kernel metapackages);
    ``keep``: the parts kept after unpacking (the kernel modules alone are 400 MiB)."""

    key: str
    name: str
    suite: str
    meta: bool = False
    keep: tuple[str, ...] = ()


_FIRMWARE = ("usr/share/AAVMF/AAVMF_CODE.fd", "usr/share/AAVMF/AAVMF_VARS.fd")

PACKAGES = (
    KitPackage("kernel-x86_64", "linux-image-cloud-amd64", "bookworm", meta=True, keep=("boot",)),
    KitPackage(
        "kernel-aarch64", "linux-image-cloud-arm64:arm64", "bookworm", meta=True, keep=("boot",)
    ),
    KitPackage("busybox-x86_64", "busybox-static", "bookworm", keep=("bin",)),
    KitPackage("busybox-aarch64", "busybox-static:arm64", "bookworm", keep=("bin",)),
    KitPackage("firmware-aarch64", "qemu-efi-aarch64", "sid", keep=_FIRMWARE),
    KitPackage("firmware-aarch64-bookworm", "qemu-efi-aarch64", "bookworm", keep=_FIRMWARE),
    KitPackage(
        "qemu-aarch64",
        "qemu-system-arm",
        "bookworm-backports",
        keep=("usr/bin/qemu-system-aarch64",),
    ),
)


def _quiet(_message: str) -> None:
    """The default progress sink."""


def default_dir() -> Path:
    """Where the kits live: ``$GI_CONFORM_GUEST_DIR`` or ``/var/cache/gi-conform/guest``."""
    named = os.environ.get(DIR_ENV)
    return Path(named) if named else DEFAULT_DIR


def _apt_options(directory: Path) -> list[str]:
    apt = directory / "apt"
    return [
        "-o",
        f"Dir::Etc::SourceList={apt / 'sources.list'}",
        "-o",
        "Dir::Etc::SourceParts=/dev/null",
        "-o",
        f"Dir::State::Lists={apt / 'lists'}",
        "-o",
        f"Dir::Cache={apt / 'cache'}",
        "-o",
        "APT::Architectures::=amd64",
        "-o",
        "APT::Architectures::=arm64",
        "-o",
        "Acquire::Languages=none",
        "-o",
        "APT::Sandbox::User=root",
        "-o",
        "Acquire::Check-Valid-Until=false",
    ]


def _run(argv: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=_STEP_TIMEOUT, cwd=cwd, check=False
        )
    except FileNotFoundError:
        raise GuestSetupError(f"{what}: {argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise GuestSetupError(f"{what}: no answer within {_STEP_TIMEOUT:g} s") from None
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise GuestSetupError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _prepare_apt(directory: Path) -> None:
    apt = directory / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    lines = [f"deb [signed-by={_KEYRING}] {_MIRROR} {suite} main" for suite in _SUITES]
    (apt / "sources.list").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _real_package(directory: Path, package: KitPackage) -> str:
    """The package a metapackage depends on (``linux-image-6.1.0-50-cloud-amd64``)."""
    text = _run(
        ["apt-cache", *_apt_options(directory), "depends", f"{package.name}/{package.suite}"],
        f"apt-cache depends {package.name}",
    )
    arch = ":arm64" if package.name.endswith(":arm64") else ""
    for line in text.splitlines():
        kind, _, target = line.strip().partition(": ")
        if kind == "Depends" and target.startswith("linux-image-"):
            name = target.split(":")[0]
            return name + arch
    raise GuestSetupError(f"{package.name}: no linux-image dependency in apt-cache's answer")


def _fetch(directory: Path, package: KitPackage, progress: Progress) -> dict[str, str]:
    """Download and unpack one package; its record for the state file."""
    name = _real_package(directory, package) if package.meta else package.name
    downloads = directory / "downloads" / package.key
    if downloads.exists():
        shutil.rmtree(downloads)
    downloads.mkdir(parents=True)
    start = time.monotonic()
    _run(
        ["apt-get", *_apt_options(directory), "download", f"{name}/{package.suite}"],
        f"apt-get download {name}/{package.suite}",
        cwd=downloads,
    )
    (deb,) = downloads.glob("*.deb")
    target = directory / "root" / package.key
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(target)], f"dpkg-deb -x {deb.name}")
    _prune(target, package.keep)
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], "dpkg-deb -f").strip()
    progress(
        f"  {package.key}: {name} {version} ({package.suite}), {_mib(deb.stat().st_size)} "
        f"in {time.monotonic() - start:.1f} s"
    )
    deb.unlink()
    return {"package": name, "version": version, "suite": package.suite}


def _prune(root: Path, keep: tuple[str, ...]) -> None:
    """Delete everything under ``root`` but the ``keep`` paths (and their parents)."""
    if not keep:
        return
    kept = [root / part for part in keep]
    for path in kept:
        if path.is_symlink():  # AAVMF_CODE.fd -> AAVMF_CODE.no-secboot.fd: keep the bytes
            data = path.resolve().read_bytes()
            path.unlink()
            path.write_bytes(data)
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if any(path == k or k in path.parents or path in k.parents for k in kept):
            continue
        if not path.is_dir() or path.is_symlink():
            path.unlink()
        elif not any(path.iterdir()):
            path.rmdir()


def _read_state(directory: Path) -> dict[str, object]:
    try:
        data = json.loads((directory / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def setup(
    directory: Path | None = None, *, progress: Progress = _quiet, refresh: bool = False
) -> dict[str, object]:
    """Fetch every kit package not yet unpacked (all of them with ``refresh``); the state."""
    target = directory or default_dir()
    target.mkdir(parents=True, exist_ok=True)
    state = _read_state(target)
    packages = state.get("packages")
    have: dict[str, object] = (
        dict(packages) if isinstance(packages, dict) and state.get("recipe") == _RECIPE else {}
    )
    missing = [
        p
        for p in PACKAGES
        if refresh or p.key not in have or not (target / "root" / p.key).is_dir()
    ]
    if not missing:
        progress(f"guest kits in {target}: all {len(PACKAGES)} packages present")
        return state
    _prepare_apt(target)
    start = time.monotonic()
    progress(f"[1/2] apt-get update (private lists in {target / 'apt'}; {', '.join(_SUITES)})")
    _run(["apt-get", *_apt_options(target), "update", "-q"], "apt-get update")
    progress(f"  done in {time.monotonic() - start:.1f} s")
    progress(f"[2/2] downloading and unpacking {len(missing)} packages")
    for package in missing:
        have[package.key] = _fetch(target, package, progress)
    state = {"recipe": _RECIPE, "packages": have}
    (target / _STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(target / "apt" / "cache", ignore_errors=True)
    progress(f"guest kits ready in {target}: {_mib(_size(target / 'root'))} unpacked")
    return state


def status(directory: Path | None = None) -> dict[str, object]:
    """The state file's packages (empty when nothing is set up)."""
    return _read_state(directory or default_dir())


def teardown(directory: Path | None = None) -> bool:
    """Remove the kit folder; whether there was one."""
    target = directory or default_dir()
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


def _one(root: Path, pattern: str, what: str) -> Path:
    found = sorted(root.glob(pattern))
    if not found:
        raise GuestUnavailable(f"{what} is missing under {root}: run 'gi-conform guest setup'")
    return found[-1]


def locate_kit(
    arch: str,
    directory: Path | None = None,
    *,
    kernel: Path | None = None,
    firmware: Path | None = None,
) -> GuestKit:
    """The kit for ``arch`` (``x86_64`` or ``aarch64``); ``kernel``/``firmware`` replace
    the set-up ones (a user checking their own). GuestUnavailable when not set up."""
    target = directory or default_dir()
    root = target / "root"
    if not (target / _STATE).exists():
        raise GuestUnavailable(
            f"no guest kits in {target}: run 'gi-conform guest setup' "
            f"(or set {DIR_ENV} to where they are)"
        )
    busybox = _one(root / f"busybox-{arch}", "bin/busybox", f"busybox for {arch}")
    chosen_kernel = kernel or _one(root / f"kernel-{arch}", "boot/vmlinuz-*", f"{arch} kernel")
    if arch == "x86_64":
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            raise GuestUnavailable("qemu-system-x86_64 is not installed: run 'bash .ci/setup'")
        return GuestKit(arch, qemu, chosen_kernel, busybox)
    qemu_path = _one(root / "qemu-aarch64", "usr/bin/qemu-system-aarch64", "qemu-system-aarch64")
    code = firmware or _one(root / "firmware-aarch64", "usr/share/AAVMF/AAVMF_CODE.fd", "firmware")
    variables = code.with_name("AAVMF_VARS.fd")
    if not variables.exists():
        variables = _one(root / "firmware-aarch64", "usr/share/AAVMF/AAVMF_VARS.fd", "firmware")
    return GuestKit(arch, str(qemu_path), chosen_kernel, busybox, code, variables)
