"""The property suite (issue 3): generated documents against the whole pipeline.

Runs under the Hypothesis profiles of ``conftest.py``: ``dev`` (default), ``ci``
(derandomized; ``CI=true``) and ``fuzz`` (``tox -e fuzz``, many examples). Every test here
is a HypoFuzz target as it stands, and ``test.hypothesis.fuzz_one_input`` drives any of
them from raw bytes.

Bugs this suite found in the reference are kept in ``FIXED_BUGS`` with their smallest
reproducer, each a regression test that must keep the documented contract in little memory.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gi_conform import (
    Dialect,
    Domain,
    Initiator,
    Profile,
    build_argv,
    flatten,
    format_xml,
    parse,
    render_args,
    validate,
)
from gi_conform.argv.build import default_profile, device_ids
from gi_conform.argv.facts import document_facts, semantic_facts
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import read_args_text
from gi_conform.document.parse import MAX_DOCUMENT_BYTES
from gi_conform.fuzz import fuzz_one_input
from gi_conform.strategies import (
    MUTATED_RULES,
    domain_documents,
    hostile_documents,
    invalid_documents,
    renderings,
    topologies,
)

_DEFAULT = settings.default
SLOW_INPUT_SECONDS = 10.0
"""No single input may take longer (generous: a loaded CI machine, Hypothesis overhead)."""


@dataclass(frozen=True)
class FixedBug:
    """A bug the properties found, with the smallest input that showed it."""

    name: str
    reproducer: bytes


_GPU = (
    b"<domain><vcpu>1</vcpu><cpu><numa><cell id='0' cpus='0' memory='1024'/></numa></cpu>"
    b"<devices><hostdev mode='subsystem' type='pci'><source>"
    b"<address domain='0' bus='%s' slot='0' function='0'/></source></hostdev></devices></domain>"
)

FIXED_BUGS = (
    FixedBug(
        "parse: PCI address numbers go through Python's int(): '-1' and '1_0' are accepted",
        _GPU % b"-1",
    ),
    FixedBug(
        "validate: NUMA-CELL-ID-NONCONTIGUOUS builds set(range(max id + 1)): 100 bytes with "
        "id='999999999' exhaust memory",
        b"<domain><cpu><numa><cell id='0' memory='1'/><cell id='300000' memory='0'/></numa>"
        b"</cpu></domain>",
    ),
    FixedBug(
        "xmlfmt: a carriage return (&#13;) is written raw and comes back as a newline or space",
        b"<domain><name>a&#13;b</name></domain>",
    ),
    FixedBug(
        "xmlfmt: an empty attribute value is dropped: type='' comes back as 'kvm'",
        b"<domain type=''><name>x</name></domain>",
    ),
)


@pytest.mark.parametrize("bug", FIXED_BUGS, ids=[bug.name.split(":")[0] for bug in FIXED_BUGS])
def test_fixed_bug_reproducers_keep_the_contract(bug: FixedBug) -> None:
    """Each reproducer is a tiny document: it must pass the contract in little memory."""
    tracemalloc.start()
    try:
        fuzz_one_input(bug.reproducer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB for {len(bug.reproducer)} bytes"


@given(st.data())
def test_valid_documents_are_accepted_and_their_argv_keeps_every_invariant(
    data: st.DataObject,
) -> None:
    domain = data.draw(topologies(), label="topology")
    text = data.draw(renderings(domain), label="document")
    report = validate(text)
    assert report.accepted, report.text()
    assert report.domain == domain
    for profile in Profile:
        argv = flatten(build_argv(domain, profile))
        assert check_invariants(domain, argv, profile) == []


@given(invalid_documents())
def test_invalid_documents_break_exactly_their_rule(pair: tuple[str, str]) -> None:
    text, rule = pair
    report = validate(text)
    assert not report.accepted
    assert {violation.rule for violation in report.errors} == {rule}, report.text()


@pytest.mark.parametrize("rule", sorted(MUTATED_RULES))
@settings(max_examples=max(3, (_DEFAULT.max_examples if _DEFAULT else 100) // 10))
@given(data=st.data())
def test_each_rule_mutation_is_rejected_with_its_rule(rule: str, data: st.DataObject) -> None:
    text, drawn = data.draw(invalid_documents(rule))
    assert drawn == rule
    assert {violation.rule for violation in validate(text).errors} == {rule}


@given(topologies())
def test_xml_round_trip(domain: Domain) -> None:
    text = format_xml(domain)
    assert parse(text) == domain
    assert format_xml(parse(text)) == text


@given(domain_documents())
def test_format_is_idempotent_on_varied_documents(text: str) -> None:
    canonical = format_xml(parse(text))
    assert format_xml(parse(canonical)) == canonical


@given(topologies())
def test_both_profiles_mean_the_same(domain: Domain) -> None:
    """Both profiles mean the same; only the device names, and the place of a device without
    a guest address (libvirt's, or QEMU's in the seed profile), may differ.

    An iommufd device has no host address in the argv: its pairs name it by id, so its
    profile's id is mapped back to the hostdev's alias before comparing. The PCI paths
    the seed profile shows (devices on the root bus) are a subset of libvirt's."""
    facts = {p: semantic_facts(flatten(build_argv(domain, p))) for p in Profile}
    for profile, found in facts.items():
        assert found == document_facts(domain, profile)

    assert replace(
        facts[Profile.SEED],
        device_ids=frozenset(),
        initiators=_by_alias(domain, Profile.SEED, facts[Profile.SEED].initiators),
    ) == replace(
        facts[Profile.LIBVIRT],
        device_ids=frozenset(),
        initiators=_by_alias(domain, Profile.LIBVIRT, facts[Profile.LIBVIRT].initiators),
        paths=facts[Profile.SEED].paths,
        places=facts[Profile.SEED].places,
    )
    seed_paths, libvirt_paths = (
        {(_alias_of(domain, p, key), path) for key, path in facts[p].paths}
        for p in (Profile.SEED, Profile.LIBVIRT)
    )
    assert seed_paths <= libvirt_paths
    # the same bus and slot in both, though the seed profile writes no path to the bus
    seed_places, libvirt_places = (
        {(_alias_of(domain, p, key), place.bus, place.devfn) for key, place in facts[p].places}
        for p in (Profile.SEED, Profile.LIBVIRT)
    )
    # libvirt's profile also places the devices without a guest address (issue 23);
    # the seed profile leaves them to QEMU
    assert seed_places <= libvirt_places
    unaddressed = sum(1 for h in domain.hostdevs if h.in_guest and h.guest_address is None)
    assert len(libvirt_places - seed_places) <= unaddressed


