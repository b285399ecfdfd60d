"""The guest kernels without booting: node limits read from configs, the fragment's
promises, choosing a kernel, the one finding when a kernel cannot hold the document's
nodes, and tables that fit 100 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gi_conform import Profile, parse
from gi_conform.cli.common import check_table
from gi_conform.groundtruth.guest import not_applicable
from gi_conform.groundtruth.guest_checks import node_capacity
from gi_conform.groundtruth.guest_kernels import (
    BuildError,
    GuestKernel,
    config_beside,
    fragment_hash,
    fragment_mismatches,
    fragment_text,
    kernel_at,
    nodes_shift,
)
from gi_conform.groundtruth.guest_matrix import differences, render
from gi_conform.groundtruth.guest_setup import KernelNotFound, kernels, locate_kit
from gi_conform.groundtruth.serial import read_frames, write_frame
from gi_conform.groundtruth.tables import Check
from gi_conform.process import run_step
from gi_conform.resources import cases_dir
from tests.helpers import run_cli

DEBIAN_ARM64 = "CONFIG_ARM64=y\nCONFIG_NUMA=y\nCONFIG_NODES_SHIFT=4\n"
DEBIAN_AMD64 = "CONFIG_X86_64=y\nCONFIG_NUMA=y\nCONFIG_NODES_SHIFT=10\n"
GB200 = "kubevirt-gb200-tray"


def _kernel(shift: int | None, name: str = "debian-6.1") -> GuestKernel:
    return GuestKernel(name, "aarch64", Path("/k"), "6.1.0-50-cloud-arm64", shift)


def _case(name: str) -> bytes:
    return (cases_dir() / f"{name}.xml").read_bytes()


# ------------------------------------------------------------------ configs


@pytest.mark.parametrize(
    ("config", "shift"),
    [
        (DEBIAN_ARM64, 4),
        (DEBIAN_AMD64, 10),
        ("CONFIG_SMP=y\n# CONFIG_NUMA is not set\n", 0),
        ("not a kernel config", None),
        ("CONFIG_NUMA=y\n", None),
    ],
)
def test_the_node_shift_comes_from_the_config(config: str, shift: int | None) -> None:
    assert nodes_shift(config) == shift


def test_every_fragment_asks_for_1024_nodes_and_the_checks_needs() -> None:
    for arch in ("x86_64", "aarch64"):
        text = fragment_text(arch)
        assert nodes_shift(text) == 10
        for option in ("ACPI_NUMA", "ACPI_HMAT", "HMEM_REPORTING", "BLK_DEV_INITRD", "PCI"):
            assert f"CONFIG_{option}=y" in text, (arch, option)
    assert "CONFIG_ARM_SMMU_V3=y" in fragment_text("aarch64")
    assert "CONFIG_EFI_STUB=y" in fragment_text("aarch64")
    assert fragment_hash("x86_64") != fragment_hash("aarch64")


def test_a_fragment_option_kconfig_dropped_is_named() -> None:
    fragment = "CONFIG_NUMA=y\nCONFIG_NODES_SHIFT=10\n# CONFIG_MODULES is not set\n"
    config = "CONFIG_NUMA=y\nCONFIG_NODES_SHIFT=4\n"
    assert fragment_mismatches(fragment, config) == ["CONFIG_NODES_SHIFT: asked 10, got 4"]
    assert fragment_mismatches(fragment, config.replace("=4", "=10")) == []
    assert fragment_mismatches("CONFIG_ACPI_HMAT=y\n", "") == ["CONFIG_ACPI_HMAT: asked y, got n"]


def test_the_config_beside_a_kernel_is_found_debians_way(tmp_path: Path) -> None:
    image = tmp_path / "vmlinuz-6.1.0-50-cloud-arm64"
    image.write_bytes(b"MZ")
    assert config_beside(image) is None
    assert kernel_at(image, "aarch64").node_limit is None
    (tmp_path / "config-6.1.0-50-cloud-arm64").write_text(DEBIAN_ARM64)
    kernel = kernel_at(image, "aarch64", "debian-6.1")
    assert (kernel.release, kernel.shift, kernel.node_limit) == ("6.1.0-50-cloud-arm64", 4, 16)
    bare = tmp_path / "own" / "Image"
    bare.parent.mkdir()
    bare.write_bytes(b"MZ")
    (bare.parent / ".config").write_text(DEBIAN_AMD64)
    assert kernel_at(bare, "aarch64").node_limit == 1024


# ------------------------------------------------------------------ the node-limit finding


def test_a_kernel_too_small_gives_one_finding_naming_the_shift() -> None:
    domain = parse(_case(GB200))
    finding = node_capacity(domain, Profile.LIBVIRT, _kernel(4))
    assert finding is not None
    assert not finding.ok
    assert finding.entry == "CONFIG_NODES_SHIFT"
    assert "34 NUMA nodes" in finding.expected
    assert "CONFIG_NODES_SHIFT >= 6" in finding.expected
    assert finding.seen.startswith("4: kernel debian-6.1")
    assert "holds 16 nodes" in finding.seen


@pytest.mark.parametrize(("shift", "fits"), [(10, True), (6, True), (5, False), (None, True)])
def test_the_finding_comes_exactly_when_the_nodes_do_not_fit(shift: int | None, fits: bool) -> None:
    domain = parse(_case(GB200))
    assert (node_capacity(domain, Profile.LIBVIRT, _kernel(shift)) is None) is fits


def test_seventeen_visible_nodes_do_not_fit_sixteen() -> None:
    domain = parse(_case("kubevirt-grace"))  # 18 cells, all visible
    assert node_capacity(domain, Profile.LIBVIRT, _kernel(4)) is not None
    assert not_applicable(domain, "aarch64", _kernel(4)) is not None
    assert not_applicable(domain, "aarch64", _kernel(10)) is None
    assert not_applicable(domain, "aarch64") is None


# ------------------------------------------------------------------ the kit's kernels


def _fake_kit(root: Path) -> Path:
    """A kit folder with busybox, firmware, qemu stand-ins and three kernels per arch."""
    (root / "state.json").write_text('{"recipe": 1, "packages": {}}')
    for arch in ("x86_64", "aarch64"):
        (root / "root" / f"busybox-{arch}" / "bin").mkdir(parents=True)
        (root / "root" / f"busybox-{arch}" / "bin" / "busybox").write_bytes(b"\x7fELF")
        config = DEBIAN_AMD64 if arch == "x86_64" else DEBIAN_ARM64
        suffix = "amd64" if arch == "x86_64" else "arm64"
        for key, release, text in (
            (f"kernel-{arch}", f"6.1.0-50-cloud-{suffix}", config),
            (f"kernel-{arch}-backports", f"6.12.95+deb12-cloud-{suffix}", config),
            (f"built-{arch}", "6.12.95-gi", DEBIAN_AMD64),
        ):
            boot = root / "root" / key / "boot"
            boot.mkdir(parents=True)
            (boot / f"vmlinuz-{release}").write_bytes(b"MZ")
            (boot / f"config-{release}").write_text(text)
    for path in ("firmware-aarch64/usr/share/AAVMF", "qemu-aarch64/usr/bin"):
        (root / "root" / path).mkdir(parents=True)
    aavmf = root / "root" / "firmware-aarch64/usr/share/AAVMF"
    (aavmf / "AAVMF_CODE.fd").write_bytes(b"")
    (aavmf / "AAVMF_VARS.fd").write_bytes(b"")
    (root / "root" / "qemu-aarch64/usr/bin/qemu-system-aarch64").write_bytes(b"")
    return root


def test_the_built_kernel_comes_first_then_debians_by_release(tmp_path: Path) -> None:
    kit = _fake_kit(tmp_path)
    found = kernels("aarch64", kit)
    assert [(k.name, k.node_limit) for k in found] == [
        ("gi-6.12", 1024),
        ("debian-6.1", 16),
        ("debian-6.12", 16),
    ]
    assert locate_kit("aarch64", kit).about == found[0]
    assert locate_kit("aarch64", kit, kernel="debian-6.1").about == found[1]
    with pytest.raises(KernelNotFound, match=r"debian-9\.9.*gi-6\.12, debian-6\.1, debian-6\.12"):
        locate_kit("aarch64", kit, kernel="debian-9.9")


def test_the_34_node_domain_on_debian_6_1_is_one_finding_and_no_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kit's QEMU is an empty file: reaching a boot would fail with exit 3."""
    monkeypatch.setenv("GI_CONFORM_GUEST_DIR", str(_fake_kit(tmp_path)))
    document = str(cases_dir() / f"{GB200}.xml")
    assert run_cli("guest", document, "--kernel", "debian-6.1") == 1
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 100
    out = " ".join(text.split())
    assert out.count("FAIL") == 1
    assert "CONFIG_NODES_SHIFT" in out
    assert "holds 16 nodes" in out
    assert "34 NUMA nodes" in out
    assert "0/1 checks passed" in out
    assert run_cli("guest", document, "--kernel", "debian-6.1", "--json") == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["booted"] is False
    assert payload["kernel"]["name"] == "debian-6.1"
    assert payload["kernel"]["nodes_shift"] == 4
    assert [c["entry"] for c in payload["checks"]] == ["CONFIG_NODES_SHIFT"]


