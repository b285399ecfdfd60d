"""Real guests: the kit's kernels boot on the reference argv and report what they built
(the kernel built by ``gi-conform guest setup`` by default, Debian's where named).

Each boot takes 4-25 s under TCG, so CI runs a chosen set on both architectures (the
``guest`` tox env runs every accepted corpus case). Without ``gi-conform guest setup``
these skip with that instruction.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gi_conform import Domain, Profile, default_profile, parse
from gi_conform.groundtruth.guest import GuestKit, boot_guest, not_applicable, read_guest_view
from gi_conform.groundtruth.guest_checks import compare_guest
from gi_conform.groundtruth.guest_setup import GuestUnavailable, default_dir, locate_kit
from gi_conform.resources import cases_dir
from gi_conform.strategies import topologies
from tests.helpers import run_cli

pytestmark = [pytest.mark.guest, pytest.mark.slow]

KNOWN_BAD_FIRMWARE = "firmware-aarch64-bookworm/usr/share/AAVMF/AAVMF_CODE.fd"
"""bookworm's EDK2 2022.11: the guest kernel discards NUMA with it."""


def kit(arch: str) -> GuestKit:
    try:
        return locate_kit(arch)
    except GuestUnavailable as error:
        pytest.skip(f"needs a guest kit: {error}")


def boot_case(case: str, arch: str) -> tuple[bool, list[str]]:
    domain = parse((cases_dir() / f"{case}.xml").read_bytes())
    profile = default_profile(domain)
    run = boot_guest(domain, profile, kit(arch), timeout=180)
    checks = compare_guest(domain, profile, read_guest_view(run.report))
    return all(c.ok for c in checks), [
        f"{c.entry}: {c.expected} != {c.seen}" for c in checks if not c.ok
    ]


@pytest.mark.parametrize(
    ("case", "arch"),
    [
        ("seed-example", "aarch64"),  # as written: arch='aarch64' machine='virt'
        ("gi-node-order", "x86_64"),
        ("gi-node-order", "aarch64"),
        ("mdev-nodeset", "x86_64"),
        ("libvirt-11.8-example", "aarch64"),
        ("hmat-gi-initiator", "x86_64"),
        ("cells-128", "x86_64"),
        ("kubevirt-grace", "x86_64"),
        ("kubevirt-grace", "aarch64"),  # 18 nodes: more than Debian's arm64 kernels hold
        ("kubevirt-gb200-tray", "aarch64"),  # 34 nodes
        ("kubevirt-gb200-tray", "x86_64"),
    ],
)
def test_the_guest_kernel_sees_what_the_document_asks(case: str, arch: str) -> None:
    passed, failed = boot_case(case, arch)
    assert passed, failed