def _alias_of(domain: Domain, profile: Profile, key: str) -> str:
    """A device key with an iommufd device's ``id:ID`` mapped back to its alias."""
    alias = {f"id:{v}": f"id:{k}" for k, v in device_ids(domain, profile).items()}
    return alias.get(key, key)


def _by_alias(
    domain: Domain, profile: Profile, pairs: frozenset[tuple[str, int]]
) -> frozenset[tuple[str, int]]:
    """Pairs with an iommufd device's ``id:ID`` (the profile's name) mapped back to the
    hostdev's alias: the one part of the meaning that depends on the names."""
    alias = {f"id:{v}": f"id:{k}" for k, v in device_ids(domain, profile).items()}
    return frozenset((alias.get(key, key), node) for key, node in pairs)


def _all_libvirt(domain: Domain) -> Domain:
    """The same initiators, every one written as a nodeset."""
    extra: dict[str, set[int]] = {}
    for initiator in domain.initiators:
        assert initiator.device is not None
        assert initiator.node is not None
        extra.setdefault(initiator.device, set()).add(initiator.node)
    hostdevs = tuple(
        replace(h, nodeset=tuple(sorted({*(h.nodeset or ()), *extra.get(h.alias, ())})) or None)
        for h in domain.hostdevs
    )
    return replace(domain, hostdevs=hostdevs, initiators=())


