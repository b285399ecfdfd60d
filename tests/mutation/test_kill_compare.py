"""Kills mutmut's surviving mutants of :mod:`gi_conform.oracle.compare` (README "Mutation
testing"): one wrong answer per fact, the failure's text pinned, since the text is what an
implementer reads - a missing node named as missing, an unreadable memdev as ``unknown``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from gi_conform.oracle.compare import compare, gi_subset
from gi_conform.oracle.model import Answer, CheckCase, Failure, FailureKind, Verdict
from gi_conform.rules import Severity, catalogue
from tests.helpers import corpus_case

HOST = "0009:01:00.0"


def _accepted(case: CheckCase, edit: Callable[[list[str]], list[str]]) -> list[Failure]:
    argv = edit(list(case.expectation.argv))
    assert argv != list(case.expectation.argv)
    failures, _ = compare(case, Answer(Verdict.ACCEPTED, argv=tuple(argv)))
    return failures


def _messages(failures: list[Failure], key: str) -> list[str]:
    assert all(f.kind is FailureKind.FACT for f in failures if f.key.startswith("FACT-"))
    return [f.message for f in failures if f.key == key]


def _without_option(argv: list[str], value: str) -> list[str]:
    i = argv.index(value)
    return argv[: i - 1] + argv[i + 1 :]


def test_a_missing_node_is_named_with_what_it_should_hold() -> None:
    failures = _accepted(corpus_case("seed-example"), lambda a: _without_option(a, "node,nodeid=8"))
    assert _messages(failures, "FACT-NUMA-NODES") == ["node 8 missing (cpus none, memory 0)"]
    # an invariant without a place has no argv[] prefix; one with a place has it
    assert "no -numa node for cell(s) 8" in _messages(failures, "INV-NUMA-NODES")
    assert any(m.startswith("argv[") for m in _messages(failures, "INV-GI-NODE"))


def test_an_extra_node_is_named_as_no_cell() -> None:
    failures = _accepted(corpus_case("seed-example"), lambda a: [*a, "-numa", "node,nodeid=9"])
    assert _messages(failures, "FACT-NUMA-NODES") == ["node 9 is not a cell (cpus none, memory 0)"]


def test_a_node_whose_memdev_is_missing_has_unknown_memory() -> None:
    def drop_backend(argv: list[str]) -> list[str]:
        (backend,) = [a for a in argv if '"id":"ram-node0"' in a]
        return _without_option(argv, backend)

    failures = _accepted(corpus_case("seed-example"), drop_backend)
    assert _messages(failures, "FACT-NUMA-NODES") == [
        "node 0: cpus 0-15, memory unknown, expected cpus 0-15, memory 8589934592"
    ]


def test_another_host_device_under_the_same_ids_is_named_per_id() -> None:
    failures = _accepted(
        corpus_case("seed-example"), lambda a: [t.replace(HOST, "0009:01:00.1") for t in a]
    )
    assert _messages(failures, "FACT-DEVICE-IDS") == [
        f"device id 'hostdev0' is 0009:01:00.1, expected {HOST}"
    ]
    assert _messages(failures, "FACT-GI-IDS") == [
        f"initiator id 'gi{n}' is (0009:01:00.1, node {n}), expected ({HOST}, node {n})"
        for n in range(1, 9)
    ]


def test_a_renamed_device_is_missing_under_one_id_and_unexpected_under_the_other() -> None:
    failures = _accepted(
        corpus_case("seed-example"), lambda a: [t.replace("hostdev0", "hostdevX") for t in a]
    )
    assert _messages(failures, "FACT-DEVICE-IDS") == [
        f"device id 'hostdev0' missing (expected {HOST})",
        f"unexpected device id 'hostdevX' ({HOST})",
    ]


def test_a_device_without_id_is_missing_and_its_initiators_name_the_id() -> None:
    failures = _accepted(
        corpus_case("seed-example"), lambda a: [t.replace(',"id":"hostdev0"', "") for t in a]
    )
    assert _messages(failures, "FACT-DEVICE-IDS") == [
        f"device id 'hostdev0' missing (expected {HOST})"
    ]
    assert _messages(failures, "FACT-GI-IDS")[0] == (
        f"initiator id 'gi1' is (id:hostdev0, node 1), expected ({HOST}, node 1)"
    )


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("  first line\nsecond line\n", "first line"),
        ("", "(no message)"),
        (" \n ", "(no message)"),
        ("x" * 300, "x" * 200),
    ],
)
def test_a_wrong_rejection_quotes_the_first_line_of_its_message(message: str, shown: str) -> None:
    failures, diff = compare(corpus_case("seed-example"), Answer(Verdict.REJECTED, message=message))
    assert [(f.kind, f.message) for f in failures] == [
        (FailureKind.VERDICT, f"rejected a document the reference accepts: {shown}")
    ]
    assert diff == ""


def test_unknown_and_warning_rule_ids_are_not_reported_rules() -> None:
    warning = next(r for r, rule in catalogue().items() if rule.severity is not Severity.ERROR)
    answer = Answer(Verdict.REJECTED, message="x", rules=("GI-NODE-UNKNOWN", "NOT-A-RULE", warning))
    assert compare(corpus_case("gi-node-unknown"), answer, messages=True) == ([], "")


def test_another_host_device_leaves_pairs_missing_and_extra() -> None:
    failures = _accepted(
        corpus_case("seed-example"), lambda a: [t.replace(HOST, "0009:01:00.1") for t in a]
    )
    assert _messages(failures, "FACT-GI-PAIRS") == [
        *(f"no initiator for ({HOST}, node {n})" for n in range(1, 9)),
        *(f"extra initiator (0009:01:00.1, node {n})" for n in range(1, 9)),
    ]


ON_ROOT = '"bus":"pcie.0","addr":"0x2"'


def test_a_device_on_a_bus_the_argv_does_not_build_is_not_traceable() -> None:
    failures = _accepted(
        corpus_case("disjoint-cpus"),
        lambda a: [t.replace(ON_ROOT, '"bus":"pci.1","addr":"0x0"') for t in a],
    )
    assert _messages(failures, "FACT-PCI-PATH") == [
        "PCI path of 0000:06:12.1 is not traceable to a root bus in the argv, expected pcie.0"
    ]


def test_a_device_moved_behind_a_root_port_names_both_paths() -> None:
    port = (
        '{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0","addr":"0x1"}'
    )

    def move(argv: list[str]) -> list[str]:
        moved = [t.replace(ON_ROOT, '"bus":"pci.1","addr":"0x0"') for t in argv]
        return ["-device", port, *moved]

    failures = _accepted(corpus_case("disjoint-cpus"), move)
    assert _messages(failures, "FACT-PCI-PATH") == [
        "PCI path of 0000:06:12.1 is pcie.0 > pcie-root-port, expected pcie.0"
    ]


def test_a_device_without_initiators_does_not_stop_the_path_check_of_the_next() -> None:
    def drop_first_and_move_second(argv: list[str]) -> list[str]:
        pairs = [(argv[i], argv[i + 1]) for i in range(0, len(argv), 2)]
        kept = [(flag, value) for flag, value in pairs if '"pci-dev":"hostdev0"' not in value]
        moved = '"bus":"pci.1","addr":"0x0"'
        return [t.replace('"bus":"pcie.0","addr":"0x3"', moved) for pair in kept for t in pair]

    failures = _accepted(corpus_case("two-gpus-nodeset"), drop_first_and_move_second)
    assert _messages(failures, "FACT-PCI-PATH") == [
        "PCI path of 0000:42:00.0 is not traceable to a root bus in the argv, expected pcie.0"
    ]


def test_gi_subset_keeps_host_devices_and_iommufd_and_leaves_other_options_out() -> None:
    iommufd = '{"qom-type":"iommufd","id":"iommufd0"}'
    host = '{"driver":"vfio-pci","host":"0000:01:00.0","id":"hostdev0"}'
    argv = [
        "qemu",
        "-object",
        iommufd,
        "-object",
        '{"qom-type":"secret","id":"s0","data":"x"}',
        "-device",
        '{"driver":"virtio-net-pci","id":"net0"}',
        "-device",
        host,
        "-m",
        "1G",
    ]
    assert gi_subset(argv) == [("-object", iommufd), ("-device", host)]


@pytest.mark.parametrize("flag", ["-numa", "--numa"])
def test_gi_subset_keeps_every_numa_option_the_reader_has_no_node_for(flag: str) -> None:
    argv = ["qemu", flag, "dist,src=0,dst=1,val=20", flag, "bogus"]
    assert gi_subset(argv) == [(flag, "dist,src=0,dst=1,val=20"), (flag, "bogus")]


SWAPPED = ("cpus=0-3,cpus=8-11", "cpus=8-11,cpus=0-3")
DIFF = """\
--- expected ({source})
+++ actual
@@ -1,4 +1,4 @@
 -object '{{"qom-type":"memory-backend-ram","id":"ram-node0","size":4294967296}}'