def test_an_unknown_kernel_name_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GI_CONFORM_GUEST_DIR", str(_fake_kit(tmp_path)))
    document = str(cases_dir() / f"{GB200}.xml")
    assert run_cli("guest", document, "--kernel", "linux-9") == 2
    assert "gi-6.12, debian-6.1, debian-6.12" in capsys.readouterr().err


def test_status_lists_kernels_with_their_node_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit = _fake_kit(tmp_path)
    assert run_cli("guest", "status", str(kit)) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if "CONFIG_NODES_SHIFT" in line]
    assert [(w[0], w[1], w[4]) for w in lines] == [
        ("x86_64", "gi-6.12", "1024"),
        ("x86_64", "debian-6.1", "1024"),
        ("x86_64", "debian-6.12", "1024"),
        ("aarch64", "gi-6.12", "1024"),
        ("aarch64", "debian-6.1", "16"),
        ("aarch64", "debian-6.12", "16"),
    ]


# ------------------------------------------------------------------ output


def test_tables_fit_100_columns_failures_first() -> None:
    matrix = " ".join(["10"] + ["160"] * 33) * 34
    checks = [
        Check("node/online", "0-33", "0-33", True),
        Check("distances (34x34)", matrix, matrix, True),
        Check("node/has_generic_initiator", "2-33", "2-15", False),
    ]
    table = check_table(checks)
    assert max(len(line) for line in table.splitlines()) <= 100
    rows = [line for line in table.splitlines() if line.endswith(("PASS", "FAIL"))]
    assert rows[0].startswith("node/has_generic_initiator")
    assert rows[0].endswith("FAIL")
    assert f"({len(matrix)} chars)" in table
    short = check_table(checks[:1])
    assert short.splitlines()[1] == "node/online  0-33      0-33  PASS"


