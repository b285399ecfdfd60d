"""Proofs by real QEMU on libvirt's own argv (``gi-conform libvirt prove``).

The argv transformation, the asked-for initiators and the comparison are pure and always
run. The proofs need real libvirt (``gi-conform libvirt setup``) and QEMU >= 9.2, and
skip, saying how to get them, without. The five cases whose verdicts were first found by
hand (their ``notes`` in cases/index.json) are the oracle the automation must reproduce.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import jsonschema
import pytest

from gi_conform import Profile, build_argv, flatten, parse
from gi_conform.document.validate import validate
from gi_conform.groundtruth.acpi import GenericInitiatorAffinity, Rsdp
from gi_conform.groundtruth.guest_setup import GuestUnavailable, locate_kit
from gi_conform.groundtruth.qemu import PciPlacement, QemuUnavailable, TableReadback, find_qemu
from gi_conform.groundtruth.runnable import (
    RunnableArgv,
    runnable_libvirt_argv,
    with_acpi,
    with_readback_memory,
)
from gi_conform.libvirt.convert import convert
from gi_conform.libvirt.install import Libvirt, LibvirtUnavailable, locate
from gi_conform.libvirt.proof import (
    ProofVerdict,
    Selection,
    asked_initiators,
    host_property_refusal,
    lenient_domain,
    missing_initiators,
    prove,
    refused_for_the_host,
    selection,
)
from gi_conform.resources import cases_dir, reference_dir
from tests.helpers import run_cli

# libvirt 12.8's full argv for cases/gi-node-unknown-nodeset.xml (gi-conform libvirt argv
# --full), shortened to one device: the transformation's input, verbatim.
LIBVIRT_ARGV = [
    "/usr/bin/qemu-system-x86_64",
    "-name",
    "guest=nodeset-3,debug-threads=on",
    "-S",
    "-object",
    '{"qom-type":"secret","id":"masterKey0","format":"raw",'
    '"file":"/var/lib/gi-conform/embed-0/lib/qemu/domain--1-nodeset-3/master-key.aes"}',
    "-machine",
    "pc-q35-11.1,usb=off,dump-guest-core=off,acpi=on",
    "-accel",
    "tcg",
    "-cpu",
    "qemu64",
    "-m",
    "size=8388608k",
    "-overcommit",
    "mem-lock=off",
    "-smp",
    "16,sockets=16,cores=1,threads=1",
    "-object",
    '{"qom-type":"memory-backend-ram","id":"ram-node0","size":8589934592}',
    "-numa",
    "node,nodeid=0,cpus=0-15,memdev=ram-node0",
    "-numa",
    "node,nodeid=1",
    "-numa",
    "node,nodeid=2",
    "-display",
    "none",
    "-no-user-config",
    "-nodefaults",
    "-chardev",
    "socket,id=charmonitor,path=/var/lib/gi-conform/embed-0/monitor.sock,server=on,wait=off",
    "-object",
    '{"qom-type":"monitor-qmp","id":"monitor","chardev":"charmonitor"}',
    "-no-shutdown",
    "-device",
    '{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0",'
    '"multifunction":true,"addr":"0x1"}',
    "-device",
    '{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0","bus":"pcie.0","addr":"0x2"}',
    "-object",
    '{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":1}',
    "-object",
    '{"qom-type":"acpi-generic-initiator","id":"gi1","pci-dev":"hostdev0","node":3}',
    "-sandbox",
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    "-msg",
    "timestamp=on",
]

MACHINES = frozenset({"q35", "pc", "pc-q35-10.0", "pc-i440fx-9.2"})

# What real QEMU said or showed for libvirt's argv when this was first done by hand.
KNOWN = {
    "gi-node-unknown-nodeset": ProofVerdict.QEMU_REFUSES,
    "numa-too-many-cells": ProofVerdict.QEMU_REFUSES,
    "numa-no-memory": ProofVerdict.QEMU_REFUSES,
    "gi-no-numa": ProofVerdict.SRAT_MISSING,
    "mdev-nodeset": ProofVerdict.SRAT_MISSING,
    # found by the automation itself
    "hmat-cache-without-lb": ProofVerdict.QEMU_REFUSES,
    "hostdev-address-domain-wide": ProofVerdict.QEMU_REFUSES,
    "hmat-value-bandwidth": ProofVerdict.QEMU_REFUSES,
    "hmat-value-latency-range": ProofVerdict.QEMU_REFUSES,
    "hmat-cache-levels": ProofVerdict.QEMU_REFUSES,
    "hmat-cache-levels-size": ProofVerdict.QEMU_REFUSES,
    "gi-node-syntax-nodeset-128": ProofVerdict.QEMU_REFUSES,
    # found in review; selected because libvirt's argv breaks INV-HMAT
    "hmat-cpus-unassigned-cell0": ProofVerdict.QEMU_REFUSES,
}


def case_xml(case_id: str) -> bytes:
    return (cases_dir() / f"{case_id}.xml").read_bytes()


def note(case_id: str) -> str:
    index = json.loads((cases_dir() / "index.json").read_text())
    entries = index["cases"] if isinstance(index, dict) else index
    found: str = next(c for c in entries if c["id"] == case_id)["notes"]
    return found


def option_values(argv: tuple[str, ...] | list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == flag]


def transformed(argv: list[str] | None = None) -> RunnableArgv:
    return runnable_libvirt_argv(
        argv or LIBVIRT_ARGV, binary="/host/qemu-system-x86_64", machines=MACHINES
    )


# ------------------------------------------------------------- the transformation


def test_vfio_becomes_the_edu_stand_in_in_the_same_place() -> None:
    devices = option_values(transformed().argv, "-device")
    assert json.loads(devices[1]) == {
        "driver": "edu",
        "id": "hostdev0",
        "bus": "pcie.0",
        "addr": "0x2",
    }
    assert not any("vfio-pci" in d for d in devices)


def test_keyval_vfio_stays_keyval_and_keeps_multifunction_and_acpi_index() -> None:
    argv = ["qemu-system-x86_64", "-device", "vfio-pci,host=41:00.0,id=gpu,bus=pci.3,addr=0x0"]
    argv += ["-device", "vfio-pci,host=41:00.1,id=g,,x,multifunction=on,addr=0x2,acpi-index=7"]
    devices = option_values(transformed(argv).argv, "-device")
    assert devices == [
        "edu,id=gpu,bus=pci.3,addr=0x0",
        "edu,id=g,,x,addr=0x2,multifunction=on,acpi-index=7",
    ]


def test_kept_verbatim_numa_memory_initiators_controllers_in_order() -> None:
    result = transformed()
    for flag in ("-numa", "-smp", "-m", "-cpu", "-overcommit", "-name"):
        assert option_values(result.argv, flag) == option_values(LIBVIRT_ARGV, flag)
    objects = option_values(result.argv, "-object")
    initiators = [o for o in objects if "acpi-generic-initiator" in o]
    assert initiators == [o for o in option_values(LIBVIRT_ARGV, "-object") if "generic" in o]
    assert option_values(result.argv, "-device")[0] == option_values(LIBVIRT_ARGV, "-device")[0]
    assert result.memory == 8388608 * 1024
    assert result.argv[0] == "/host/qemu-system-x86_64"


def test_host_resources_dropped_or_replaced_each_with_a_reason() -> None:
    result = transformed()
    for gone in ("-S", "-sandbox", "-msg"):
        assert gone not in result.argv
    assert not any("secret" in o or "monitor-qmp" in o for o in result.argv)
    assert option_values(result.argv, "-chardev") == ["null,id=charmonitor"]
    assert option_values(result.argv, "-mon") == ["chardev=charmonitor,id=monitor,mode=control"]
    backend = json.loads(option_values(result.argv, "-object")[0])
    assert backend == {
        "qom-type": "memory-backend-ram",
        "id": "ram-node0",
        "size": 8589934592,
        "reserve": False,
    }
    text = "\n".join(result.changes)
    for reason in ("-S dropped", "masterKey0", "vfio-pci -> edu", "socket -> null", "-msg"):
        assert reason in text


def test_machine_version_this_qemu_lacks_becomes_its_alias() -> None:
    assert option_values(transformed().argv, "-machine") == [
        "q35,usb=off,dump-guest-core=off,acpi=on"
    ]
    known = ["qemu-system-x86_64", "-machine", "pc-i440fx-9.2,acpi=off"]
    assert option_values(transformed(known).argv, "-machine") == ["pc-i440fx-9.2,acpi=off"]
    i440fx = ["qemu-system-x86_64", "-machine", "pc-i440fx-11.1,accel=kvm"]
    assert option_values(transformed(i440fx).argv, "-machine") == ["pc,accel=tcg"]


def test_kvm_accelerator_becomes_tcg() -> None:
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-enable-kvm", "-nodefaults"]
    assert transformed(argv).argv[1:] == ("-accel", "tcg", "-nodefaults")


def test_host_usb_scsi_disks_and_memory_files_get_stand_ins() -> None:
    argv = [
        "qemu-system-x86_64",
        "-device",
        '{"driver":"usb-host","hostdevice":"/dev/bus/usb/001/002","id":"hostdev0",'
        '"bus":"usb.0","port":"1"}',
        "-blockdev",
        '{"driver":"host_device","filename":"/dev/sg0","node-name":"libvirt-1-backend",'
        '"read-only":false}',
        "-device",
        '{"driver":"scsi-generic","drive":"libvirt-1-backend","id":"hostdev1",'
        '"bus":"scsi0.0","scsi-id":0}',
        "-blockdev",
        '{"driver":"file","filename":"/var/lib/libvirt/images/guest.qcow2",'
        '"node-name":"libvirt-2-storage","auto-read-only":true,"discard":"unmap"}',
        "-blockdev",
        '{"node-name":"libvirt-2-format","read-only":false,"driver":"qcow2",'
        '"file":"libvirt-2-storage"}',
        "-object",
        '{"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/dev/hugepages/x",'
        '"size":1073741824,"host-nodes":[1],"policy":"bind","prealloc":true}',
        "-netdev",
        '{"type":"tap","fd":"23","id":"hostnet0"}',
        "-vnc",
        "unix:/var/lib/libvirt/vnc.sock",
    ]
    result = transformed(argv)
    devices = [json.loads(d) for d in option_values(result.argv, "-device")]
    assert devices[0] == {"driver": "usb-tablet", "id": "hostdev0", "bus": "usb.0", "port": "1"}
    assert devices[1]["driver"] == "scsi-hd"
    assert devices[1]["drive"] == "libvirt-1-backend"
    blocks = [json.loads(b) for b in option_values(result.argv, "-blockdev")]
    assert [b["driver"] for b in blocks] == ["null-co", "null-co", "raw"]
    assert blocks[2]["file"] == "libvirt-2-storage"
    assert not any("filename" in b for b in blocks)
    memory = json.loads(option_values(result.argv, "-object")[0])
    assert memory == {
        "qom-type": "memory-backend-ram",
        "id": "ram-node0",
        "size": 1073741824,
        "reserve": False,
    }
    assert json.loads(option_values(result.argv, "-netdev")[0])["type"] == "hubport"
    assert "-vnc" not in result.argv
    assert option_values(result.argv, "-display") == ["none"]


def test_readback_memory_grows_the_numa_backend_and_m_together() -> None:
    argv = [
        "qemu-system-x86_64",
        "-m",
        "size=1024k",
        "-object",
        '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1048576,"reserve":false}',
        "-numa",
        "node,nodeid=0,cpus=0,memdev=ram-node0",
    ]
    result = runnable_libvirt_argv(argv, machines=MACHINES)
    grown, why = with_readback_memory(result.argv, result.memory)
    assert why is not None
    assert "SeaBIOS" in why
    assert option_values(grown, "-m") == [f"{4 << 20}b"]
    assert json.loads(option_values(grown, "-object")[0])["size"] == 4 << 20
    same, none = with_readback_memory(transformed().argv, transformed().memory)
    assert none is None
    assert same == transformed().argv


def test_readback_turns_acpi_on_only_when_libvirt_turned_it_off() -> None:
    on, why = with_acpi(["qemu", "-machine", "q35,usb=off,acpi=off"])
    assert on[2] == "q35,usb=off,acpi=on"
    assert why is not None
    assert with_acpi(list(transformed().argv)) == (transformed().argv, None)


# ------------------------------------------------------------- what was asked


def test_asked_initiators_come_from_the_invalid_document_leniently() -> None:
    report = validate(case_xml("gi-node-unknown-nodeset"))
    assert not report.accepted
    assert report.domain is not None
    asked = asked_initiators(report.domain)
    assert [(a.host, a.node, a.index) for a in asked] == [
        ("0000:06:12.1", 1, 0),
        ("0000:06:12.1", 2, 0),
        ("0000:06:12.1", 3, 0),
    ]


def test_a_usb_device_asks_for_an_entry_no_srat_can_hold() -> None:
    domain = validate(case_xml("gi-device-not-pci")).domain
    assert domain is not None
    asked = asked_initiators(domain)
    assert [(a.source.split()[0], a.index, a.node) for a in asked] == [
        ("usb", None, 1),
        ("pci", 0, 2),
    ]


def test_documents_the_reference_will_not_read_are_read_leniently_once() -> None:
    xml = case_xml("xml-forbidden-entities")
    assert validate(xml).domain is None
    domain, how = lenient_domain(xml)
    assert domain is not None
    assert how is not None
    assert "XML-FORBIDDEN" in how
    assert [a.node for a in asked_initiators(domain)] == [1, 2]
    assert lenient_domain(b"<domain") == (None, None)


def readback(entries: list[tuple[int, int, int]], srat: bool = True) -> TableReadback:
    """A readback with GI entries (node, bus, devfn) and hostdev0 at 00:02.0."""
    gis = tuple(
        GenericInitiatorAffinity(node, 1, 0, bus, devfn, True) for node, bus, devfn in entries
    )
    return TableReadback(
        rsdp=Rsdp(0xF0000, "BOCHS", 0, 0x1000, None),
        table_signatures=("FACP", "SRAT") if srat else ("FACP",),
        srat_header=None,
        entries=gis,
        slit=None,
        pci=types.MappingProxyType({"hostdev0": PciPlacement(0, 2, 0)}),
    )


def test_missing_initiators_compares_the_guest_placement_and_node() -> None:
    domain = validate(case_xml("gi-node-unknown-nodeset")).domain
    assert domain is not None
    asked = asked_initiators(domain)
    missing, seen = missing_initiators(asked, LIBVIRT_ARGV, readback([(1, 0, 0x10)]))
    assert len(seen) == 1
    assert "node 1" in seen[0]
    assert len(missing) == 2
    assert "no SRAT entry for node 2, PCI 0000:00:02.0" in missing[0]
    wrong_place, _ = missing_initiators(asked, LIBVIRT_ARGV, readback([(1, 0, 0x18)]))
    assert len(wrong_place) == 3
    no_srat, _ = missing_initiators(asked, LIBVIRT_ARGV, readback([], srat=False))
    assert all("QEMU built no SRAT" in m for m in no_srat)
    without_device, _ = missing_initiators(asked, LIBVIRT_ARGV[:3], readback([]))
    assert all("not in libvirt's argv" in m for m in without_device)


def test_an_iommufd_device_is_found_by_its_position() -> None:
    """libvirt writes no ``host`` for an iommufd vfio-pci (the fd comes at start): the
    asked pair is matched by position, not reported missing from libvirt's argv."""
    domain = validate(case_xml("gi-node-unknown-nodeset")).domain
    assert domain is not None
    asked = asked_initiators(domain)
    hostless = [
        token.replace('"host":"0000:06:12.1",', '"iommufd":"iommufd0",') for token in LIBVIRT_ARGV
    ]
    assert hostless != LIBVIRT_ARGV
    missing, seen = missing_initiators(asked, hostless, readback([(1, 0, 0x10)]))
    assert len(seen) == 1
    assert not any("not in libvirt's argv" in m for m in missing)


