"""``gi-conform libvirt``: build, inspect and use a real libvirt (>= 11.8) for conformance.

Subcommands: ``setup [DIR]``, ``teardown [DIR]``, ``status [DIR]``, ``argv FILE [--dir DIR]``,
``prove [--dir DIR] [--generated N] [--seed S] ... [--json FILE]``.
DIR defaults to ``$GI_CONFORM_LIBVIRT_DIR`` or /var/cache/gi-conform/libvirt-sid.

Exit status: 0 success (``argv``: libvirt accepted the document; ``prove``: no libvirt
gap proven); 1 ``argv``: libvirt rejected the document (its message on stderr),
``prove``: real QEMU proved at least one libvirt gap; 2 usage error, unreadable file,
not root, no libvirt set up (the message says how to get one), no QEMU >= 9.2, no
document selected, or ``--json`` not writable; 3 a setup or teardown step failed, or
libvirt failed without a verdict (timeout, crash).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from gi_conform.argv.build import Option, render_args
from gi_conform.cli.common import (
    EXIT_LIBVIRT_FAILED,
    EXIT_REJECTED,
    EXIT_USAGE,
    add_document_sources,
    positive_int,
    read_input,
    seconds,
)
from gi_conform.groundtruth.qemu import QemuUnavailable, find_qemu
from gi_conform.libvirt.convert import LibvirtError, LibvirtTimeout, convert, reduce
from gi_conform.libvirt.install import (
    DEFAULT_DIR,
    DEFAULT_DRIVERS,
    DIR_ENV,
    Libvirt,
    LibvirtUnavailable,
    default_dir,
    locate,
)
from gi_conform.libvirt.lifecycle import LibvirtSetupError, setup, teardown
from gi_conform.libvirt.proof import (
    CaseProof,
    ProofRun,
    ProofVerdict,
    Selection,
    prove_cases,
)
from gi_conform.model import DocumentDialect
from gi_conform.oracle.runner import CheckOptions, select_cases

__all__ = ["EXIT_LIBVIRT_FAILED", "add_parser"]


def _progress(message: str) -> None:
    sys.stderr.write(f"gi-conform libvirt: {message}\n")
    sys.stderr.flush()


def _directory(args: argparse.Namespace) -> Path:
    named: str | None = args.dir
    return Path(named) if named else default_dir()


def _options(argv: list[str]) -> list[Option]:
    """Pair flags with their values so the argv prints in the ``.args`` layout."""
    options: list[Option] = []
    index = 0
    while index < len(argv):
        flag = argv[index]
        if index + 1 < len(argv) and not argv[index + 1].startswith("-"):
            options.append(Option(flag, argv[index + 1]))
            index += 2
        else:
            options.append(Option(flag, ""))
            index += 1
    return options


def _render(argv: list[str]) -> str:
    text = render_args(_options(argv))
    return text.replace(" ''", "")  # flags without a value print bare


def _setup(args: argparse.Namespace) -> int:
    try:
        report = setup(
            _directory(args),
            mirror=args.mirror,
            drivers=args.drivers,
            use_system=not args.chroot,
            progress=_progress,
        )
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtSetupError, LibvirtError, LibvirtTimeout, OSError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    if report.timings:
        total = sum(took for _, took in report.timings)
        steps = ", ".join(f"{name} {took:.1f} s" for name, took in report.timings)
        _progress(f"set up in {total:.1f} s ({steps})")
    return 0


def _teardown(args: argparse.Namespace) -> int:
    try:
        teardown(_directory(args), progress=_progress)
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtSetupError, OSError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        found = locate(Path(args.dir) if args.dir else None)
    except LibvirtUnavailable as error:
        if args.json:
            sys.stdout.write(json.dumps({"ready": False, "reason": str(error)}) + "\n")
        else:
            sys.stdout.write(f"not ready: {error}\n")
        return EXIT_USAGE
    if args.json:
        payload = {
            "ready": True,
            "kind": found.kind,
            "root": str(found.root),
            "home": str(found.home),
            "libvirt": found.version,
            "qemu": found.qemu_version,
            "drivers": found.drivers,
        }
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        sys.stdout.write(f"ready: {found.describe()}, {found.drivers} driver root(s)\n")
    return 0


def _argv(args: argparse.Namespace) -> int:
    data = read_input(args.file)
    try:
        result = convert(data, root=Path(args.dir) if args.dir else None, timeout=args.timeout)
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtTimeout, LibvirtError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    for change in result.adjustments:
        _progress(f"note: {change}")
    if not result.accepted:
        sys.stderr.write(result.message + "\n")
        return EXIT_REJECTED
    argv = list(result.argv) if args.full else reduce(result.argv)
    if args.format == "json":
        sys.stdout.write(json.dumps(argv, indent=1) + "\n")
    else:
        sys.stdout.write(_render(argv))
    _progress(f"converted in {result.seconds:.3f} s (driver root {result.driver})")
    return 0


_PROOF_COLUMNS = ("case", "reference rule", "libvirt", "QEMU verdict")


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


def _prove(args: argparse.Namespace) -> int:
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

    run = prove_cases(cases, libvirt=found, timeout=args.timeout, progress=report)
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


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform libvirt`` and its subcommands on the main parser."""
    where = f"DIR (default: ${DIR_ENV} or {DEFAULT_DIR})"
    parser = commands.add_parser(
        "libvirt",
        help="build and use a real libvirt (>= 11.8) to compare with the reference",
        description="Real libvirt as an implementation under test. setup builds a Debian "
        "sid chroot with libvirt and QEMU (or uses a system libvirt >= 11.8), argv "
        "converts a document with it, prove runs libvirt's argv in real QEMU.",
        epilog="Exit status: 0 success or accepted, 1 rejected by libvirt (prove: a libvirt "
        "gap proven), 2 usage error, not root or no libvirt set up, 3 setup failed or "
        "libvirt failed without a verdict.",
    )
    sub = parser.add_subparsers(dest="libvirt_command", required=True, parser_class=type(parser))

    make = sub.add_parser("setup", help="build (or reuse) the libvirt chroot; idempotent")
    make.add_argument("dir", nargs="?", metavar="DIR", help=where)
    make.add_argument("--mirror", help="Debian mirror URL (default: the host's own)")
    make.add_argument(
        "--drivers",
        type=positive_int,
        default=DEFAULT_DRIVERS,
        help=f"embedded-driver roots for parallel conversions (default {DEFAULT_DRIVERS})",
    )
    make.add_argument(
        "--chroot",
        action="store_true",
        help="build the chroot even when a system libvirt >= 11.8 is installed",
    )
    make.set_defaults(handler=_setup)

    remove = sub.add_parser("teardown", help="unmount and remove what setup made")
    remove.add_argument("dir", nargs="?", metavar="DIR", help=where)
    remove.set_defaults(handler=_teardown)

    status = sub.add_parser("status", help="say which libvirt would be used (exit 2: none)")
    status.add_argument("dir", nargs="?", metavar="DIR", help=where + "; / for the system's")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    argv = sub.add_parser("argv", help="convert a document with real libvirt")
    argv.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    argv.add_argument("--dir", metavar="DIR", help=where + "; / for the system's")
    argv.add_argument(
        "--full", action="store_true", help="print libvirt's whole argv, not the GI subset"
    )
    argv.add_argument("--format", choices=["args", "json"], default="args")
    argv.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    argv.set_defaults(handler=_argv)

    prove = sub.add_parser(
        "prove",
        help="prove in real QEMU what libvirt accepts and the reference rejects",
        description="Convert the corpus and generated documents with real libvirt; for "
        "every document libvirt accepts but the reference rejects (or whose initiators "
        "differ), run libvirt's own argv in real QEMU (host devices swapped for emulated "
        "stand-ins) and read the guest's SRAT. A gap is proven when QEMU refuses the "
        "argv or the SRAT lacks an initiator the document asked for.",
        epilog="Exit status: 0 no gap proven, 1 at least one libvirt gap proven, 2 usage "
        "error, no libvirt or QEMU >= 9.2, no document selected, --json not writable.",
    )
    prove.add_argument("--dir", metavar="DIR", help=where + "; / for the system's")
    add_document_sources(prove)
    prove.add_argument(
        "--dialect",
        action="append",
        default=[],
        choices=[dialect.value for dialect in DocumentDialect],
        help="only documents of this dialect (repeatable; default libvirt and none, "
        "the dialects libvirt handles)",
    )
    prove.add_argument(
        "--case", action="append", default=[], metavar="GLOB", help="only case ids matching"
    )
    prove.add_argument(
        "--timeout",
        type=seconds,
        default=20.0,
        metavar="S",
        help="per QEMU run, seconds (20)",
    )
    prove.add_argument("--json", metavar="FILE", help="write the results as JSON")
    prove.set_defaults(handler=_prove)
