"""Kills mutmut's surviving mutants of :mod:`gi_conform.argv` (README "Mutation testing",
a 60-mutant sample): what the reader records for an option it cannot read, and how a
rewriter tells JSON from keyval."""

from __future__ import annotations

from collections.abc import Callable

from gi_conform.argv.invariants import BrokenInvariant, check_invariants
from gi_conform.argv.options import OptionValue
from gi_conform.argv.read import Form, ReadError, read_argv
from gi_conform.oracle.cases import corpus_cases


def test_a_stray_keyval_token_is_recorded_with_its_option_and_value() -> None:
    value = "vfio-pci,host=0000:01:00.0,id=h,x"
    assert read_argv(["-device", value]).errors == (
        ReadError(
            0,
            "-device",
            value,
            "'x' is a parameter without '=' (an unescaped comma?)",
            Form.KEYVAL,
            stray=True,
        ),
    )


def test_unreadable_json_is_recorded_as_json() -> None:
    (error,) = read_argv(["-object", "{bad"]).errors
    assert (error.position, error.flag, error.value, error.form, error.stray) == (
        0,
        "-object",
        "{bad",
        Form.JSON,
        False,
    )


def test_a_rewriter_reads_json_after_blanks_as_json() -> None:
    option = OptionValue.read(' {"driver":"vfio-pci","id":"h"}', "driver")
    assert option == OptionValue({"driver": "vfio-pci", "id": "h"}, True, "driver")
    assert OptionValue.read("[1]", "driver") == OptionValue({"driver": "[1]"}, False, "driver")
    assert OptionValue.read(" [1", "driver") == OptionValue({"driver": " [1"}, False, "driver")


def _broken(case_id: str, edit: Callable[[list[str]], list[str]]) -> list[BrokenInvariant]:
    (case,) = corpus_cases(patterns=[case_id])
    argv = edit(list(case.expectation.argv))
    return check_invariants(case.expectation.domain, read_argv(argv), case.profile)


def test_a_node_missing_vcpus_names_them_where_it_is() -> None:
    broken = _broken(
        "disjoint-cpus", lambda a: [t.replace("cpus=0-3,cpus=8-11", "cpus=0-3") for t in a]
    )
    assert BrokenInvariant("INV-NUMA-CPUS", "node 0: missing vCPU 8-11", 2) in broken


def test_a_device_before_the_numa_section_ends_is_named_where_it_is() -> None:
    broken = _broken("seed-example", lambda a: [*a, "-numa", "node,nodeid=9"])
    assert (
        BrokenInvariant(
            "INV-ORDER-SEED", "-device 'hostdev0' comes before the NUMA section ends", 20
        )
        in broken
    )


def test_an_initiator_naming_no_device_id_is_named_where_it_is() -> None:
    broken = _broken("seed-example", lambda a: [t.replace(',"id":"hostdev0"', "") for t in a])
    assert (
        BrokenInvariant(
            "INV-GI-DEVICE", "initiator 'gi1': pci-dev 'hostdev0' is not a -device id", 22
        )
        in broken
    )
