"""The argv reader: QEMU's two syntaxes, escapes, positions, and errors instead of raising."""

from __future__ import annotations

import json
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gi_conform import Profile, build_argv, flatten, parse, render_args
from gi_conform.argv.facts import NodeFacts, semantic_facts
from gi_conform.argv.options import join_keyval, json_object, read_args_text, split_keyval
from gi_conform.argv.read import (
    Device,
    Form,
    GenericInitiator,
    MemoryBackend,
    normalize_host,
    normalize_sysfsdev,
    read_argv,
)
from gi_conform.corpus import load_cases

ACCEPTED = [case for case in load_cases() if case.accepted]
GI_KEYS = frozenset({"qom-type", "id", "pci-dev", "node"})


def test_keyval_initiator_takes_qom_type_from_the_first_token() -> None:
    reading = read_argv(["-object", "acpi-generic-initiator,id=gi0,pci-dev=hostdev0,node=1"])
    assert reading.initiators == (GenericInitiator(0, "gi0", "hostdev0", 1, Form.KEYVAL, GI_KEYS),)
    assert reading.errors == ()


def test_json_initiator() -> None:
    value = '{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":8}'
    (initiator,) = read_argv(["-object", value]).initiators
    assert (initiator.id, initiator.pci_dev, initiator.node, initiator.form) == (
        "gi0",
        "hostdev0",
        8,
        Form.JSON,
    )


def test_doubled_comma_is_an_escaped_comma() -> None:
    reading = read_argv(["-object", "acpi-generic-initiator,id=a,,b,pci-dev=x,,y,node=0x2"])
    (initiator,) = reading.initiators
    assert (initiator.id, initiator.pci_dev, initiator.node) == ("a,b", "x,y", 2)
    assert reading.errors == ()


def test_disjoint_cpus_repeat_the_key() -> None:
    (node,) = read_argv(["-numa", "node,nodeid=0,cpus=0-3,cpus=8-11,cpus=13"]).numa_nodes
    assert node.cpus == frozenset([0, 1, 2, 3, 8, 9, 10, 11, 13])


def test_unsplit_cpu_list_leaves_a_stray_token() -> None:
    """``cpus=0-3,8-11`` is cpus=0-3 plus a parameter ``8-11`` QEMU does not know."""
    reading = read_argv(["-numa", "node,nodeid=0,cpus=0-3,8-11,memdev=ram-node0"])
    (node,) = reading.numa_nodes
    assert node.cpus == frozenset(range(4))
    assert node.memdev == "ram-node0"
    (error,) = reading.errors
    assert error.stray
    assert "'8-11'" in error.message
    assert error.position == 0


def test_numa_json_form() -> None:
    value = '{"type":"node","nodeid":2,"cpus":[4,5],"memdev":"m"}'
    (node,) = read_argv(["-numa", value]).numa_nodes
    assert (node.nodeid, node.cpus, node.memdev, node.form) == (
        2,
        frozenset({4, 5}),
        "m",
        Form.JSON,
    )


def test_other_numa_types_are_ignored() -> None:
    reading = read_argv(["-numa", "dist,src=0,dst=1,val=20", "-numa", "node,nodeid=0"])
    assert [node.nodeid for node in reading.numa_nodes] == [0]
    assert reading.errors == ()


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ('{"qom-type":"memory-backend-ram","id":"m","size":8589934592}', 8589934592),
        ("memory-backend-ram,id=m,size=8G", 8 << 30),
        ("memory-backend-ram,id=m,size=1024", 1024),
        ("memory-backend-ram,id=m,size=512k", 512 << 10),
        ("memory-backend-ram,id=m,size=0x400", 1024),
        ("memory-backend-file,id=m,size=1M,mem-path=/dev/hugepages", 1 << 20),
    ],
)
def test_backend_sizes(value: str, size: int) -> None:
    (backend,) = read_argv(["-object", value]).backends
    assert isinstance(backend, MemoryBackend)
    assert backend.size == size


def test_devices_in_both_forms() -> None:
    reading = read_argv(
        [
            "-device",
            '{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0","bus":"pcie.0",'
            '"addr":"0x2"}',
            "-device",
            "vfio-pci,sysfsdev=/sys/bus/mdev/devices/AB,id=m0",
            "-device",
            "pcie-root-port,port=8,chassis=1",
        ]
    )
    assert reading.devices == (
        Device(
            0, "hostdev0", "vfio-pci", "0000:06:12.1", None, "pcie.0", "0x2", Form.JSON, devfn=16
        ),
        Device(2, "m0", "vfio-pci", None, "/sys/bus/mdev/devices/AB", None, None, Form.KEYVAL),
        Device(4, None, "pcie-root-port", None, None, None, None, Form.KEYVAL),
    )


