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
  ``.ci/setup`` installs, so it runs on the host's libraries);
* Debian's cloud kernels 6.12 (bookworm-backports), to compare kernels (sid's 7.2 ships
  its image in ``linux-binary-R`` and its config in ``linux-base-R``, under
  ``usr/lib/modules/R``: not fetched yet);
* the guest kernel gi-conform boots by default, built here from ``linux-source-6.12``
  (:mod:`gi_conform.groundtruth.guest_kernels`: Debian's arm64 kernels hold 16 NUMA nodes).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gi_conform.groundtruth.guest import ARCHITECTURES, GuestKit
from gi_conform.groundtruth.guest_kernels import (
    BUILT_PREFIX,
    SOURCE_PACKAGE,
    SOURCE_SUITE,
    BuildError,
    GuestKernel,
    build_kernel,
    fragment_hash,
    kernel_at,
    missing_tools,
)
from gi_conform.process import run_step

__all__ = [
    "DEFAULT_DIR",
    "DIR_ENV",
    "PACKAGES",
    "GuestSetupError",
    "GuestUnavailable",
    "KernelNotFound",
    "KitPackage",
    "default_dir",
    "kernels",
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


class KernelNotFound(ValueError):
    """``--kernel`` names no kernel of the kit and no file; the message lists the names."""


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
    KitPackage(
        "kernel-x86_64-backports",
        "linux-image-cloud-amd64",
        "bookworm-backports",
        meta=True,
        keep=("boot",),
    ),
    KitPackage(
        "kernel-aarch64-backports",
        "linux-image-cloud-arm64:arm64",
        "bookworm-backports",
        meta=True,
        keep=("boot",),
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
    return run_step(argv, what, error=GuestSetupError, timeout=_STEP_TIMEOUT, cwd=cwd, tail=5)


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


def _download(directory: Path, spec: str, into: Path) -> Path:
    """``apt-get download SPEC`` (``NAME/SUITE``) with the kit's private apt into the
    emptied folder ``into``; the ``.deb`` it fetched."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    _run(
        ["apt-get", *_apt_options(directory), "download", spec],
        f"apt-get download {spec}",
        cwd=into,
    )
    (deb,) = into.glob("*.deb")
    return deb


def _fetch(directory: Path, package: KitPackage, progress: Progress) -> dict[str, str]:
    """Download and unpack one package; its record for the state file."""
    name = _real_package(directory, package) if package.meta else package.name
    start = time.monotonic()
    deb = _download(directory, f"{name}/{package.suite}", directory / "downloads" / package.key)
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
    """Fetch every kit package not yet unpacked (all of them with ``refresh``), then build
    the guest kernels whose fragments changed; the state."""
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
    built = state.get("kernels")
    kernels_have: dict[str, object] = dict(built) if isinstance(built, dict) else {}
    stale = [arch for arch in ARCHITECTURES if refresh or not _built_ok(target, kernels_have, arch)]
    if not missing and not stale:
        progress(
            f"guest kits in {target}: all {len(PACKAGES)} packages present, "
            f"kernels built ({', '.join(_built_names(kernels_have))})"
        )
        return state
    _prepare_apt(target)
    start = time.monotonic()
    progress(f"[1/3] apt-get update (private lists in {target / 'apt'}; {', '.join(_SUITES)})")
    _run(["apt-get", *_apt_options(target), "update", "-q"], "apt-get update")
    progress(f"  done in {time.monotonic() - start:.1f} s")
    progress(f"[2/3] downloading and unpacking {len(missing)} packages")
    for package in missing:
        have[package.key] = _fetch(target, package, progress)
    state = {"recipe": _RECIPE, "packages": have, "kernels": kernels_have}
    _write_state(target, state)
    shutil.rmtree(target / "apt" / "cache", ignore_errors=True)
    if stale:
        progress(f"[3/3] building the guest kernel ({', '.join(stale)}; minutes on 2 cores)")
        kernels_have.update(_build_all(target, stale, progress))
        _write_state(target, state)
    progress(f"guest kits ready in {target}: {_mib(_size(target / 'root'))} unpacked")
    return state


def _write_state(target: Path, state: dict[str, object]) -> None:
    (target / _STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")


def _built_ok(target: Path, records: dict[str, object], arch: str) -> bool:
    """The built kernel for ``arch`` is there and was built from today's fragments."""
    record = records.get(arch)
    return (
        isinstance(record, dict)
        and record.get("key") == fragment_hash(arch)
        and any((target / "root" / f"built-{arch}" / "boot").glob("vmlinuz-*"))
    )


def _built_names(records: dict[str, object]) -> list[str]:
    return [
        f"{arch} {record.get('release')}"
        for arch, record in sorted(records.items())
        if isinstance(record, dict)
    ]


def _build_all(target: Path, archs: list[str], progress: Progress) -> dict[str, object]:
    """Fetch and unpack Debian's kernel source once, build each architecture's kernel."""
    lacking = missing_tools()
    if lacking:
        raise GuestSetupError(
            "building the guest kernel needs Debian packages this host lacks: "
            f"apt-get install {' '.join(lacking)} (bash .ci/setup installs them)"
        )
    work = target / "build"
    start = time.monotonic()
    deb = _download(target, f"{SOURCE_PACKAGE}/{SOURCE_SUITE}", work)
    version = _run(["dpkg-deb", "-f", str(deb), "Version"], "dpkg-deb -f").strip()
    _run(["dpkg-deb", "-x", str(deb), str(work / "deb")], f"dpkg-deb -x {deb.name}")
    deb.unlink()
    (tarball,) = (work / "deb" / "usr" / "src").glob("linux-source-*.tar.*")
    _run(["tar", "-C", str(work), "-xf", str(tarball)], f"tar -xf {tarball.name}")
    shutil.rmtree(work / "deb")
    (source,) = (p for p in work.iterdir() if p.is_dir() and p.name.startswith("linux-source"))
    progress(
        f"  {SOURCE_PACKAGE} {version} ({SOURCE_SUITE}) fetched and unpacked "
        f"in {time.monotonic() - start:.1f} s"
    )
    records: dict[str, object] = {}
    try:
        for arch in archs:
            began = time.monotonic()
            kernel = build_kernel(source, arch, target / "root" / f"built-{arch}", work=work / arch)
            seconds = time.monotonic() - began
            progress(
                f"  {arch}: {kernel.name} ({kernel.release}, CONFIG_NODES_SHIFT={kernel.shift}, "
                f"{_mib(kernel.image.stat().st_size)}) built in {seconds:.0f} s"
            )
            records[arch] = {
                "key": fragment_hash(arch),
                "release": kernel.release,
                "source": SOURCE_PACKAGE,
                "version": version,
                "seconds": round(seconds, 1),
            }
    except BuildError as error:
        raise GuestSetupError(str(error)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return records


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


def _debian_name(release: str) -> str:
    """``debian-6.1`` for ``6.1.0-50-cloud-amd64``."""
    return "debian-" + ".".join(release.split(".")[:2])


def kernels(arch: str, directory: Path | None = None) -> tuple[GuestKernel, ...]:
    """The kit's kernels for ``arch``: the built one first (the default), then Debian's
    by release."""
    root = (directory or default_dir()) / "root"
    found: list[GuestKernel] = []
    for image in sorted((root / f"built-{arch}" / "boot").glob("vmlinuz-*")):
        release = image.name.removeprefix("vmlinuz-")
        name = BUILT_PREFIX + ".".join(release.split(".")[:2])
        found.append(kernel_at(image, arch, name, f"built from {SOURCE_PACKAGE}"))
    debian: list[GuestKernel] = []
    for package in PACKAGES:
        if package.key.startswith(f"kernel-{arch}"):
            for image in sorted((root / package.key / "boot").glob("vmlinuz-*")):
                release = image.name.removeprefix("vmlinuz-")
                debian.append(
                    kernel_at(image, arch, _debian_name(release), f"Debian {package.suite}")
                )
    return (*found, *sorted(debian, key=lambda k: _release_key(k.release)))


def _release_key(release: str) -> tuple[int, ...]:
    numbers = release.split("-", maxsplit=1)[0].split(".")
    return tuple(int(n) for n in numbers if n.isdigit())


def _choose_kernel(arch: str, directory: Path, kernel: str | Path | None) -> GuestKernel:
    """The kernel ``--kernel`` names: None the built one, a kit name, or a file."""
    held = kernels(arch, directory)
    if kernel is None:
        if held and held[0].name.startswith(BUILT_PREFIX):
            return held[0]
        raise GuestUnavailable(
            f"no built {arch} guest kernel in {directory}: run 'gi-conform guest setup'"
        )
    if isinstance(kernel, str):
        for candidate in held:
            if candidate.name == kernel:
                return candidate
        if not Path(kernel).is_file():
            names = ", ".join(k.name for k in held) or "none set up"
            raise KernelNotFound(
                f"--kernel {kernel}: no such kernel for {arch} ({names}) and no such file"
            )
    return kernel_at(Path(kernel), arch)


def locate_kit(
    arch: str,
    directory: Path | None = None,
    *,
    kernel: str | Path | None = None,
    firmware: Path | None = None,
) -> GuestKit:
    """The kit for ``arch`` (``x86_64`` or ``aarch64``) booting ``kernel`` (None: the
    built one; a name from :func:`kernels`; or a path); ``firmware`` replaces the set-up
    UEFI image (a user checking their own). GuestUnavailable when not set up,
    KernelNotFound for a name that is neither a kernel nor a file."""
    target = directory or default_dir()
    root = target / "root"
    if not (target / _STATE).exists():
        raise GuestUnavailable(
            f"no guest kits in {target}: run 'gi-conform guest setup' "
            f"(or set {DIR_ENV} to where they are)"
        )
    busybox = _one(root / f"busybox-{arch}", "bin/busybox", f"busybox for {arch}")
    chosen = _choose_kernel(arch, target, kernel)
    if arch == "x86_64":
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            raise GuestUnavailable("qemu-system-x86_64 is not installed: run 'bash .ci/setup'")
        return GuestKit(arch, qemu, chosen.image, busybox, about=chosen)
    qemu_path = _one(root / "qemu-aarch64", "usr/bin/qemu-system-aarch64", "qemu-system-aarch64")
    code = firmware or _one(root / "firmware-aarch64", "usr/share/AAVMF/AAVMF_CODE.fd", "firmware")
    variables = code.with_name("AAVMF_VARS.fd")
    if not variables.exists():
        variables = _one(root / "firmware-aarch64", "usr/share/AAVMF/AAVMF_VARS.fd", "firmware")
    return GuestKit(arch, str(qemu_path), chosen.image, busybox, code, variables, about=chosen)