def test_a_frame_marker_after_firmware_escapes_is_read() -> None:
    """sid's EDK2 leaves its screen-clearing escapes on the line of the first marker."""
    frame = write_frame("table-SRAT", b"SRAT bytes")
    console = "\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01H" + frame
    assert read_frames(console).frames == {"table-SRAT": b"SRAT bytes"}


# ------------------------------------------------------------------ the kernel matrix


def test_the_matrix_keeps_only_facts_where_kernels_differ() -> None:
    seen = {
        "gi-6.12": {"verdict": "pass", "online": "0-17", "PCI numa_node": "ff:00.0=0"},
        "debian-6.1": {"verdict": "not booted: 16 nodes"},
        "debian-6.12": {"verdict": "pass", "online": "0-17", "PCI numa_node": "ff:00.0=0"},
    }
    rows = differences("kubevirt-grace", "aarch64", seen)
    assert [row.fact for row in rows] == ["verdict"]
    assert dict(rows[0].values)["debian-6.1"] == "not booted: 16 nodes"
    assert differences("c", "x86_64", {"a": {"online": "0-1"}, "b": {"online": "0-1"}}) == []
    seen["debian-6.12"] = {**seen["debian-6.12"], "online": "0-15", "verdict": "fail: x"}
    rows = differences("kubevirt-grace", "aarch64", seen)
    assert [row.fact for row in rows] == ["online", "verdict"]
    table = render(rows, ["gi-6.12", "debian-6.1", "debian-6.12"], 3)
    assert "| kubevirt-grace | aarch64 | online | 0-17 | - | 0-15 |" in table
    assert table.startswith("Kernel matrix: 3 boots, 2 differences")


def test_a_failed_step_names_itself_and_quotes_its_last_lines() -> None:
    """Kernel builds and the kit's apt steps share one runner (gi_conform.process.run_step)."""
    assert run_step(["echo", "ok"], "echo", error=BuildError, timeout=10) == "ok\n"
    script = "for i in 1 2 3 4 5 6 7 8 9; do echo line$i; done >&2; exit 3"
    with pytest.raises(BuildError) as failed:
        run_step(["sh", "-c", script], "make vmlinux", error=BuildError, timeout=10, tail=2)
    assert str(failed.value) == "make vmlinux failed (exit 3):\nline8\nline9"
    with pytest.raises(BuildError, match="no-such-tool is not installed"):
        run_step(["no-such-tool"], "build", error=BuildError, timeout=10)
    with pytest.raises(BuildError, match=r"not done within 0\.2 s"):
        run_step(["sleep", "5"], "build", error=BuildError, timeout=0.2)