def test_selection_reference_rejects_or_initiators_differ_only() -> None:
    gi = '{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"d","node":1}'
    dev = '{"driver":"vfio-pci","host":"0000:06:12.1","id":"d"}'
    ours = ["-device", dev, "-object", gi]
    theirs = ["qemu", *ours]
    assert selection(False, (), theirs) is Selection.REFERENCE_REJECTS
    assert selection(True, ours, theirs) is None
    assert selection(True, ours, ["qemu", "-device", dev]) is Selection.INITIATORS_DIFFER


def test_published_proofs_follow_their_schema_and_hold_the_known_verdicts() -> None:

    implementations = reference_dir() / "implementations"
    schema = json.loads((implementations / "proofs.schema.json").read_text())
    published = json.loads((implementations / "libvirt-12.8-proofs.json").read_text())
    jsonschema.validate(published, schema)
    verdicts = {p["id"]: p["verdict"] for p in published["proofs"]}
    assert {case: verdicts.get(case) for case in KNOWN} == {c: str(v) for c, v in KNOWN.items()}
    assert "two-gpus-nodeset" not in verdicts
    summary = published["summary"]
    assert summary["proved"] == len(published["proofs"])
    assert (
        summary["proven_gaps"]
        == summary["verdicts"]["qemu-refuses"] + (summary["verdicts"]["srat-missing"])
    )