def test_positions_are_argv_indexes_and_other_options_are_skipped() -> None:
    argv = [
        "-name",
        "guest=g",
        "-nodefaults",
        "-m",
        "4096",
        "--object",
        "acpi-generic-initiator,id=gi0,pci-dev=d,node=0",
        "-S",
        "-numa",
        "node,nodeid=0",
    ]
    reading = read_argv(argv)
    assert [i.position for i in reading.initiators] == [5]
    assert [n.position for n in reading.numa_nodes] == [8]
    assert reading.errors == ()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-object"], "no value"),
        (["-object", "{"], "not valid JSON"),
        (["-object", "{} and more"], "not valid JSON"),
        (["-object", '{"qom-type":1,"id":"x"}'], "JSON string"),
        (["-object", '{"qom-type":"x"}'], "'id' is missing"),
        (["-object", '{"qom-type":"x","id":"a","id":"b"}'], "duplicate JSON key"),
        (["-object", "acpi-generic-initiator,id=g,pci-dev=d,node=x"], "unsigned integer"),
        (["-object", "acpi-generic-initiator,id=g,pci-dev=d"], "'node' is missing"),
        (
            ["-object", '{"qom-type":"acpi-generic-initiator","id":"g","pci-dev":"d","node":"1"}'],
            "JSON integer",
        ),
        (
            ["-object", '{"qom-type":"acpi-generic-initiator","id":"g","pci-dev":"d","node":true}'],
            "JSON integer",
        ),
        (["-object", "memory-backend-ram,id=m,size=8X"], "not a size"),
        (["-object", "memory-backend-ram,id=m"], "'size' is missing"),
        (["-device", '{"id":"a"}'], "'driver' is missing"),
        (["-numa", "node,nodeid=-1"], "unsigned integer"),
        (["-numa", "node,nodeid=0,cpus=3-1"], "backwards"),
        (["-numa", '{"type":"node","cpus":"0-3"}'], "JSON list"),
        (["-numa", '{"a":' * 100_000 + "1" + "}" * 100_000], "not valid JSON"),
        (["-numa", "node,nodeid=999999999999999999999"], "64 bits"),
    ],
)
def test_unreadable_arguments_become_errors(argv: list[str], needle: str) -> None:
    reading = read_argv(argv)
    assert len(reading.errors) == 1, reading.errors
    assert needle in reading.errors[0].message
    assert not reading.errors[0].stray


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("acpi-generic-initiator,id=a,b,pci-dev=d,node=1", "'b' is a parameter without '='"),
        ("acpi-generic-initiator,id=a,id=b,pci-dev=d,node=1", "'id' given twice"),
        ("acpi-generic-initiator,=a,id=x,pci-dev=d,node=1", "has no key"),
        ("acpi-generic-initiator,id=a,,pci-dev=d,node=1,", "stray ','"),
    ],
)
def test_keyval_tokens_qemu_would_read_otherwise_are_stray(value: str, needle: str) -> None:
    errors = read_argv(["-object", value]).errors
    assert any(error.stray and needle in error.message for error in errors), errors


_FLAGS = st.sampled_from(["-object", "-device", "-numa", "--object", "-m", "-S", "x"])
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "acpi-generic-initiator,id=a,pci-dev=b,node=1",
            "node,nodeid=0,cpus=0-3,memdev=m",
            '{"qom-type":"memory-backend-ram","id":"m","size":1}',
            '{"driver":"vfio-pci","id":"d","host":"06:12.1"}',
            "{",
            ",,,",
            "=",
            "node,cpus=",
        ]
    ),
)


@given(st.lists(st.one_of(_FLAGS, _VALUES), max_size=12))
def test_reader_never_raises(argv: list[str]) -> None:
    reading = read_argv(argv)
    assert all(0 <= error.position < len(argv) for error in reading.errors)
    semantic_facts(reading)


@pytest.mark.parametrize("case", ACCEPTED, ids=[case.id for case in ACCEPTED])
def test_args_text_reads_back_as_the_argv(case: object) -> None:
    domain = parse(case.xml_path.read_bytes())  # type: ignore[attr-defined]
    for profile in Profile:
        expected = flatten(build_argv(domain, profile))
        text = case.args_path(profile).read_text(encoding="utf-8")  # type: ignore[attr-defined]
        assert read_args_text(text) == expected
        assert read_args_text(render_args(build_argv(domain, profile))) == expected


