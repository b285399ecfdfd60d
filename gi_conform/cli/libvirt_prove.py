"""Running ``gi-conform libvirt prove`` (its options are in :mod:`gi_conform.cli.libvirt`):
libvirt's own argv in real QEMU for every document where it differs from the reference."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from gi_conform.cli.common import (
    EXIT_USAGE,
    say,
)
from gi_conform.groundtruth.qemu import QemuUnavailable, find_qemu
from gi_conform.libvirt.install import (
    Libvirt,
    LibvirtUnavailable,
    locate,
)
from gi_conform.libvirt.proof import (
    CaseProof,
    ProofRun,
    ProofVerdict,
    Selection,
    prove_cases,
)
from gi_conform.oracle.runner import CheckOptions, select_cases
from gi_conform.oracle.workers import usable_cores

__all__ = ["run"]

_PROOF_COLUMNS = ("case", "reference rule", "libvirt", "QEMU verdict")


def _progress(message: str) -> None:
    say("libvirt", message)


def _proof_table(run: ProofRun) -> str:
    """One row per proved document; the missing entries of srat-missing rows below it."""
    rows: list[tuple[str, str, str, str]] = []
    notes: list[list[str]] = []
    for item in run.proofs:
        proof = item.proof
        first = (proof.message.splitlines() or [""])[-1]
        rows.append(
            (
                item.case_id,
                ", ".join(item.reference_rules),
                f"accepted, {item.libvirt_initiators} GI",
                f"{proof.verdict}: {first}",
            )
        )
        notes.append(list(proof.details) if proof.verdict is ProofVerdict.SRAT_MISSING else [])
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(_PROOF_COLUMNS)]
    widths[-1] = 0

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"

    text = line(_PROOF_COLUMNS)
    for row, extra in zip(rows, notes, strict=True):
        text += line(row)
        text += "".join(f"    missing: {note}\n" for note in extra)
    return text


def _proof_summary(run: ProofRun, corpus: int, generated: int, options: CheckOptions) -> str:
    counts = ", ".join(f"{v} {run.count(v)}" for v in ProofVerdict)
    why = "; ".join(
        f"{reason.value}: {sum(1 for p in run.proofs if p.selection is reason)}"
        for reason in Selection
    )
    return (
        f"{run.documents} documents of dialect {', '.join(options.dialects)} (corpus "
        f"{corpus}, generated {generated} of {options.generated}, seed {options.seed}): "
        f"libvirt accepted {run.libvirt_accepted}, rejected {run.libvirt_rejected}, "
        f"failed {len(run.libvirt_errors)}\n"
        f"proved {len(run.proofs)} ({why}): {counts}\n"
        f"libvirt gaps proven by real QEMU: {run.proven}; {run.seconds:.1f} s "
        f"(libvirt {run.libvirt_seconds:.1f} s, QEMU {run.qemu_seconds:.1f} s)\n"
    )


def _proof_json(
    run: ProofRun, args: argparse.Namespace, dialects: list[str], started: str, found: Libvirt
) -> dict[str, object]:
    """The ``--json`` document (schema: reference/implementations/proofs.schema.json)."""
    return {
        "format": "gi-conform-libvirt-proofs",
        "version": 1,
        "libvirt": run.libvirt,
        "libvirt_qemu": found.qemu_version,
        "qemu": run.qemu,
        "started": started,
        "duration_s": round(run.seconds, 2),
        "options": {
            "corpus": not args.no_corpus,
            "corpus_dir": str(args.corpus) if args.corpus else None,
            "generated": args.generated,
            "seed": args.seed,
            "dialects": dialects,
            "cases": list(args.case),
            "timeout_s": args.timeout,
        },
        "summary": {
            "documents": run.documents,
            "libvirt_accepted": run.libvirt_accepted,
            "libvirt_rejected": run.libvirt_rejected,
            "libvirt_failed": len(run.libvirt_errors),
            "proved": len(run.proofs),
            "proven_gaps": run.proven,
            "verdicts": {str(v): run.count(v) for v in ProofVerdict},
            "libvirt_s": round(run.libvirt_seconds, 2),
            "qemu_s": round(run.qemu_seconds, 2),
        },
        "libvirt_failures": [{"id": i, "message": m} for i, m in run.libvirt_errors],
        "proofs": [item.as_json() for item in run.proofs],
    }


def run(args: argparse.Namespace) -> int:
    """The ``libvirt prove`` command."""
    try:
        found = locate(Path(args.dir) if args.dir else None)
        find_qemu()
    except (LibvirtUnavailable, QemuUnavailable) as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    dialects = list(args.dialect) or ["libvirt", "none"]
    options = CheckOptions(
        impl="libvirt",
        dialects=tuple(dialects),
        patterns=tuple(args.case),
        corpus=args.corpus,
        use_corpus=not args.no_corpus,
        generated=args.generated,
        seed=args.seed,
    )
    if args.generated:
        _progress(f"generating {args.generated} documents (seed {args.seed})")
    cases = select_cases(options)
    if not cases:
        _progress("error: no document matches the --dialect / --case selection")
        return EXIT_USAGE
    if args.json is not None:
        try:
            Path(args.json).touch()
        except OSError as error:
            _progress(f"error: cannot write {args.json}: {error.strerror or error}")
            return EXIT_USAGE
    _progress(f"{found.describe()}: converting {len(cases)} documents, proving in real QEMU")
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def report(case_id: str, proof: CaseProof | None) -> None:
        if proof is not None and sys.stderr.isatty():
            _progress(f"{case_id}: {proof.proof.verdict}")

    jobs = args.jobs if args.jobs is not None else min(usable_cores(), found.drivers)
    run = prove_cases(
        cases,
        libvirt=found,
        timeout=args.timeout,
        progress=report,
        jobs=jobs,
        guest_timeout=args.guest_timeout,
    )
    corpus = sum(1 for c in cases if c.source == "corpus")
    sys.stdout.write(
        f"gi-conform libvirt prove: libvirt {run.libvirt} (built for QEMU "
        f"{found.qemu_version}), proved with this host's QEMU {run.qemu}\n"
    )
    sys.stdout.write(_proof_table(run) if run.proofs else "no document to prove\n")
    for case_id, message in run.libvirt_errors:
        sys.stdout.write(f"libvirt failed on {case_id}: {message.splitlines()[0]}\n")
    sys.stdout.write(_proof_summary(run, corpus, len(cases) - corpus, options))
    if args.json is not None:
        payload = _proof_json(run, args, dialects, started, found)
        try:
            Path(args.json).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        except OSError as error:
            _progress(f"error: cannot write {args.json}: {error.strerror or error}")
            return EXIT_USAGE
    return 1 if run.proven else 0