# ------------------------------------------------------------- real libvirt + QEMU


@pytest.mark.qemu
def test_host_property_refusal_tells_a_bad_address_from_a_missing_device() -> None:
    try:
        binary = find_qemu().path
    except QemuUnavailable as error:
        pytest.skip(f"needs QEMU >= 9.2: {error}")

    def argv(host: str) -> list[str]:
        return ["qemu", "-device", json.dumps({"driver": "vfio-pci", "host": host, "id": "h"})]

    refusal = host_property_refusal(argv("10000:42:00.0"), binary)
    assert refusal is not None
    assert "doesn't take value '10000:42:00.0'" in refusal
    assert host_property_refusal(argv("ffff:42:00.0"), binary) is None  # only absent here


@pytest.fixture(scope="module")
def real_libvirt() -> Libvirt:
    try:
        found = locate()
    except LibvirtUnavailable as error:
        pytest.skip(f"no real libvirt: {error}")
    try:
        find_qemu()
    except QemuUnavailable as error:
        pytest.skip(f"needs QEMU >= 9.2: {error}")
    return found


@pytest.mark.libvirt
@pytest.mark.qemu
@pytest.mark.parametrize("case_id", sorted(KNOWN))
def test_known_cases_reproduce_the_verdicts_found_by_hand(
    real_libvirt: Libvirt, case_id: str
) -> None:
    xml = case_xml(case_id)
    result = convert(xml, libvirt=real_libvirt)
    assert result.accepted, result.message
    proof = prove(xml, result.argv)
    assert proof.verdict is KNOWN[case_id], proof
    assert proof.proves_gap
    written = note(case_id)
    if proof.verdict is ProofVerdict.QEMU_REFUSES:
        quoted = re.search(r"'([^']+)", written.split("refuses libvirt's argv:")[1])
        assert quoted is not None
        assert quoted[1] in proof.message  # QEMU's exact words, as the note quotes them
        assert not proof.details
    else:
        assert "0 of 2" in written
        assert "0 of 2 asked-for initiators" in proof.message
        assert len(proof.details) == 2


