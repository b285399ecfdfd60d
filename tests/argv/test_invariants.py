"""Invariants: catalogue agreement, the golden argvs, and hand-broken argvs caught by id.

Every invariant must be shown able to fail: the table below breaks an argv of a known
document in one way each, and a test fails when some invariant id is never expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gi_conform import InvalidDocument, Profile, build_argv, flatten, parse
from gi_conform.argv import invariants as invariants_module
from gi_conform.argv.facts import document_facts, semantic_facts
from gi_conform.argv.invariants import (
    BrokenInvariant,
    check_invariants,
    invariant_catalogue,
)
from gi_conform.argv.options import read_args_text
from gi_conform.corpus import load_cases
from gi_conform.resources import cases_dir
from tests.helpers import document, gpu, seed

ACCEPTED = [case for case in load_cases() if case.accepted]

SECOND_GPU = gpu().replace("0x12", "0x13").replace("0x02", "0x03")
BASE = document(gpu("<acpi nodeset='1'/>") + SECOND_GPU + seed("hostdev1", 2, "s1"))
"""Cell 0 (vCPUs 0-3, 1 GiB), memoryless cells 1-2; hostdev0 -> node 1 by nodeset,
hostdev1 -> node 2 by a seed element 's1'."""

Options = list[tuple[str, str]]


def _xml(name: str) -> str:
    return (cases_dir() / f"{name}.xml").read_text(encoding="utf-8")


def _options(text: str, profile: Profile) -> Options:
    return [(o.flag, o.value) for o in build_argv(parse(text), profile)]


def _flat(options: Options) -> list[str]:
    return [part for option in options for part in option]


def _at(options: Options, needle: str) -> int:
    return next(i for i, (_, value) in enumerate(options) if needle in value)


def _edit(needle: str, old: str, new: str) -> Callable[[Options], None]:
    def edit(options: Options) -> None:
        index = _at(options, needle)
        flag, value = options[index]
        assert old in value, value
        options[index] = (flag, value.replace(old, new))

    return edit


def _drop(needle: str) -> Callable[[Options], None]:
    def drop(options: Options) -> None:
        del options[_at(options, needle)]

    return drop


def _copy(needle: str, old: str = "", new: str = "") -> Callable[[Options], None]:
    def copy(options: Options) -> None:
        index = _at(options, needle)
        flag, value = options[index]
        options.insert(index + 1, (flag, value.replace(old, new) if old else value))

    return copy


def _insert(before: str, flag: str, value: str) -> Callable[[Options], None]:
    def insert(options: Options) -> None:
        options.insert(_at(options, before), (flag, value))

    return insert


def _move(needle: str, before: str) -> Callable[[Options], None]:
    def move(options: Options) -> None:
        option = options.pop(_at(options, needle))
        options.insert(_at(options, before), option)

    return move


def _to_end(needle: str) -> Callable[[Options], None]:
    def to_end(options: Options) -> None:
        options.append(options.pop(_at(options, needle)))

    return to_end


def _all(*steps: Callable[[Options], None]) -> Callable[[Options], None]:
    def run(options: Options) -> None:
        for step in steps:
            step(options)

    return run


@dataclass(frozen=True)
class Breakage:
    expected: str
    profile: Profile
    why: str
    breaker: Callable[[Options], None]
    document: str = BASE


SEED, LIBVIRT = Profile.SEED, Profile.LIBVIRT
RAM1 = '{"qom-type":"memory-backend-ram","id":"ram-node1","size":1048576}'

HMAT_DOC = _xml("hmat-gi-initiator")

BREAKAGES = [
    Breakage("INV-HMAT", LIBVIRT, "hmat=on dropped", _drop("hmat=on"), HMAT_DOC),
    Breakage("INV-HMAT", SEED, "an interconnect lost", _drop("latency=20"), HMAT_DOC),
    Breakage(
        "INV-HMAT", LIBVIRT, "cache before its latencies", _move("hmat-cache", "hmat-lb"), HMAT_DOC
    ),
    Breakage(
        "INV-HMAT",
        LIBVIRT,
        "initiator= naming a GI-only node",
        _edit("nodeid=3", "initiator=0", "initiator=2"),
        HMAT_DOC,
    ),
    Breakage("INV-ARGV-READABLE", SEED, "device JSON broken", _edit("hostdev0", '{"', "{")),
    Breakage("INV-ARGV-READABLE", LIBVIRT, "node as a string", _edit('"gi0"', ":1}", ':"1"}')),
    Breakage("INV-ARGV-READABLE", LIBVIRT, "property QEMU refuses", _edit('"gi0"', "}", ',"x":1}')),
    Breakage("INV-KEYVAL-REREAD", SEED, "unescaped comma in an id", _edit("id=s1", "s1", "s,1")),
    Breakage(
        "INV-KEYVAL-REREAD", SEED, "injected property", _edit("id=s1", "node=2", "node=2,x=1")
    ),
    Breakage(
        "INV-KEYVAL-REREAD",
        SEED,
        "disjoint CPU list unsplit: cpus=0-3,8-11",
        _edit("nodeid=0", "cpus=0-3,cpus=8-11", "cpus=0-3,8-11"),
        _xml("disjoint-cpus"),
    ),
    Breakage("INV-KEYVAL-REREAD", SEED, "legacy mem on a node", _edit("nodeid=1", "1", "1,mem=0")),
    Breakage(
        "INV-ID-UNIQUE", SEED, "initiator takes a device id", _edit("id=s1", "s1", "hostdev0")
    ),
    Breakage(
        "INV-ID-UNIQUE", LIBVIRT, "backend id twice", _copy("ram-node0", '"size"', '"x":0,"size"')
    ),
    Breakage("INV-GI-DEVICE", SEED, "pci-dev names nothing", _edit("id=s1", "hostdev1", "nosuch")),
    Breakage("INV-GI-NODE", SEED, "node is no -numa node", _edit("id=s1", "node=2", "node=7")),
    Breakage("INV-NUMA-NODES", SEED, "a cell without its node", _drop("nodeid=2")),
    Breakage("INV-NUMA-NODES", SEED, "a node twice", _copy("nodeid=1")),
    Breakage("INV-NUMA-NODES", LIBVIRT, "a node no cell has", _copy("nodeid=2", "2", "3")),
    Breakage("INV-NUMA-CPUS", SEED, "a vCPU lost", _edit("nodeid=0", "cpus=0-3", "cpus=0-2")),
    Breakage("INV-NUMA-CPUS", SEED, "a vCPU too many", _edit("nodeid=1", "1", "1,cpus=4")),
    Breakage(
        "INV-NUMA-MEMORYLESS",
        SEED,
        "a memoryless cell gets a backend",
        _all(
            _insert("nodeid=1", "-object", RAM1),
            _edit("node,nodeid=1", "nodeid=1", "nodeid=1,memdev=ram-node1"),
        ),
    ),
    Breakage(
        "INV-NUMA-MEMORYLESS", LIBVIRT, "a backend no node uses", _copy("ram-node0", "0", "9")
    ),
    Breakage("INV-NUMA-MEMORY", SEED, "wrong size", _edit("ram-node0", "1073741824", "1073741823")),
    Breakage(
        "INV-NUMA-MEMORY",
        LIBVIRT,
        "legacy mem= instead of memdev",
        _all(_drop("ram-node0"), _edit("nodeid=0", "memdev=ram-node0", "mem=1G")),
    ),
    Breakage(
        "INV-NUMA-MEMORY",
        SEED,
        "memdev names no backend",
        _edit("nodeid=0", "memdev=ram-node0", "memdev=hostdev0"),
    ),
    Breakage(
        "INV-NUMA-DISTANCES",
        SEED,
        "a distance changed both ways",
        _all(_edit("src=2,dst=3,", "val=15", "val=16"), _edit("src=3,dst=2,", "val=15", "val=16")),
        _xml("numa-distances"),
    ),
    Breakage(
        "INV-NUMA-DISTANCES",
        LIBVIRT,
        "a node pair without any distance (QEMU refuses)",
        _all(_drop("src=2,dst=3,"), _drop("src=3,dst=2,")),
        _xml("numa-distances"),
    ),
    Breakage(
        "INV-NUMA-DISTANCES",
        LIBVIRT,
        "distances the document does not have",
        _insert("hostdev0", "-numa", "dist,src=0,dst=1,val=30"),
    ),
    Breakage(
        "INV-KEYVAL-REREAD",
        SEED,
        "an extra property on -numa dist",
        _edit("src=0,dst=1,", "val=21", "val=21,x=1"),
        _xml("numa-distances"),
    ),
    Breakage(
        "INV-ORDER-SEED",
        SEED,
        "-numa dist before its node",
        _move("src=0,dst=3,", "nodeid=3"),
        _xml("numa-distances"),
    ),
    Breakage("INV-DEVICES", SEED, "wrong host address", _edit("hostdev0", "12.1", "12.2")),
    Breakage("INV-DEVICES", LIBVIRT, "a device twice", _copy("hostdev1", "hostdev1", "again")),
    Breakage("INV-GI-PAIRS", SEED, "an initiator dropped", _drop("id=gi0")),
    Breakage("INV-GI-PAIRS", SEED, "an initiator repeated", _copy("id=s1", "id=s1", "id=twin")),
    Breakage("INV-ORDER-SEED", SEED, "initiator before devices", _move("id=s1", "hostdev0")),
    Breakage("INV-ORDER-SEED", SEED, "nodes out of order", _move("nodeid=2", "nodeid=1")),
    Breakage("INV-ORDER-SEED", SEED, "backend after its node", _move("ram-node0", "nodeid=1")),
    Breakage(
        "INV-ORDER-SEED", SEED, "devices out of document order", _move("hostdev1", "hostdev0")
    ),
    Breakage("INV-ORDER-LIBVIRT", LIBVIRT, "initiator not after its device", _to_end('"gi0"')),
    Breakage(
        "INV-ORDER-LIBVIRT",
        LIBVIRT,
        "initiators in descending node order",
        _move('"node":3}', '"node":2}'),
        _xml("libvirt-11.8-example"),
    ),
    Breakage(
        "INV-ORDER-LIBVIRT",
        LIBVIRT,
        "seed order under the libvirt profile",
        _all(_to_end('"gi0"'), _to_end('"s1"')),
    ),
]


@pytest.mark.parametrize(
    "breakage", BREAKAGES, ids=[f"{b.expected}:{b.why.replace(' ', '-')}" for b in BREAKAGES]
)
def test_a_broken_argv_is_caught_by_its_invariant(breakage: Breakage) -> None:
    options = _options(breakage.document, breakage.profile)
    assert check_invariants(breakage.document, _flat(options), breakage.profile) == []
    breakage.breaker(options)
    broken = check_invariants(breakage.document, _flat(options), breakage.profile)
    assert breakage.expected in {item.id for item in broken}, [item.text() for item in broken]


def test_every_invariant_can_be_shown_to_fail() -> None:
    assert {b.expected for b in BREAKAGES} == set(invariant_catalogue())


def test_catalogue_and_code_agree() -> None:
    catalogue = invariant_catalogue()
    source = Path(invariants_module.__file__ or "").read_text()
    assert set(re.findall(r'"(INV-[A-Z0-9-]+)"', source)) == set(catalogue)
    for invariant in catalogue.values():
        assert invariant.id.startswith("INV-")
        assert invariant.summary
        assert "\n" not in invariant.summary
    assert {i.id: i.profile for i in catalogue.values() if i.profile} == {
        "INV-ORDER-SEED": "seed",
        "INV-ORDER-LIBVIRT": "libvirt",
    }


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_golden_argvs_keep_every_invariant(case: object) -> None:
    xml = case.xml_path.read_bytes()  # type: ignore[attr-defined]
    domain = parse(xml)
    for profile in Profile:
        path: Path = case.args_path(profile)  # type: ignore[attr-defined]
        argv = read_args_text(path.read_text(encoding="utf-8"))
        assert check_invariants(xml, argv, profile) == []
        assert semantic_facts(argv) == document_facts(domain, profile)


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_the_other_profile_breaks_nothing_but_order(case: object) -> None:
    domain = parse(case.xml_path.read_bytes())  # type: ignore[attr-defined]
    for profile, other in ((SEED, LIBVIRT), (LIBVIRT, SEED)):
        argv = flatten(build_argv(domain, profile))
        assert check_invariants(domain, argv) == []
        assert {b.id for b in check_invariants(domain, argv, other)} <= {
            f"INV-ORDER-{other.upper()}"
        }


def test_foreign_spelling_keeps_every_invariant() -> None:
    """Another implementation's argv: other ids, key=value devices, sizes with units,
    explicit default distances, unrelated options and devices. Meaning is what counts."""
    argv = [
        "-name",
        "guest=t",
        "-machine",
        "q35,accel=kvm",
        "-m",
        "1024",
        "-smp",
        "4",
        "-object",
        "memory-backend-ram,id=mem0,size=1G",
        "-numa",
        "node,nodeid=0,cpus=0,cpus=1-3,memdev=mem0",
        "-numa",
        "node,nodeid=1",
        "-numa",
        json.dumps({"type": "node", "nodeid": 2}),
        "-numa",
        "dist,src=0,dst=1,val=20",
        "-numa",
        "dist,src=0,dst=2,val=20",
        "-numa",
        "dist,src=2,dst=1,val=20",
        "-device",
        "pcie-root-port,port=8,chassis=1,id=pci.1",
        "-device",
        "vfio-pci,host=06:12.1,id=ua-a,bus=pcie.0,addr=0x2",
        "-object",
        "acpi-generic-initiator,id=x0,pci-dev=ua-a,node=1",
        "-device",
        json.dumps({"driver": "vfio-pci", "host": "0000:06:13.1", "id": "ua-b"}),
        "-object",
        json.dumps(
            {"qom-type": "acpi-generic-initiator", "id": "x1", "pci-dev": "ua-b", "node": 2}
        ),
        "-nodefaults",
    ]
    assert check_invariants(BASE, argv) == []
    assert check_invariants(BASE, argv, LIBVIRT) == []
    assert {b.id for b in check_invariants(BASE, argv, SEED)} == {"INV-ORDER-SEED"}


def test_invariants_need_a_valid_document() -> None:
    with pytest.raises(InvalidDocument):
        check_invariants(document(seed("nope", 1)), [])


def test_broken_invariant_text() -> None:
    assert BrokenInvariant("INV-GI-NODE", "node 7", 12).text() == "INV-GI-NODE argv[12]: node 7"
    assert BrokenInvariant("INV-NUMA-NODES", "no node").text() == "INV-NUMA-NODES: no node"


def test_results_come_in_catalogue_order() -> None:
    options = _options(BASE, SEED)
    _all(_to_end("nodeid=1"), _edit("id=s1", "s1", "hostdev0"))(options)
    ids = [b.id for b in check_invariants(BASE, _flat(options), SEED)]
    assert ids == sorted(ids, key=list(invariant_catalogue()).index)
    assert ids[0] == "INV-ID-UNIQUE"


def test_machine_memory_backend_is_no_orphan() -> None:
    """libvirt gives a guest without NUMA ``-machine memory-backend=pc.ram``: not an orphan."""
    text = document(gpu(), cells="none")
    backend = '{"qom-type":"memory-backend-ram","id":"pc.ram","size":1073741824}'
    argv = ["-object", backend, *flatten(build_argv(parse(text), Profile.LIBVIRT))]
    orphan = [b.id for b in check_invariants(text, argv) if b.id == "INV-NUMA-MEMORYLESS"]
    assert orphan == ["INV-NUMA-MEMORYLESS"]
    machine = ["-machine", "pc-q35-11.1,usb=off,memory-backend=pc.ram", *argv]
    assert [b.id for b in check_invariants(text, machine)] == []


def test_node0_with_qemu_placed_vcpus_must_be_its_own_hmat_initiator() -> None:
    """libvirt 12.8's argv for this case (initiator=1 on node 0), which QEMU refuses."""
    text = _xml("hmat-cpus-unassigned-cell0")
    argv = _flat(_options(text, Profile.LIBVIRT))
    assert check_invariants(text, argv, Profile.LIBVIRT) == []
    broken = [arg.replace("nodeid=0,initiator=0", "nodeid=0,initiator=1") for arg in argv]
    assert [b.id for b in check_invariants(text, broken)] == ["INV-HMAT"]
