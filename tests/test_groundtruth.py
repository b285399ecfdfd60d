"""Ground truth: the reference argv in real QEMU, and the SRAT the guest sees.

Tests marked ``qemu`` run the real binary (QEMU >= 9.2; `.ci/setup` installs it). On a
machine without it they skip with the install instructions.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings

from gi_conform import Domain, Profile, build_argv, catalogue, default_profile, flatten, parse
from gi_conform.corpus import Case, load_cases
from gi_conform.groundtruth import compare_srat, memory_size
from gi_conform.parse import read_domain
from gi_conform.qemu import (
    QemuUnavailable,
    find_qemu,
    read_srat,
    run_argv_check,
    runnable_argv,
)
from gi_conform.qemu_cli import qemu_argv
from gi_conform.strategies import topologies

CASES = {case.id: case for case in load_cases()}
ACCEPTED = [case for case in CASES.values() if case.accepted]


@pytest.fixture(scope="module")
def qemu_binary() -> str:
    try:
        return find_qemu().path
    except QemuUnavailable as error:
        pytest.skip(f"needs QEMU >= 9.2: {error}")


@pytest.mark.qemu
@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_every_accepted_case_matches_the_guest_srat(
    case: Case, profile: Profile, qemu_binary: str
) -> None:
    domain = parse(case.xml_path.read_bytes())
    readback = read_srat(qemu_argv(domain, profile, qemu_binary), timeout=30)
    checks = compare_srat(domain, profile, readback)
    failed = [check for check in checks if not check.ok]
    assert not failed, "\n".join(map(str, failed))
    if any(hostdev.nodeset for hostdev in domain.hostdevs) or domain.initiators:
        assert readback.generic_initiators


@pytest.mark.qemu
def test_a_dropped_initiator_is_caught(qemu_binary: str) -> None:
    """The comparison can fail: run the argv without its last GI, compare with the document."""
    domain = parse(CASES["libvirt-11.8-example"].xml_path.read_bytes())
    command = qemu_argv(domain, Profile.LIBVIRT, qemu_binary)
    last = max(i for i, arg in enumerate(command) if "acpi-generic-initiator" in arg)
    readback = read_srat(command[: last - 1] + command[last + 1 :], timeout=30)
    failed = [c.entry for c in compare_srat(domain, Profile.LIBVIRT, readback) if not c.ok]
    assert failed == ["GI gi7 (hostdev0 -> node 8)"]


def test_comparison_flags_a_wrong_node_without_qemu() -> None:
    """compare_srat is pure: a forged readback with a GI on the wrong node fails."""
    from gi_conform import acpi
    from gi_conform.qemu import PciPlacement, SratReadback

    domain = parse(CASES["guest-function"].xml_path.read_bytes())
    entries = (
        acpi.LapicAffinity(0, 0, True),
        acpi.MemoryAffinity(0, 0, 8 * 2**30, True),
        acpi.GenericInitiatorAffinity(0, 1, 0, 0, 0x11, True),  # node 0, not 1
    )
    readback = SratReadback(
        rsdp=acpi.Rsdp(0, 0, "BOCHS ", 0, 0),
        table_signatures=("SRAT",),
        srat_header=None,
        entries=entries,
        slit=None,
        pci={"hostdev0": PciPlacement(0, 2, 1)},
    )
    failed = {c.entry for c in compare_srat(domain, Profile.LIBVIRT, readback) if not c.ok}
    assert "GI gi0 (hostdev0 -> node 1)" in failed
    assert "no other GI entries" in failed
    fixed = dataclasses.replace(
        readback,
        entries=(*entries[:2], acpi.GenericInitiatorAffinity(1, 1, 0, 0, 0x11, True)),
    )
    still = {c.entry for c in compare_srat(domain, Profile.LIBVIRT, fixed) if not c.ok}
    assert still == {"cell 0 CPUs"}  # 16 vCPUs, one LAPIC entry forged


def _careless_argv(case: Case) -> list[str]:
    """The argv an implementation that skipped validation would emit for the case."""
    domain = read_domain(case.xml_path.read_bytes()).domain
    assert domain is not None
    profile = Profile.SEED if domain.initiators else Profile.LIBVIRT
    memory = memory_size(domain) or 512 * 2**20
    return runnable_argv(
        flatten(build_argv(domain, profile)), memory_bytes=memory, vcpus=domain.vcpus or 1
    )


QEMU_RULES = [rule for rule in catalogue().values() if rule.qemu != "not-applicable"]


@pytest.mark.qemu
@pytest.mark.parametrize("rule", QEMU_RULES, ids=[rule.id for rule in QEMU_RULES])
def test_qemu_agrees_with_the_catalogue(rule: object, qemu_binary: str) -> None:
    """rules.toml says, per rule, whether real QEMU refuses the careless argv: check it."""
    case = CASES[rule.qemu_case]  # type: ignore[attr-defined]
    status, stderr = run_argv_check(_careless_argv(case))
    if rule.qemu == "refuses":  # type: ignore[attr-defined]
        assert status == 1, stderr
        assert rule.qemu_message in stderr  # type: ignore[attr-defined]
    else:
        assert status == 0, f"QEMU refused what rules.toml says it accepts: {stderr}"


@pytest.mark.qemu
def test_qemu_refuses_node_128(qemu_binary: str) -> None:
    """GI-NODE-SYNTAX's limit is QEMU's: node 128 is refused even when 129 nodes could exist."""
    domain = parse(CASES["libvirt-11.8-example"].xml_path.read_bytes())
    command = qemu_argv(domain, Profile.SEED, qemu_binary)
    command = [arg.replace("node=8", "node=128") for arg in command]
    status, stderr = run_argv_check(command)
    assert status == 1
    assert "acpi-generic-initiator: Invalid NUMA node specified" in stderr


def test_every_refusing_rule_has_a_case_and_a_message() -> None:
    for rule in QEMU_RULES:
        assert rule.qemu in ("refuses", "accepts"), rule.id
        assert rule.qemu_case in CASES, rule.id
        if rule.qemu == "refuses":
            assert rule.qemu_message, rule.id
        else:
            assert rule.why or rule.severity == "warning" or rule.source == "gi-conform", rule.id


@pytest.mark.qemu
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(domain=topologies(max_cells=16, max_hostdevs=4))
def test_generated_topologies_match_the_guest_srat(domain: Domain) -> None:
    """Small random topologies through real QEMU: every SRAT/SLIT check passes.

    The machine is forced to q35: this runner builds no PCI bridges for i440fx, and the
    SRAT does not depend on the machine type. Each cell with memory is clamped to
    16..256 MiB: below about 2 MiB in all SeaBIOS never publishes the tables, and the host
    must back the RAM (24 GiB here).
    """
    try:
        binary = find_qemu().path
    except QemuUnavailable as error:
        pytest.skip(f"needs QEMU >= 9.2: {error}")
    cells = tuple(
        dataclasses.replace(cell, memory=min(max(cell.memory, 16 * 2**20), 256 * 2**20))
        if cell.memory
        else cell
        for cell in domain.cells
    )
    domain = dataclasses.replace(domain, arch="x86_64", machine="q35", cells=cells)
    profile = default_profile(domain)
    readback = read_srat(qemu_argv(domain, profile, binary), timeout=60)
    failed = [check for check in compare_srat(domain, profile, readback) if not check.ok]
    assert not failed, "\n".join(map(str, failed))
