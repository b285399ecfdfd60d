"""The kernel matrix: every accepted case booted on each kit kernel and architecture, and a
table of where the kernels' views differ.

    python -m gi_conform.groundtruth.guest_matrix [--arch A] [--kernel NAME] [--case GLOB]
        [--out FILE]        (tox -e guest-matrix)

A kernel is an implementation too: the same tables can give different node sets, HMAT
access classes or device nodes. Per case and architecture the guest's facts (verdict,
``online``, ``has_generic_initiator``, each node's access classes, each PCI function's
``numa_node``) are collected per kernel; a row is written only where kernels disagree.
A kernel that cannot hold the document's nodes is not booted (its verdict says so).
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gi_conform.argv.build import default_profile
from gi_conform.bitmap import format_bitmap
from gi_conform.corpus import load_cases
from gi_conform.document.validate import parse
from gi_conform.groundtruth.guest import (
    ARCHITECTURES,
    GuestView,
    boot_guest,
    not_applicable,
    read_guest_view,
)
from gi_conform.groundtruth.guest_checks import compare_guest, node_capacity
from gi_conform.groundtruth.guest_setup import kernels, locate_kit
from gi_conform.groundtruth.qemu import QemuRefused, QemuTimeout

__all__ = ["Difference", "differences", "main", "render", "view_facts"]


@dataclass(frozen=True)
class Difference:
    """One fact of one case on one architecture, as each kernel showed it."""

    case: str
    arch: str
    fact: str
    values: tuple[tuple[str, str], ...]


def _set(values: frozenset[int]) -> str:
    return format_bitmap(values) if values else "none"


def view_facts(view: GuestView) -> dict[str, str]:
    """The facts kernels may disagree on, as short texts."""
    facts = {
        "online": _set(view.online),
        "has_generic_initiator": _set(view.has_generic_initiator),
    }
    access = [
        f"n{node.node}:a{a.access}<-{_set(a.initiators)}"
        for node in view.nodes
        for a in node.access
    ]
    facts["HMAT access classes"] = " ".join(access) or "none"
    placed = [f"{p.address[5:]}={p.numa_node}" for p in view.pci if p.numa_node >= 0]
    facts["PCI numa_node"] = " ".join(placed) or "none"
    return facts


def differences(case: str, arch: str, seen: Mapping[str, Mapping[str, str]]) -> list[Difference]:
    """The facts of ``seen`` (kernel -> fact -> value) whose values differ among the
    kernels that report them (a kernel not booted differs in its verdict only)."""
    names = sorted({fact for facts in seen.values() for fact in facts})
    out = []
    for fact in names:
        if len({facts[fact] for facts in seen.values() if fact in facts}) > 1:
            values = tuple((kernel, facts.get(fact, "-")) for kernel, facts in seen.items())
            out.append(Difference(case, arch, fact, values))
    return out


def render(rows: Sequence[Difference], kernels_seen: Sequence[str], boots: int) -> str:
    """A markdown table: case, arch, fact, then one column per kernel."""
    head = "| case | arch | fact | " + " | ".join(kernels_seen) + " |\n"
    rule = "|---|---|---|" + "---|" * len(kernels_seen) + "\n"
    lines = []
    for row in rows:
        values = dict(row.values)
        cells = " | ".join(values.get(k, "") for k in kernels_seen)
        lines.append(f"| {row.case} | {row.arch} | {row.fact} | {cells} |\n")
    return (
        f"Kernel matrix: {boots} boots, {len(rows)} differences\n\n" + head + rule + "".join(lines)
    )


def _facts(case_xml: Path, arch: str, kernel: str) -> dict[str, str]:
    domain = parse(case_xml.read_bytes())
    profile = default_profile(domain)
    kit = locate_kit(arch, kernel=kernel)
    if not_applicable(domain, arch) is not None:
        return {}
    if kit.about is not None:
        finding = node_capacity(domain, profile, kit.about)
        if finding is not None:
            return {"verdict": f"not booted: {kit.about.node_limit} nodes"}
    try:
        run = boot_guest(domain, profile, kit, timeout=300)
        view = read_guest_view(run.report)
    except (QemuRefused, QemuTimeout, ValueError) as error:
        return {"verdict": f"error: {str(error).splitlines()[0][:60]}"}
    checks = compare_guest(domain, profile, view)
    failed = [c.entry for c in checks if not c.ok]
    verdict = f"fail: {', '.join(failed[:2])}" if failed else "pass"
    return {"verdict": verdict, **view_facts(view)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=list(ARCHITECTURES))
    parser.add_argument("--kernel", action="append", metavar="NAME")
    parser.add_argument("--case", action="append", metavar="GLOB")
    parser.add_argument("--out", metavar="FILE", help="write the table here (and print it)")
    args = parser.parse_args(argv)
    cases = [
        c
        for c in load_cases()
        if c.accepted and (not args.case or any(fnmatch.fnmatch(c.id, g) for g in args.case))
    ]
    rows: list[Difference] = []
    names: list[str] = []
    boots = 0
    for arch in args.arch or list(ARCHITECTURES):
        held = [k.name for k in kernels(arch)]
        chosen = [k for k in held if not args.kernel or k in args.kernel]
        names += [k for k in chosen if k not in names]
        for case in cases:
            seen = {kernel: _facts(case.xml_path, arch, kernel) for kernel in chosen}
            boots += sum(1 for facts in seen.values() if facts)
            seen = {k: v for k, v in seen.items() if v}
            rows += differences(case.id, arch, seen)
            print(f"{arch} {case.id}: {len(seen)} kernels", file=sys.stderr, flush=True)
    text = render(rows, names, boots)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