def test_args_text_with_environment_and_binary() -> None:
    text = (
        "LC_ALL=C \\\nPATH=/bin \\\n/usr/bin/qemu-system-x86_64 \\\n-name guest=g \\\n"
        '-object \'{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"h",'
        '"node":1}\'\n'
    )
    argv = read_args_text(text)
    assert argv[:4] == ["LC_ALL=C", "PATH=/bin", "/usr/bin/qemu-system-x86_64", "-name"]
    assert [i.node for i in read_argv(argv).initiators] == [1]


@given(st.text(alphabet=["a", "b", " ", "\t", "'", '"', "\\", "$", "{", ":", "\n", "é"]))
def test_args_text_splits_words_as_shlex_does(text: str) -> None:
    joined = text.replace("\\\n", " ")
    try:
        expected = shlex.split(joined, posix=True)
    except ValueError:
        expected = joined.split()
    assert read_args_text(text) == expected


def test_args_text_with_unbalanced_quote_still_reads() -> None:
    assert read_args_text("-numa node,nodeid=0 \\\n-object '{") == [
        "-numa",
        "node,nodeid=0",
        "-object",
        "'{",
    ]


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("06:12.1", "0000:06:12.1"),
        ("0000:06:12.1", "0000:06:12.1"),
        ("ABCD:FF:1F.7", "abcd:ff:1f.7"),
        ("6:2.0", "0000:06:02.0"),
        ("not-an-address", "not-an-address"),
        ("0000:06:12.8", "0000:06:12.8"),
    ],
)
def test_normalize_host(text: str, normal: str) -> None:
    assert normalize_host(text) == normal


def test_normalize_sysfsdev() -> None:
    uuid = "C2177883-F1BB-47F0-914D-32A22E3A8804"
    assert normalize_sysfsdev(f"/sys/bus/mdev/devices/{uuid}/") == (
        f"/sys/bus/mdev/devices/{uuid.lower()}"
    )
    assert normalize_sysfsdev("/sys/devices/x/") == "/sys/devices/x"


def test_semantic_facts_resolve_memdev_and_devices() -> None:
    argv = [
        "-object",
        "memory-backend-ram,id=big,size=2G",
        "-numa",
        "node,nodeid=0,cpus=0-1,memdev=big",
        "-numa",
        "node,nodeid=1,memdev=gone",
        "-device",
        "vfio-pci,host=06:12.1,id=gpu",
        "-object",
        "acpi-generic-initiator,id=a,pci-dev=gpu,node=1",
        "-object",
        "acpi-generic-initiator,id=b,pci-dev=ghost,node=0",
    ]
    facts = semantic_facts(argv)
    assert facts.nodes == (
        NodeFacts(0, frozenset({0, 1}), 2 << 30),
        NodeFacts(1, frozenset(), None),
    )
    assert facts.initiators == frozenset({("0000:06:12.1", 1), ("id:ghost", 0)})
    assert facts.device_ids == frozenset({"gpu"})


def test_facts_order_repeated_nodes_whatever_their_memory() -> None:
    """Found by the argv fuzz target: a node given twice, once with a memdev that names no
    backend (memory unknown), made the facts compare None with a number."""
    argv = [
        "-object",
        '{"qom-type":"memory-backend-ram","id":"m","size":1048576}',
        "-numa",
        "node,nodeid=0,memdev=m",
        "-numa",
        "node,nodeid=0,memdev=missing",
        "-numa",
        "node,nodeid=0,cpus=1,cpus=0",
    ]
    facts = semantic_facts(argv)
    assert [(n.nodeid, n.memory) for n in facts.nodes] == [(0, 1048576), (0, None), (0, 0)]


def _split_keyval_by_hand(text: str) -> list[str]:
    """QEMU's reading, one character at a time: ``,,`` is a comma, ``,`` ends a part."""
    parts, current, index = [], "", 0
    while index < len(text):
        if text.startswith(",,", index):
            current, index = current + ",", index + 2
        elif text[index] == ",":
            parts, current, index = [*parts, current], "", index + 1
        else:
            current, index = current + text[index], index + 1
    return [*parts, current]


@given(st.text(alphabet=[",", "a", "=", "b", " "]))
def test_split_keyval_reads_commas_left_to_right(text: str) -> None:
    assert split_keyval(text) == _split_keyval_by_hand(text)
    assert split_keyval(join_keyval(split_keyval(text))) == split_keyval(text)


_FLAT_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.none(),
)


@given(st.dictionaries(st.text(), _FLAT_VALUES, max_size=5))
def test_json_object_writes_what_json_dumps_writes(props: dict[str, object]) -> None:
    assert json_object(props) == json.dumps(props, separators=(",", ":"), ensure_ascii=False)
