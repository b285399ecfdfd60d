"""The guest kernels: Debian's, and one built for the job from Debian's Linux source.

Every Debian arm64 kernel is built with ``CONFIG_NODES_SHIFT=4``: a guest keeps 16 NUMA
nodes and drops the rest ("ACPI: SRAT: Too many proximity domains."), so a KubeVirt Grace
domain (17-34 nodes) cannot be seen through it. The kit therefore also builds a small
kernel from ``linux-source-6.12`` (bookworm-backports): ``make allnoconfig`` merged with
the fragments beside this module (``kernel/common.config`` and ``kernel/<arch>.config``,
``scripts/kconfig/merge_config.sh``), ``make olddefconfig``, then the boot image. Its
build is keyed by the fragments' hash and the source package, so a changed fragment
rebuilds it. Every kernel is kept Debian's way, ``boot/vmlinuz-R`` beside
``boot/config-R``, and that config says how many nodes the kernel holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gi_conform.process import run_step

__all__ = [
    "BUILT_PREFIX",
    "FRAGMENT_DIR",
    "SOURCE_PACKAGE",
    "SOURCE_SUITE",
    "BuildError",
    "GuestKernel",
    "build_kernel",
    "config_beside",
    "fragment_hash",
    "fragment_mismatches",
    "fragment_text",
    "kernel_at",
    "missing_tools",
    "nodes_shift",
]

FRAGMENT_DIR = Path(__file__).with_name("kernel")
SOURCE_PACKAGE = "linux-source-6.12"
SOURCE_SUITE = "bookworm-backports"
BUILT_PREFIX = "gi-"
"""The built kernel's name is ``gi-<major.minor>`` (``gi-6.12``); Debian's ``debian-...``."""
_LOCALVERSION = "-gi"
_RECIPE = 1
"""Part of the cache key: bump when the build commands change."""
_BUILD_TIMEOUT = 3600.0
_MAKE = {
    "x86_64": (["ARCH=x86_64"], "arch/x86/boot/bzImage"),
    "aarch64": (["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"], "arch/arm64/boot/Image"),
}
_TOOLS = {
    "make": "make",
    "gcc": "gcc",
    "bison": "bison",
    "flex": "flex",
    "bc": "bc",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
}
_HEADERS = {"/usr/include/gelf.h": "libelf-dev", "/usr/include/openssl/ssl.h": "libssl-dev"}
_OPTION = re.compile(r"^(?:CONFIG_(\w+)=(.*)|# CONFIG_(\w+) is not set)$")

Progress = Callable[[str], None]


class BuildError(RuntimeError):
    """The kernel build failed; the message names the step and quotes make's last words."""


@dataclass(frozen=True)
class GuestKernel:
    """One bootable kernel: its name (``gi-6.12``, ``debian-6.1``, or the path a user
    gave), architecture, image, release, and ``CONFIG_NODES_SHIFT`` from the config beside
    it (None when there is no config to read)."""

    name: str
    arch: str
    image: Path
    release: str
    shift: int | None
    origin: str = ""

    @property
    def node_limit(self) -> int | None:
        """How many NUMA nodes the kernel holds (``MAX_NUMNODES``), None when unknown."""
        return None if self.shift is None else 1 << self.shift

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "release": self.release,
            "image": str(self.image),
            "nodes_shift": self.shift,
            "node_limit": self.node_limit,
            "origin": self.origin,
        }


def nodes_shift(config: str) -> int | None:
    """``CONFIG_NODES_SHIFT`` of a kernel config: 0 (one node) without ``CONFIG_NUMA``,
    None when the text is no kernel config at all."""
    options = _options(config)
    if not options:
        return None
    if options.get("NUMA") != "y":
        return 0
    value = options.get("NODES_SHIFT")
    return int(value) if value is not None and value.isdigit() else None


