"""Ground truth: the reference argv in real QEMU, and the SRAT the guest sees.

Tests marked ``qemu`` run the real binary (QEMU >= 9.2; `.ci/setup` installs it). On a
machine without it they skip with the install instructions.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings

from gi_conform import (
    Domain,
    Profile,
    build_argv,
    catalogue,
    default_profile,
    flatten,
    parse,
)
from gi_conform.corpus import Case, load_cases
from gi_conform.document.parse import read_domain
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.qemu import (
    PciPlacement,
    QemuBinary,
    QemuUnavailable,
    TableReadback,
    find_qemu,
    read_tables,
    run_argv_check,
)
from gi_conform.groundtruth.runnable import document_command, memory_size, runnable_argv
from gi_conform.groundtruth.tables import compare_tables
from gi_conform.model import CellCache
from gi_conform.strategies import topologies
from tests.helpers import DATA

CASES = {case.id: case for case in load_cases()}
ACCEPTED = [case for case in CASES.values() if case.accepted]


@pytest.mark.qemu
@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_every_accepted_case_matches_the_guest_srat(
    case: Case, profile: Profile, qemu_binary: QemuBinary
) -> None:
    domain = parse(case.xml_path.read_bytes())
    readback = read_tables(document_command(domain, profile, qemu_binary.path), timeout=30)
    checks = compare_tables(domain, profile, readback)
    failed = [check for check in checks if not check.ok]
    assert not failed, "\n".join(map(str, failed))
    if any(hostdev.nodeset for hostdev in domain.hostdevs) or domain.initiators:
        assert readback.generic_initiators


@pytest.mark.qemu
def test_a_dropped_initiator_is_caught(qemu_binary: QemuBinary) -> None:
    """The comparison can fail: run the argv without its last GI, compare with the document."""
    domain = parse(CASES["libvirt-11.8-example"].xml_path.read_bytes())
    command = document_command(domain, Profile.LIBVIRT, qemu_binary.path)
    last = max(i for i, arg in enumerate(command) if "acpi-generic-initiator" in arg)
    readback = read_tables(command[: last - 1] + command[last + 1 :], timeout=30)
    failed = [c.entry for c in compare_tables(domain, Profile.LIBVIRT, readback) if not c.ok]
    assert failed == ["GI gi7 (hostdev0 -> node 8)"]


def test_comparison_flags_a_wrong_node_without_qemu() -> None:
    """compare_tables is pure: a forged readback with a GI on the wrong node fails."""

    domain = parse(CASES["guest-function"].xml_path.read_bytes())
    entries = (
        acpi.LapicAffinity(0, 0, True),
        acpi.MemoryAffinity(0, 0, 8 * 2**30, True),
        acpi.GenericInitiatorAffinity(0, 1, 0, 0, 0x11, True),  # node 0, not 1
    )
    readback = TableReadback(
        rsdp=acpi.Rsdp(0, 0, "BOCHS ", 0, 0),
        table_signatures=("SRAT",),
        srat_header=None,
        entries=entries,
        slit=None,
        pci={"hostdev0": PciPlacement(0, 2, 1)},
    )
    failed = {c.entry for c in compare_tables(domain, Profile.LIBVIRT, readback) if not c.ok}
    assert "GI gi0 (hostdev0 -> node 1)" in failed
    assert "no other GI entries" in failed
    fixed = dataclasses.replace(
        readback,
        entries=(*entries[:2], acpi.GenericInitiatorAffinity(1, 1, 0, 0, 0x11, True)),
    )
    still = {c.entry for c in compare_tables(domain, Profile.LIBVIRT, fixed) if not c.ok}
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
def test_qemu_agrees_with_the_catalogue(rule: object, qemu_binary: QemuBinary) -> None:
    """rules.toml says, per rule, whether real QEMU refuses the careless argv: check it."""
    case = CASES[rule.qemu_case]  # type: ignore[attr-defined]
    status, stderr = run_argv_check(_careless_argv(case))
    if rule.qemu == "refuses":  # type: ignore[attr-defined]
        assert status == 1, stderr
        assert rule.qemu_message in stderr  # type: ignore[attr-defined]
    else:
        assert status == 0, f"QEMU refused what rules.toml says it accepts: {stderr}"


@pytest.mark.qemu
def test_qemu_refuses_node_128(qemu_binary: QemuBinary) -> None:
    """GI-NODE-SYNTAX's limit is QEMU's: node 128 is refused even when 129 nodes could exist."""
    domain = parse(CASES["libvirt-11.8-example"].xml_path.read_bytes())
    command = document_command(domain, Profile.SEED, qemu_binary.path)
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

    The machine is forced to x86 q35, or pc for an i440fx-family document (its buses are
    bridges and pxb, which a q35 refuses); the SRAT does not depend on the machine type.
    Each cell with memory is clamped to
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
    machine = "q35" if domain.pci_root_bus == "pcie.0" else "pc"
    # A guest address on a high bus makes libvirt (and so the runnable command) add a
    # bridge or root port per bus up to it: SeaBIOS's I/O windows run out on pc and bus 0's
    # slots on q35 (libvirt refuses the latter too). The SRAT does not depend on it, and
    # the PCI path has its own tests; the other slot-taking devices (issue 23) likewise.
    assume(all(h.guest_address is None or h.guest_address.bus <= 8 for h in domain.hostdevs))
    domain = dataclasses.replace(domain, arch="x86_64", machine=machine, cells=cells, other_pci=())
    profile = default_profile(domain)
    readback = read_tables(document_command(domain, profile, binary), timeout=60)
    failed = [check for check in compare_tables(domain, profile, readback) if not check.ok]
    assert not failed, "\n".join(map(str, failed))


# ------------------------------------------------------------------------- HMAT


def hmat_document(interconnects: str, caches: str = "", nodeset: str = "2") -> bytes:
    """The topology of tests/data/hmat-*.bin: cells 0 and 1 with 4 CPUs and 2 GiB each,
    memoryless cells 2 and 3, one GPU at 00:05.0 with initiators on ``nodeset``."""
    return f"""<domain type='kvm'>
  <name>hmat</name>
  <memory unit='GiB'>4</memory>
  <vcpu placement='static'>8</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <cpu>
    <numa>
      <cell id='0' cpus='0-3' memory='2' unit='GiB'>{caches}</cell>
      <cell id='1' cpus='4-7' memory='2' unit='GiB'/>
      <cell id='2' memory='0' unit='KiB'/>
      <cell id='3' memory='0' unit='KiB'/>
      <interconnects>{interconnects}</interconnects>
    </numa>
  </cpu>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x06' slot='0x12' function='0x1'/></source>
      <acpi nodeset='{nodeset}'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </hostdev>
  </devices>