--numa node,nodeid=0,cpus=0-3,cpus=8-11,memdev=ram-node0
+-numa node,nodeid=0,cpus=8-11,cpus=0-3,memdev=ram-node0
 -object '{{"qom-type":"memory-backend-ram","id":"ram-node1","size":4294967296}}'
 -numa node,nodeid=1,cpus=4-7,cpus=12-15,memdev=ram-node1
"""


def _swapped(case: CheckCase) -> Answer:
    return Answer(Verdict.ACCEPTED, argv=tuple(a.replace(*SWAPPED) for a in case.expectation.argv))


@pytest.mark.parametrize(
    ("golden_name", "source", "diff_source"),
    [
        ("disjoint-cpus.libvirt.args", "disjoint-cpus.libvirt.args", "disjoint-cpus.libvirt.args"),
        ("", "the reference argv", "reference"),
    ],
)
def test_a_strict_difference_counts_its_lines_and_shows_a_unified_diff(
    golden_name: str, source: str, diff_source: str
) -> None:
    case = dataclasses.replace(corpus_case("disjoint-cpus"), golden_name=golden_name)
    failures, diff = compare(case, _swapped(case), strict=True)
    assert [(f.kind, f.key, f.message) for f in failures] == [
        (
            FailureKind.STRICT,
            "STRICT-ARGV",
            f"argv differs from {source} (2 line(s) added or removed)",
        )
    ]
    assert diff == DIFF.format(source=diff_source)


def test_a_spelling_difference_alone_is_no_failure_and_no_diff() -> None:
    case = corpus_case("disjoint-cpus")
    assert compare(case, _swapped(case)) == ([], "")


def test_strict_compares_with_the_golden_file_not_the_reference_argv() -> None:
    case = corpus_case("disjoint-cpus")
    golden = tuple(a.replace(*SWAPPED) for a in case.expectation.argv)
    case = dataclasses.replace(case, golden=golden, golden_name="other.args")
    answer = Answer(Verdict.ACCEPTED, argv=case.expectation.argv)
    failures, _ = compare(case, answer, strict=True)
    assert [f.message for f in failures] == [
        "argv differs from other.args (2 line(s) added or removed)"
    ]


def test_verdict_and_message_failures_say_which_rule() -> None:
    case = corpus_case("gi-node-unknown")
    assert compare(case, Answer(Verdict.ACCEPTED)) == (
        [
            Failure(
                FailureKind.VERDICT,
                "GI-NODE-UNKNOWN",
                "accepted a document the reference rejects with GI-NODE-UNKNOWN",
            )
        ],
        "",
    )
    other = next(
        r
        for r, rule in catalogue().items()
        if rule.severity is Severity.ERROR and r != "GI-NODE-UNKNOWN"
    )
    answer = Answer(Verdict.REJECTED, rules=(other,))
    assert compare(case, answer, messages=True) == (
        [
            Failure(FailureKind.MESSAGES, "GI-NODE-UNKNOWN", "did not report GI-NODE-UNKNOWN"),
            Failure(FailureKind.MESSAGES, other, f"reported {other}, which the reference does not"),
        ],
        "",
    )


def test_an_errored_answer_is_not_compared() -> None:
    with pytest.raises(ValueError, match=r"^cannot compare a errored answer$"):
        compare(corpus_case("gi-node-unknown"), Answer(Verdict.ERRORED))


def test_gi_subset_gives_a_trailing_option_an_empty_value() -> None:
    assert gi_subset(["qemu", "-numa"]) == [("-numa", "")]


def test_the_case_profile_adds_its_order_invariant() -> None:
    def node_last(argv: list[str]) -> list[str]:
        return [*_without_option(argv, "node,nodeid=1"), "-numa", "node,nodeid=1"]

    failures = _accepted(corpus_case("seed-example"), node_last)
    assert "INV-ORDER-SEED" in {f.key for f in failures}