def _options(text: str) -> dict[str, str]:
    """``{NAME: value}`` of ``CONFIG_NAME=value`` and ``# CONFIG_NAME is not set`` (``n``)."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        match = _OPTION.match(line.strip())
        if match:
            if match.group(1):
                options[match.group(1)] = match.group(2)
            else:
                options[match.group(3)] = "n"
    return options


def config_beside(image: Path) -> Path | None:
    """The config shipped with a kernel image: Debian's ``config-R`` beside ``vmlinuz-R``
    (also for ``Image-R``/``bzImage-R``), else a ``config`` or ``.config`` there."""
    _, sep, release = image.name.partition("-")
    candidates = [image.with_name(f"config-{release}")] if sep else []
    candidates += [image.with_name("config"), image.with_name(".config")]
    return next((c for c in candidates if c.is_file()), None)


def kernel_at(image: Path, arch: str, name: str | None = None, origin: str = "") -> GuestKernel:
    """A kernel image and what its config says; named by its path unless ``name``."""
    config = config_beside(image)
    shift = None
    if config is not None:
        shift = nodes_shift(config.read_text("utf-8", "replace"))
    _, sep, release = image.name.partition("-")
    return GuestKernel(name or str(image), arch, image, release if sep else "", shift, origin)


def fragment_text(arch: str) -> str:
    """The fragments merged for ``arch``: common first, then the architecture's."""
    return "".join(
        (FRAGMENT_DIR / f"{part}.config").read_text(encoding="utf-8") for part in ("common", arch)
    )


def fragment_hash(arch: str) -> str:
    """The build's cache key: recipe, source package and the fragments' text."""
    key = f"{_RECIPE}\n{SOURCE_PACKAGE}\n{arch}\n{fragment_text(arch)}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def fragment_mismatches(fragment: str, config: str) -> list[str]:
    """Fragment options the final config does not hold as asked (Kconfig drops a value
    whose dependencies are off): ``NAME: asked V, got W``."""
    wanted = _options(fragment)
    have = _options(config)
    return [
        f"CONFIG_{name}: asked {value}, got {have.get(name, 'n')}"
        for name, value in wanted.items()
        if have.get(name, "n") != value
    ]


def missing_tools() -> list[str]:
    """Debian packages the build needs and this host lacks."""
    missing = [package for tool, package in _TOOLS.items() if shutil.which(tool) is None]
    missing += [package for header, package in _HEADERS.items() if not Path(header).exists()]
    return missing


def _make(argv: list[str], what: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "KBUILD_BUILD_USER": "gi-conform",
        "KBUILD_BUILD_HOST": "gi-conform",
        "KBUILD_BUILD_TIMESTAMP": "2026-01-01",
        "LC_ALL": "C",
    }
    return run_step(argv, what, error=BuildError, timeout=_BUILD_TIMEOUT, cwd=cwd, env=env)


def build_kernel(source: Path, arch: str, target: Path, *, work: Path) -> GuestKernel:
    """Configure and build the guest kernel for ``arch`` from the unpacked ``source``
    tree (objects in ``work``); install ``boot/vmlinuz-R`` and ``boot/config-R`` under
    ``target``. BuildError when a step fails or the config lost a fragment option."""
    make_args, image_path = _MAKE[arch]
    jobs = str(os.cpu_count() or 2)
    work.mkdir(parents=True, exist_ok=True)
    config = work / ".config"
    base = ["make", "-s", f"O={work}", *make_args, f"LOCALVERSION={_LOCALVERSION}"]
    _make([*base, "allnoconfig"], f"{arch}: make allnoconfig", source)
    fragment = work / "gi-conform.config"
    fragment.write_text(fragment_text(arch), encoding="utf-8")
    merge = ["sh", "scripts/kconfig/merge_config.sh", "-m", "-O", str(work)]
    _make([*merge, str(config), str(fragment)], f"{arch}: merge_config.sh", source)
    _make([*base, "olddefconfig"], f"{arch}: make olddefconfig", source)
    lost = fragment_mismatches(fragment.read_text(encoding="utf-8"), config.read_text())
    if lost:
        raise BuildError(f"{arch}: the config did not keep the fragment: " + "; ".join(lost))
    image_name = Path(image_path).name
    _make(
        ["nice", "-n", "10", *base, f"-j{jobs}", image_name],
        f"{arch}: make {image_name}",
        source,
    )
    release = _make([*base, "kernelrelease"], f"{arch}: make kernelrelease", source).strip()
    boot = target / "boot"
    if boot.exists():
        shutil.rmtree(boot)
    boot.mkdir(parents=True)
    shutil.copyfile(work / image_path, boot / f"vmlinuz-{release}")
    shutil.copyfile(config, boot / f"config-{release}")
    return kernel_at(boot / f"vmlinuz-{release}", arch, built_name(release))


def built_name(release: str) -> str:
    """``gi-6.12`` for release ``6.12.95-gi``."""
    return BUILT_PREFIX + ".".join(release.split(".")[:2])


def timed(step: Callable[[], GuestKernel]) -> tuple[GuestKernel, float]:
    """A build step and its wall seconds."""
    start = time.monotonic()
    kernel = step()
    return kernel, time.monotonic() - start
