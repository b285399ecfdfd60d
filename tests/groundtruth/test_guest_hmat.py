"""HMAT access classes: the rule Linux 6.1 follows, checked on recorded x86 guest
reports (``gi-conform guest --keep-logs``; QEMU 10.0.2, Debian's 6.1.0-50 kernel)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gi_conform import Domain, Profile, parse
from gi_conform.groundtruth.guest import GuestView, read_guest_view
from gi_conform.groundtruth.guest_checks import (
    ExpectedAccess,
    compare_guest,
    expected_access,
    guest_tables,
    memory_initiators,
)
from gi_conform.groundtruth.serial import read_frames
from gi_conform.resources import cases_dir
from tests.helpers import document, gpu

RECORDED = Path(__file__).parent / "recorded"


def _recorded(name: str) -> GuestView:
    return read_guest_view(read_frames((RECORDED / f"{name}.console.log").read_text()))


def _gi_initiator() -> tuple[Domain, GuestView]:
    domain = parse((cases_dir() / "hmat-gi-initiator.xml").read_bytes())
    return domain, _recorded("hmat-gi-initiator")


def _access_checks(domain: Domain, view: GuestView) -> dict[str, bool]:
    return {
        c.entry: c.ok
        for c in compare_guest(domain, Profile.LIBVIRT, view)
        if c.entry.startswith("cell ") and " access" in c.entry
    }


def _with_access(view: GuestView, node: int, **changes: object) -> GuestView:
    """The view with node ``node``'s access0 changed (a forged kernel)."""
    nodes = tuple(
        dataclasses.replace(
            n,
            access=tuple(
                dataclasses.replace(a, **changes) if a.access == 0 else a  # type: ignore[arg-type]
                for a in n.access
            ),
        )
        if n.node == node
        else n
        for n in view.nodes
    )
    return dataclasses.replace(view, nodes=nodes)


def test_each_memory_cell_is_reached_by_its_own_cpus_only() -> None:
    """The GI's interconnect to cell 0 is ignored: QEMU names cell 0 as its memory's
    initiator, so the kernel never searches the localities for a best initiator."""
    domain, view = _gi_initiator()
    initiators = memory_initiators(domain, guest_tables(view).hmat)
    assert initiators == {0: 0, 1: 1}
    assert expected_access(domain, initiators) == {
        0: ExpectedAccess(0, 0, 5, 5, 200, 200),
        1: ExpectedAccess(1, 1, 0, 0, 0, 0),
    }


def test_the_recorded_guest_passes() -> None:
    domain, view = _gi_initiator()
    checks = _access_checks(domain, view)
    assert checks == {
        "cell 0 (guest node 0) access0": True,
        "cell 0 (guest node 0) access1": True,
        "cell 1 (guest node 1) access0": True,
        "cell 1 (guest node 1) access1": True,
        "cell 2 (guest node 2) access classes": True,
        "cell 3 (guest node 3) access classes": True,
    }


def test_a_wrong_initiator_fails() -> None:
    domain, view = _gi_initiator()
    checks = _access_checks(domain, _with_access(view, 0, initiators=frozenset({0, 2})))
    assert [entry for entry, ok in checks.items() if not ok] == ["cell 0 (guest node 0) access0"]


def test_a_wrong_latency_fails() -> None:
    domain, view = _gi_initiator()
    checks = _access_checks(domain, _with_access(view, 0, read_latency=20))
    assert [entry for entry, ok in checks.items() if not ok] == ["cell 0 (guest node 0) access0"]


def test_a_class_on_a_gi_node_fails() -> None:
    domain, view = _gi_initiator()
    (node1,) = [n for n in view.nodes if n.node == 1]
    forged = dataclasses.replace(
        view,
        nodes=tuple(
            dataclasses.replace(n, access=node1.access) if n.node == 2 else n for n in view.nodes
        ),
    )
    checks = _access_checks(domain, forged)
    assert [entry for entry, ok in checks.items() if not ok] == [
        "cell 2 (guest node 2) access classes"
    ]


def test_a_later_read_structure_overwrites_an_access_value() -> None:
    """Measured: access latency 0->0 of 10 ns plus a read latency 0->1 gives node 0 read
    latency 0 (the read structure's 0->0 entry is 0) and write latency 10."""
    domain = parse((RECORDED / "hmat-override.xml").read_bytes())
    view = _recorded("hmat-override")
    assert expected_access(domain, {0: 0, 1: 1}) == {
        0: ExpectedAccess(0, 0, 0, 10, 0, 0),
        1: ExpectedAccess(1, 1, 0, 0, 100, 50),
    }
    assert all(_access_checks(domain, view).values())


def test_without_hmat_no_classes_are_expected() -> None:
    domain = parse(document(gpu("<acpi nodeset='1-2'/>")))
    assert not domain.uses_hmat
    assert expected_access(domain, {0: 0}) == {}
