"""Deliberately wrong implementations: the reference with one realistic bug each.

Each function follows the ``python:MODULE:FUNCTION`` contract (a case in, a protocol run
reply out) so the same bug is reachable in-process, as ``cmd:`` through
``as_command.py`` and as ``jsonl:`` through ``python -m gi_conform.oracle.serve``.
``gi-conform check`` must flag every one of them; ``EXPECTED`` says how, so the tests
can assert the specific kind.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from gi_conform.argv.build import Profile, build_argv, flatten
from gi_conform.document.validate import validate
from gi_conform.oracle.impls import reference_answer

Reply = dict[str, object]
Case = Mapping[str, Any]


def reference(case: Case) -> Reply:
    """Not a mutant: the reference itself, for checking that the harness passes it."""
    return reference_answer(case)


def _accepted_argv(case: Case) -> list[str] | None:
    reply = reference_answer(case)
    argv = reply.get("argv")
    return list(argv) if reply.get("accepted") is True and isinstance(argv, list) else None


def _options(argv: list[str]) -> list[tuple[str, str]]:
    return [(argv[i], argv[i + 1]) for i in range(0, len(argv), 2)]


def _flat(options: list[tuple[str, str]]) -> list[str]:
    return [part for option in options for part in option]


def _is_initiator(option: tuple[str, str]) -> bool:
    return option[0] == "-object" and "acpi-generic-initiator" in option[1]


def _mutate(case: Case, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> Reply:
    argv = _accepted_argv(case)
    if argv is None:
        return reference_answer(case)
    return {"accepted": True, "argv": _flat(change(_options(argv)))}


def drops_last_initiator(case: Case) -> Reply:
    """An off-by-one in the initiator loop: the last initiator is never emitted."""

    def change(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        last = max((i for i, o in enumerate(options) if _is_initiator(o)), default=None)
        return [o for i, o in enumerate(options) if i != last]

    return _mutate(case, change)


_GENERATED_ID = re.compile(r"\b(gi|hostdev)([0-9]+)\b")


def ids_from_one(case: Case) -> Reply:
    """Counts generated ids from 1 (``gi1``, ``hostdev1``) instead of 0."""

    def bump(text: str) -> str:
        return _GENERATED_ID.sub(lambda m: f"{m[1]}{int(m[2]) + 1}", text)

    return _mutate(case, lambda options: [(flag, bump(value)) for flag, value in options])


def accepts_unknown_node(case: Case) -> Reply:
    """Skips the node check: an initiator on a node that is no cell is accepted."""
    report = validate(str(case["xml"]))
    if report.errors and all(v.rule == "GI-NODE-UNKNOWN" for v in report.errors):
        assert report.domain is not None
        argv = flatten(build_argv(report.domain, Profile(str(case["profile"]))))
        return {"accepted": True, "argv": argv}
    return reference_answer(case)


def memoryless_backend(case: Case) -> Reply:
    """Gives every cell a memory backend, memoryless ones a zero-sized one."""

    def change(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for flag, value in options:
            node = re.search(r"nodeid=([0-9]+)", value) if flag == "-numa" else None
            if node is None or not value.startswith("node,") or "memdev=" in value:
                out.append((flag, value))
                continue
            backend = {"qom-type": "memory-backend-ram", "id": f"ram-node{node[1]}", "size": 0}
            out.append(("-object", json.dumps(backend, separators=(",", ":"))))
            out.append((flag, f"{value},memdev=ram-node{node[1]}"))
        return out

    return _mutate(case, change)


def reorders(case: Case) -> Reply:
    """Emits the devices and initiators in reverse order."""

    def change(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        tail = [i for i, o in enumerate(options) if o[0] == "-device" or _is_initiator(o)]
        moved = [options[i] for i in reversed(tail)]
        result = list(options)
        for index, option in zip(tail, moved, strict=True):
            result[index] = option
        return result

    return _mutate(case, change)


def cpus_unsplit(case: Case) -> Reply:
    """Writes a disjoint CPU list as one ``cpus=0-3,8-11``, which QEMU reads differently."""

    def join(value: str) -> str:
        parts = value.split(",")
        cpus = [p[len("cpus=") :] for p in parts if p.startswith("cpus=")]
        if len(cpus) < 2:
            return value
        first = next(i for i, p in enumerate(parts) if p.startswith("cpus="))
        rest = [p for p in parts if not p.startswith("cpus=")]
        rest.insert(first, "cpus=" + ",".join(cpus))
        return ",".join(rest)

    return _mutate(case, lambda options: [(f, join(v) if f == "-numa" else v) for f, v in options])


def crashes(case: Case) -> Reply:
    """Dies on mdev host devices (an unhandled source type)."""
    if "type='mdev'" in str(case["xml"]) or 'type="mdev"' in str(case["xml"]):
        raise NotImplementedError("mdev sources are not supported")
    return reference_answer(case)


def _moved(value: str, named: set[str]) -> str:
    """A vfio-pci ``-device`` an initiator names, one slot further along its bus."""
    device = re.search(r'"id":"([^"]+)"', value)
    addr = re.search(r'"addr":"0x([0-9a-f]+)', value)
    if '"driver":"vfio-pci"' not in value or device is None or device[1] not in named:
        return value
    if addr is None:
        return value
    slot = (int(addr[1], 16) + 1) % 32
    return value[: addr.start(1)] + f"{slot:x}" + value[addr.end(1) :]


def moves_gi_device(case: Case) -> Reply:
    """Puts each initiator's device one slot further than its guest address says (the
    SRAT entry then carries another PCI handle); buses, ids and initiators are kept."""

    def change(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        named = {
            m[1]
            for flag, value in options
            if _is_initiator((flag, value))
            for m in [re.search(r'(?:pci-dev=|"pci-dev":")([^,"]+)', value)]
            if m is not None
        }
        return [(f, _moved(v, named) if f == "-device" else v) for f, v in options]

    return _mutate(case, change)


_NODE = re.compile(r'(node=|"node":)([0-9]+)')
_PCI_DEV = re.compile(r'(?:pci-dev=|"pci-dev":")([^,"]+)')
_GI_ID = re.compile(r'(?:id=|"id":")([^,"]+)')


def string_sorted_nodesets(case: Case) -> Reply:
    """Expands an ``<acpi nodeset>`` in string order: ``8-11`` gives nodes 10, 11, 8, 9,
    so the generated ids (``gi0``...) name other nodes than the reference's."""
    report = validate(str(case["xml"]))
    given = {initiator.id for initiator in report.domain.initiators} if report.domain else set()

    def change(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
        runs: dict[str, list[int]] = {}
        for index, (flag, value) in enumerate(options):
            device, ident = _PCI_DEV.search(value), _GI_ID.search(value)
            if _is_initiator((flag, value)) and device and ident and ident[1] not in given:
                runs.setdefault(device[1], []).append(index)
        out = list(options)
        for indexes in runs.values():
            nodes = [int(m[2]) for i in indexes if (m := _NODE.search(options[i][1]))]
            if len(nodes) != len(indexes):
                continue
            for index, node in zip(indexes, sorted(nodes, key=str), strict=True):
                flag, value = options[index]
                out[index] = (flag, _NODE.sub(lambda m, n=node: f"{m[1]}{n}", value))
        return out

    return _mutate(case, change)


HANG_CELLS = 100


def hangs(case: Case) -> Reply:
    """Loops forever on large topologies (100 cells or more)."""
    if str(case["xml"]).count("<cell") >= HANG_CELLS:
        while True:
            time.sleep(1)
    return reference_answer(case)


MUTANTS: dict[str, Callable[[Case], Reply]] = {
    "drops-last-initiator": drops_last_initiator,
    "ids-from-one": ids_from_one,
    "accepts-unknown-node": accepts_unknown_node,
    "memoryless-backend": memoryless_backend,
    "reorders": reorders,
    "cpus-unsplit": cpus_unsplit,
    "crashes": crashes,
    "hangs": hangs,
    "moves-gi-device": moves_gi_device,
    "string-sorted-nodesets": string_sorted_nodesets,
}
"""Every mutant by its command-line name."""

EXPECTED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "drops-last-initiator": ("failed", "two-gpus-nodeset", ("FACT-GI-PAIRS", "INV-GI-PAIRS")),
    "ids-from-one": ("failed", "two-gpus-nodeset", ("FACT-GI-IDS", "FACT-DEVICE-IDS")),
    "accepts-unknown-node": ("failed", "gi-node-unknown", ("GI-NODE-UNKNOWN",)),
    "memoryless-backend": ("failed", "libvirt-11.8-example", ("INV-NUMA-MEMORYLESS",)),
    "reorders": ("failed", "two-gpus-nodeset", ("INV-ORDER-LIBVIRT",)),
    "cpus-unsplit": ("failed", "disjoint-cpus", ("INV-KEYVAL-REREAD", "INV-NUMA-CPUS")),
    "crashes": ("errored", "mdev-nodeset", ("crash",)),
    "hangs": ("errored", "cells-128", ("timeout",)),
    "moves-gi-device": ("failed", "libvirt-11.8-example", ("FACT-DEVICE-PLACE",)),
    "string-sorted-nodesets": ("failed", "digits-second-gpu-9-16", ("FACT-GI-IDS",)),
}
"""Mutant -> (outcome, a corpus case that shows it, keys or error kind it must show)."""