def _all_seed(domain: Domain) -> Domain:
    """The same initiators, every one written as a seed element."""
    used = {h.alias for h in domain.hostdevs} | {i.id for i in domain.initiators}
    initiators = list(domain.initiators)
    number = 0
    for hostdev in domain.hostdevs:
        for node in hostdev.nodeset or ():
            while f"ua-seed{number}" in used:
                number += 1
            used.add(f"ua-seed{number}")
            initiators.append(Initiator(f"ua-seed{number}", hostdev.alias, node, Dialect.SEED))
    hostdevs = tuple(replace(h, nodeset=None) for h in domain.hostdevs)
    return replace(domain, hostdevs=hostdevs, initiators=tuple(initiators))


@given(topologies())
def test_both_dialects_mean_the_same(domain: Domain) -> None:
    """One topology written all-seed and all-libvirt: same nodes, same (device, node) pairs."""
    meanings = []
    for variant in (_all_seed(domain), _all_libvirt(domain)):
        text = format_xml(variant)
        model = parse(text)
        for profile in Profile:
            facts = semantic_facts(flatten(build_argv(model, profile)))
            pairs = _by_source(model, profile, facts.initiators)
            meanings.append((facts.nodes, pairs, facts.distances))
    expected = document_facts(domain)
    pairs = _by_source(domain, default_profile(domain), expected.initiators)
    assert set(meanings) == {(expected.nodes, pairs, expected.distances)}


def _by_source(
    domain: Domain, profile: Profile, pairs: frozenset[tuple[str, int]]
) -> frozenset[tuple[str, int]]:
    """Pairs with an iommufd device's ``id:ID`` mapped to its host address: a generated
    alias changes with the dialect (a seed element may hold ``hostdev1``), the source not."""
    ids = device_ids(domain, profile)
    source = {f"id:{ids[h.alias]}": str(h.source) for h in domain.hostdevs}
    return frozenset((source.get(key, key), node) for key, node in pairs)


@given(topologies(max_cells=16))
def test_args_text_reads_back_as_the_argv(domain: Domain) -> None:
    for profile in Profile:
        options = build_argv(domain, profile)
        assert read_args_text(render_args(options)) == flatten(options)


@given(hostile_documents())
def test_hostile_inputs_have_only_documented_outcomes(data: bytes) -> None:
    start = time.perf_counter()
    fuzz_one_input(data)
    assert time.perf_counter() - start < SLOW_INPUT_SECONDS


def _cells(count: int) -> bytes:
    body = "".join(f"<cell id='{i}' cpus='{i}' memory='1'/>" for i in range(count))
    return f"<domain><vcpu>{count}</vcpu><cpu><numa>{body}</numa></cpu></domain>".encode()


def _initiators(count: int) -> bytes:
    hostdevs = "".join(
        "<hostdev mode='subsystem' type='pci'><source>"
        f"<address domain='{i >> 8}' bus='{i & 255}' slot='0' function='0'/></source>"
        "<acpi nodeset='0-127'/></hostdev>"
        for i in range(count)
    )
    cells = "".join(f"<cell id='{i}' memory='{1 if i == 0 else 0}'/>" for i in range(128))
    return f"<domain><cpu><numa>{cells}</numa></cpu><devices>{hostdevs}</devices></domain>".encode()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("data", "megabytes"),
    [
        pytest.param(b"<domain>" + b" " * MAX_DOCUMENT_BYTES + b"</domain>", 64, id="over-4MiB"),
        pytest.param(
            b"<domain>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</domain>", 64, id="deep"
        ),
        pytest.param(_cells(16_500), 256, id="16500-cells"),
        pytest.param(_initiators(100), 256, id="12800-initiators"),
    ],
)
def test_big_inputs_stay_bounded(data: bytes, megabytes: int) -> None:
    """Memory and time stay bounded on the largest inputs the limits let through."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fuzz_one_input(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 4 * SLOW_INPUT_SECONDS
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MiB"