@pytest.mark.libvirt
@pytest.mark.qemu
def test_accepted_by_both_runs_and_shows_every_initiator(real_libvirt: Libvirt) -> None:
    xml = case_xml("two-gpus-nodeset")
    result = convert(xml, libvirt=real_libvirt)
    domain = validate(xml).domain
    assert result.accepted
    assert domain is not None
    proof = prove(xml, result.argv)
    assert proof.verdict is ProofVerdict.NO_VISIBLE_DIFFERENCE, proof
    assert len(proof.details) == len(asked_initiators(domain)) > 0


@pytest.mark.libvirt
@pytest.mark.qemu
def test_cli_selects_only_what_libvirt_accepts_and_the_reference_rejects(
    real_libvirt: Libvirt, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    out = tmp_path / "proofs.json"
    code = run_cli(
        "libvirt",
        "prove",
        "--generated",
        "0",
        "--case",
        "gi-node-unknown-nodeset",
        "--case",
        "two-gpus-nodeset",
        "--case",
        "gi-node-syntax-nodeset",
        "--json",
        str(out),
    )
    assert code == 1  # a gap proven
    text = capsys.readouterr().out
    assert "gi-node-unknown-nodeset  GI-NODE-UNKNOWN" in text
    assert "two-gpus-nodeset" not in text  # accepted by both, same initiators
    assert "gi-node-syntax-nodeset" not in text  # libvirt rejects it too
    payload = json.loads(out.read_text())
    schema = json.loads((reference_dir() / "implementations" / "proofs.schema.json").read_text())
    jsonschema.validate(payload, schema)
    assert payload["summary"]["documents"] == 3
    assert payload["summary"]["libvirt_rejected"] == 1
    assert [p["id"] for p in payload["proofs"]] == ["gi-node-unknown-nodeset"]
    assert payload["proofs"][0]["message"] == "acpi-generic-initiator: Specified node 3 is invalid."
    assert run_cli("libvirt", "prove", "--generated", "0", "--case", "two-gpus-nodeset") == 0


@pytest.mark.libvirt
@pytest.mark.qemu
@pytest.mark.usefixtures("real_libvirt")
def test_cli_usage_errors(tmp_path: Path) -> None:
    assert run_cli("libvirt", "prove", "--generated", "-1") == 2
    assert run_cli("libvirt", "prove", "--generated", "0", "--case", "no-such-case") == 2
    unwritable = tmp_path / "missing" / "proofs.json"
    args = ("--generated", "0", "--case", "two-gpus-nodeset", "--json", str(unwritable))
    assert run_cli("libvirt", "prove", *args) == 2


def test_cli_without_libvirt_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli("libvirt", "prove", "--dir", str(tmp_path), "--generated", "0") == 2


def test_selection_holds_libvirt_to_the_invariants() -> None:
    """libvirt 12.8's node line for hmat-cpus-unassigned-cell0 (QEMU refuses it)."""

    xml = case_xml("hmat-cpus-unassigned-cell0")
    ours = flatten(build_argv(parse(xml), Profile.LIBVIRT))
    theirs = ["qemu", *(a.replace("nodeid=0,initiator=0", "nodeid=0,initiator=1") for a in ours)]
    assert selection(True, ours, ["qemu", *ours], document=xml) is None
    assert selection(True, ours, theirs, document=xml) is Selection.INVARIANT_BROKEN
    assert selection(True, ours, theirs) is None  # without the document: pairs only


@pytest.mark.libvirt
@pytest.mark.qemu
def test_prove_with_jobs_proves_the_same_in_the_same_order(
    real_libvirt: Libvirt, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    selected = ("--case", "gi-node-unknown*", "--case", "two-gpus-*", "--case", "mdev-*")
    payloads = []
    for jobs in ("1", "2"):
        out = tmp_path / f"proofs-{jobs}.json"
        code = run_cli(
            "libvirt", "prove", "--generated", "0", *selected, "-j", jobs, "--json", str(out)
        )
        assert code == 1
        capsys.readouterr()
        payload = json.loads(out.read_text())
        payloads.append(
            (
                {k: v for k, v in payload["summary"].items() if not k.endswith("_s")},
                [(p["id"], p["verdict"], p["message"]) for p in payload["proofs"]],
            )
        )
    assert payloads[0] == payloads[1]
    assert len(payloads[0][1]) >= 2


def test_a_guest_bigger_than_this_host_proves_nothing() -> None:
    assert refused_for_the_host(
        "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory"
    )
    assert not refused_for_the_host(
        "qemu-system-x86_64: acpi-generic-initiator: Specified node 3 is invalid."
    )


@pytest.mark.qemu
def test_prove_calls_a_guest_too_big_for_the_host_inconclusive() -> None:
    huge = ["-m", "64T"]
    argv = ["/usr/bin/qemu-system-x86_64", "-machine", "q35", *huge]
    proof = prove(b"<domain/>", argv)
    assert proof.verdict is ProofVerdict.INCONCLUSIVE, proof
    assert "this host could not give QEMU" in proof.message


def _on_aarch64(case_id: str) -> bytes:
    """A corpus case moved to aarch64 virt as libvirt wants it there (UEFI, GICv3)."""
    text = case_xml(case_id).decode()
    text = text.replace(
        "<type arch='x86_64' machine='q35'>hvm</type>",
        "<type arch='aarch64' machine='virt'>hvm</type>"
        "<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>"
        "<nvram>/var/lib/libvirt/qemu/nvram/guest_VARS.fd</nvram>",
    )
    text = text.replace("<acpi/>", "<acpi/><gic version='3'/>", 1)
    return text.replace("qemu-system-x86_64", "qemu-system-aarch64").encode()


def _aarch64_argv(xml: bytes, libvirt: Libvirt) -> list[str]:
    """libvirt's argv for an aarch64 document, or a skip without the aarch64 guest kit."""
    try:
        locate_kit("aarch64")
    except GuestUnavailable as error:
        pytest.skip(f"needs the aarch64 guest kit: {error}")
    result = convert(xml, libvirt=libvirt)
    assert result.accepted, result.message
    assert result.argv[0].endswith("qemu-system-aarch64")
    return list(result.argv)


@pytest.mark.libvirt
@pytest.mark.qemu
def test_aarch64_argv_is_judged_by_the_guest_kits_qemu(real_libvirt: Libvirt) -> None:
    xml = _on_aarch64("gi-node-unknown-nodeset")
    proof = prove(xml, _aarch64_argv(xml, real_libvirt))
    assert proof.verdict is ProofVerdict.QEMU_REFUSES, proof
    assert "Specified node 3 is invalid." in proof.message
    assert any("pflash0 dropped" in change for change in proof.changes)


# An aarch64 guest as KubeVirt lays it out: GPUs behind root ports libvirt adds (pci.1,
# pci.2 at 00:01.x) and one behind a pcie-expander-bus (bus_nr 64, guest bus 0x41).
EXPANDER_XML = b"""<domain type='kvm'>
  <name>expander</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='aarch64' machine='virt'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>
    <nvram>/var/lib/libvirt/qemu/nvram/guest_VARS.fd</nvram>
  </os>
  <features><acpi/><gic version='3'/></features>
  <cpu>
    <numa>
      <cell id='0' cpus='0-1' memory='1048576' unit='KiB'/>
      <cell id='1' memory='0' unit='KiB'/>
      <cell id='2' memory='0' unit='KiB'/>
      <cell id='3' memory='0' unit='KiB'/>
    </numa>
  </cpu>
  <devices>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='5' model='pcie-expander-bus'>
      <target busNr='64'><node>3</node></target>
    </controller>
    <controller type='pci' index='6' model='pcie-root-port'>
      <address type='pci' bus='0x05' slot='0x00'/>
    </controller>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/></source>
      <acpi nodeset='1'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x42' slot='0x00' function='0x0'/></source>
      <acpi nodeset='2'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x43' slot='0x00' function='0x0'/></source>
      <acpi nodeset='3'/>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </hostdev>
  </devices>
</domain>
"""


@pytest.mark.libvirt
@pytest.mark.qemu
@pytest.mark.guest
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "verdict", "details"),
    [
        pytest.param(
            "mdev-nodeset",
            ProofVerdict.SRAT_MISSING,
            [
                "hostdev0 (mdev c2177883-f1bb-47f0-914d-32a22e3a8804) -> node 1: "
                "no SRAT entry for node 1, PCI 0000:00:05.0",
                "hostdev0 (mdev c2177883-f1bb-47f0-914d-32a22e3a8804) -> node 2: "
                "no SRAT entry for node 2, PCI 0000:00:05.0",
            ],
            id="mdev-nodeset",
        ),
        pytest.param(
            "expander",
            ProofVerdict.NO_VISIBLE_DIFFERENCE,
            [
                "hostdev0 (pci 0000:41:00.0) -> node 1: SRAT entry node 1, PCI 0000:01:00.0",
                "hostdev1 (pci 0000:42:00.0) -> node 2: SRAT entry node 2, PCI 0000:02:00.0",
                "hostdev2 (pci 0000:43:00.0) -> node 3: SRAT entry node 3, PCI 0000:41:00.0",
            ],
            id="expander",
        ),
    ],
)
def test_an_aarch64_guest_shows_what_libvirts_argv_gives_it(
    real_libvirt: Libvirt, name: str, verdict: ProofVerdict, details: list[str]
) -> None:
    """The guest boots libvirt's argv and reads its SRAT: mdev-nodeset's initiators are
    missing (libvirt writes none for an mdev), the expander's are each at the address
    the guest enumerated its device (tied through libvirt's bus and addr)."""
    xml = EXPANDER_XML if name == "expander" else _on_aarch64(name)
    proof = prove(xml, _aarch64_argv(xml, real_libvirt))
    assert proof.verdict is verdict, proof
    assert list(proof.details) == details
    assert any(change.startswith("boot only: the guest kit's UEFI") for change in proof.changes)


@pytest.mark.libvirt
@pytest.mark.qemu
@pytest.mark.guest
def test_an_aarch64_guest_that_does_not_report_is_inconclusive(real_libvirt: Libvirt) -> None:
    xml = _on_aarch64("mdev-nodeset")
    proof = prove(xml, _aarch64_argv(xml, real_libvirt), guest_timeout=1.0)
    assert proof.verdict is ProofVerdict.INCONCLUSIVE, proof
    assert proof.message.endswith("the guest did not report within 1 s")