</domain>
""".encode()


GI_LATENCY = """
        <latency initiator='0' target='0' type='access' value='5'/>
        <latency initiator='2' target='0' type='access' value='7'/>"""
"""What produced tests/data/hmat-gi-lat.bin (hmat-lb 0->0 latency=5, 2->0 latency=7)."""


def forged(hmat: acpi.Hmat | None) -> TableReadback:
    return TableReadback(
        rsdp=acpi.Rsdp(0, "BOCHS", 0, 0, None),
        table_signatures=("SRAT", "HMAT") if hmat else ("SRAT",),
        srat_header=None,
        entries=(),
        slit=None,
        pci={"hostdev0": PciPlacement(0, 5, 0)},
        hmat=hmat,
    )


def hmat_failures(document: bytes | Domain, hmat: acpi.Hmat | None) -> dict[str, str]:
    domain = parse(document) if isinstance(document, bytes) else document
    checks = compare_tables(domain, Profile.LIBVIRT, forged(hmat))
    return {c.entry: c.seen for c in checks if "HMAT" in c.entry and not c.ok}


MEASURED = acpi.decode_hmat((DATA / "hmat-gi-lat.bin").read_bytes())


def test_hmat_comparison_is_pure_and_can_fail() -> None:
    """The guest HMAT QEMU 10.0.2 built for GI_LATENCY passes; each way of getting it
    wrong is caught by its own row."""
    assert hmat_failures(hmat_document(GI_LATENCY), MEASURED) == {}
    domain = parse(hmat_document(GI_LATENCY))
    rows = {c.entry: c for c in compare_tables(domain, Profile.LIBVIRT, forged(MEASURED))}
    assert rows["HMAT initiator domains"].seen == "0 1 2"
    assert rows["HMAT memory access-latency 2 -> 0"].seen == "7 ns (7 x 1000 ps)"

    wrong_value = GI_LATENCY.replace("value='7'", "value='8'")
    assert hmat_failures(hmat_document(wrong_value), MEASURED) == {
        "HMAT memory access-latency 2 -> 0": "7 ns (7 x 1000 ps)"
    }
    read_not_access = GI_LATENCY.replace("type='access' value='7'", "type='read' value='7'")
    assert hmat_failures(hmat_document(read_not_access), MEASURED) == {
        "HMAT memory read-latency 2 -> 0": "no such structure",
        "no other HMAT entries": "memory access-latency 2 -> 0",
    }
    # Without its GI, node 2 is no initiator: the guest listing it is caught.
    no_gi = dataclasses.replace(
        domain, hostdevs=tuple(dataclasses.replace(h, nodeset=None) for h in domain.hostdevs)
    )
    assert hmat_failures(no_gi, MEASURED) == {"HMAT initiator domains": "0 1 2"}
    # (built on the model: the validator refuses a cache without a bandwidth to its cell)
    cache = CellCache(1, "direct", "writeback", size=10240, line_size=8)
    cached = dataclasses.replace(
        domain, cells=(dataclasses.replace(domain.cells[0], caches=(cache,)), *domain.cells[1:])
    )
    assert hmat_failures(cached, MEASURED) == {"HMAT cell 0 cache level 1": "absent"}
    assert hmat_failures(hmat_document(GI_LATENCY), None) == {"HMAT": "absent"}
    without = dataclasses.replace(domain, interconnects=())
    assert hmat_failures(without, MEASURED) == {"HMAT": "present, 3 structures"}
    assert hmat_failures(without, None) == {}


def test_hmat_caches_and_units_against_a_measured_table() -> None:
    """tests/data/hmat-full.bin, from hmat-lb latencies 10/20/21/11/30/31 ns, bandwidths
    200/100/101/201/50/51 MiB/s (initiators 0, 1 and the GI-only 2 to targets 0, 1) and
    node 0 caches 10 KiB direct write-back line 8, 1 MiB complex write-through line 64."""
    links = "".join(
        f"<{kind} initiator='{i}' target='{t}' type='access' value='{v}'{unit}/>"
        for kind, unit, values in (
            ("latency", "", (10, 20, 21, 11, 30, 31)),
            ("bandwidth", " unit='MiB'", (200, 100, 101, 201, 50, 51)),
        )
        for (i, t), v in zip(((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)), values, strict=True)
    )
    caches = """
        <cache level='1' associativity='direct' policy='writeback'>
          <size value='10' unit='KiB'/><line value='8' unit='B'/></cache>
        <cache level='2' associativity='full' policy='writethrough'>
          <size value='1' unit='MiB'/><line value='64' unit='B'/></cache>"""
    full = acpi.decode_hmat((DATA / "hmat-full.bin").read_bytes())
    assert hmat_failures(hmat_document(links, caches), full) == {}
    swapped = caches.replace("'direct'", "'none'")
    assert hmat_failures(hmat_document(links, swapped), full) == {
        "HMAT cell 0 cache level 1": "10240 bytes, line 8, direct, writeback, 2 level(s)"
    }
    off_by_one = links.replace("value='101' unit='MiB'", "value='102' unit='MiB'")
    assert hmat_failures(hmat_document(off_by_one, caches), full) == {
        "HMAT memory access-bandwidth 1 -> 0": "103424 KiB/s (101 x 1 MiB/s)"
    }


HMAT_CASES = [case for case in ACCEPTED if case.id.startswith("hmat")]


@pytest.mark.qemu
@pytest.mark.parametrize("profile", list(Profile))
def test_hmat_document_end_to_end(profile: Profile, qemu_binary: QemuBinary) -> None:
    """A GI-only initiator with latency and bandwidth to memory, two cache levels: the
    guest's HMAT holds every value, and node 2 is an initiator domain through its GI."""
    links = """
        <latency initiator='0' target='0' type='access' value='10'/>
        <latency initiator='2' target='1' type='access' value='31'/>
        <latency initiator='2' target='0' type='read' value='200'/>
        <bandwidth initiator='0' target='0' type='access' value='204800' unit='KiB'/>
        <bandwidth initiator='2' target='0' type='access' value='3' unit='GiB'/>
        <latency initiator='0' target='0' cache='1' type='access' value='2'/>"""
    caches = """
        <cache level='1' associativity='direct' policy='writeback'>
          <size value='10' unit='KiB'/><line value='8' unit='B'/></cache>
        <cache level='2' associativity='full' policy='writethrough'>
          <size value='1' unit='MiB'/><line value='64' unit='B'/></cache>"""
    domain = parse(hmat_document(links, caches))
    readback = read_tables(document_command(domain, profile, qemu_binary.path), timeout=30)
    checks = {c.entry: c for c in compare_tables(domain, profile, readback)}
    failed = [c for c in checks.values() if not c.ok]
    assert not failed, "\n".join(map(str, failed))
    assert checks["HMAT initiator domains"].seen == "0 1 2"
    assert checks["HMAT memory read-latency 2 -> 0"].seen == "200 ns (2 x 100000 ps)"
    assert checks["HMAT memory access-bandwidth 2 -> 0"].seen == "3145728 KiB/s (384 x 8 MiB/s)"
    assert checks["HMAT cell 0 cache level 2"].ok


@pytest.mark.qemu
@pytest.mark.parametrize("case", HMAT_CASES, ids=[case.id for case in HMAT_CASES])
def test_hmat_corpus_cases_end_to_end(case: Case, qemu_binary: QemuBinary) -> None:
    domain = parse(case.xml_path.read_bytes())
    profile = default_profile(domain)
    readback = read_tables(document_command(domain, profile, qemu_binary.path), timeout=30)
    assert readback.hmat is not None
    checks = compare_tables(domain, profile, readback)
    failed = [check for check in checks if not check.ok]
    assert not failed, "\n".join(map(str, failed))
    assert any(check.entry == "HMAT initiator domains" for check in checks)