def test_debians_arm64_kernel_cannot_hold_the_tray_and_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Debian's 6.1 (CONFIG_NODES_SHIFT=4) would drop 18 of the tray's 34 nodes: one
    finding, exit 1, nothing booted."""
    if kit("aarch64").about is None:
        pytest.skip("needs the kit's kernels")
    document = str(cases_dir() / "kubevirt-gb200-tray.xml")
    status = run_cli("guest", document, "--kernel", "debian-6.1", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert status == 1
    assert payload["booted"] is False
    assert [c["entry"] for c in payload["checks"]] == ["CONFIG_NODES_SHIFT"]
    assert payload["kernel"]["node_limit"] == 16


def test_an_expander_bus_gives_its_devices_its_node() -> None:
    """The PCI path is NUMA affinity: behind a pcie-expander-bus whose node is a GI-only
    cell, the aarch64 guest puts the GPU on that node. The same boot compared with the
    document moved to node 0 fails exactly that check, so the check can fail."""
    domain = parse((cases_dir() / "pci-expander-gi-node.xml").read_bytes())
    run = boot_guest(domain, Profile.LIBVIRT, kit("aarch64"), timeout=180)
    view = read_guest_view(run.report)
    checks = compare_guest(domain, Profile.LIBVIRT, view)
    assert [c.seen for c in checks if "numa_node" in c.entry] == ["node 1"]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    moved = dataclasses.replace(
        domain,
        pci_controllers=tuple(
            dataclasses.replace(c, node=0) if c.model == "pcie-expander-bus" else c
            for c in domain.pci_controllers
        ),
    )
    failed = [c.entry for c in compare_guest(moved, Profile.LIBVIRT, view) if not c.ok]
    assert failed == ["hostdev0 numa_node (expander bus node: cell 0)"]


def test_bookworms_firmware_makes_the_guest_fake_a_node(
    capsys: pytest.CaptureFixture[str],
) -> None:
    firmware = default_dir() / "root" / KNOWN_BAD_FIRMWARE
    kit("aarch64")
    if not firmware.exists():
        pytest.skip("needs 'gi-conform guest setup' (the known-bad firmware is part of it)")
    document = str(cases_dir() / "gi-node-order.xml")
    status = run_cli("guest", document, "--arch", "aarch64", "--firmware", str(firmware), "--json")
    checks = {c["entry"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert status == 1
    kept = checks["kernel kept the NUMA description"]  # the table wraps it: read the JSON
    assert not kept["ok"]
    assert "invalid memblk" in kept["seen"] or "Faking a node" in kept["seen"]


def test_the_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kit("x86_64")
    document = str(cases_dir() / "gi-node-order.xml")
    status = run_cli("guest", document, "--json", "--keep-logs", str(tmp_path))
    payload = json.loads(capsys.readouterr().out)
    assert status == 0
    assert payload["passed"] is True
    assert payload["kernel"]["name"].startswith("gi-")
    assert payload["guest"]["has_generic_initiator"] == [1, 2, 3, 4]
    assert payload["profile"] == Profile.LIBVIRT.value
    assert (tmp_path / "console.log").read_text().count("gi-conform:frame") >= 3


GUEST_FINDINGS = {
    ("guest-function", "x86_64"): "GI of domain 1 names a guest device",
    ("guest-function", "aarch64"): "GI of domain 1 names a guest device",
    # q35's LPC bridge is function 0 of slot 0x1f; aarch64 virt has nothing there
    ("hostdev-guest-address-lpc-function", "aarch64"): "GI of domain [0-9]+ names a guest device",
}
"""Accepted cases a real guest shows wrong, each with the checks that fail (a pattern; see
the case's notes): nothing at function 0, so Linux never enumerates function 1."""


def _accepted() -> list[str]:
    index = json.loads((cases_dir() / "index.json").read_text())
    return [case["id"] for case in index["cases"] if case["expect"] == "accept"]


@pytest.mark.skipif(
    not os.environ.get("GI_CONFORM_GUEST_ALL"),
    reason="every accepted case on both architectures: tox -e guest (GI_CONFORM_GUEST_ALL=1)",
)
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
@pytest.mark.parametrize("case", _accepted())
def test_every_accepted_case(case: str, arch: str) -> None:
    why = not_applicable(parse((cases_dir() / f"{case}.xml").read_bytes()), arch, kit(arch).about)
    if why is not None:
        pytest.skip(why)
    passed, failed = boot_case(case, arch)
    finding = GUEST_FINDINGS.get((case, arch))
    if finding is not None:
        assert failed
        assert all(re.fullmatch(finding, line.split(":")[0]) for line in failed), failed
        return
    assert passed, failed


ARCH = ("x86_64", "aarch64")


def _enumerable(domain: Domain) -> bool:
    """Every PCI device a guest can enumerate: a function other than 0 needs a function 0
    beside it (the ``guest-function`` finding)."""
    addresses = {h.guest_address for h in domain.hostdevs if h.guest_address is not None}
    return all(
        a.function == 0 or dataclasses.replace(a, function=0) in addresses for a in addresses
    )


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(domain=topologies(max_cells=8, max_hostdevs=3, max_vcpus=4), arch=st.sampled_from(ARCH))
def test_generated_topologies_boot_as_asked(domain: Domain, arch: str) -> None:
    """Small random topologies in a real guest: every check passes. Memory cells are set to
    256 MiB (a kernel needs room to boot; the host must back it), the machine to q35 or
    virt."""
    assume(_enumerable(domain))
    cells = tuple(
        dataclasses.replace(cell, memory=256 * 2**20) if cell.memory else cell
        for cell in domain.cells
    )
    machine = "virt" if arch == "aarch64" else "q35"
    domain = dataclasses.replace(domain, arch=arch, machine=machine, cells=cells)
    if not_applicable(domain, arch, kit(arch).about) is not None:
        return
    profile = default_profile(domain)
    run = boot_guest(domain, profile, kit(arch), timeout=180)
    failed = [c for c in compare_guest(domain, profile, read_guest_view(run.report)) if not c.ok]
    assert not failed, "\n".join(f"{c.entry}: {c.expected} != {c.seen}" for c in failed)


def test_two_guests_boot_at_once_and_report_in_file_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kit("x86_64")
    files = [str(cases_dir() / f"{name}.xml") for name in ("gi-node-order", "mdev-nodeset")]
    status = run_cli("guest", *files, "--arch", "x86_64", "--json", "--jobs", "2")
    payloads = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [payload["file"] for payload in payloads] == files
    assert all(payload["passed"] for payload in payloads)


def test_hmat_access_classes_follow_each_memory_cells_own_initiator() -> None:
    """hmat-asymmetric gives latencies only across cells (0 -> 1, 1 -> 0): Linux shows
    each memory node with its own CPUs as the only initiator, in access0 and access1,
    and no value (0), since QEMU names each cell its own initiator."""
    domain = parse((cases_dir() / "hmat-asymmetric.xml").read_bytes())
    run = boot_guest(domain, Profile.LIBVIRT, kit("x86_64"), timeout=180)
    view = read_guest_view(run.report)
    checks = [
        c
        for c in compare_guest(domain, Profile.LIBVIRT, view)
        if c.entry.startswith("cell ") and " access" in c.entry
    ]
    assert len(checks) == 6, checks  # cells 0, 1: access0/1; cells 2, 3: none
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    node0 = view.node(0)
    assert node0 is not None
    assert [(a.access, a.initiators, a.read_latency) for a in node0.access] == [
        (0, frozenset({0}), 0),
        (1, frozenset({0}), 0),
    ]
