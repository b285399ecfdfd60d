"""Regenerate every published report and the conformance page:
``python -m gi_conform.cli.publish``.

Each report in :data:`PUBLISHED` is a ``gi-conform check --report json`` run (the corpus
and the frozen set :data:`GENERATED`: 200 generated documents of seed 0, written once by
``gi-conform generate``, so a re-run draws nothing and does not depend on the Hypothesis
version) written to ``reference/implementations/``; then the
page (``index.html``) and its markdown summary (``conformance.md``) are rendered from
them with README's ``gi-conform report`` command (:func:`page_arguments`). Reports of
real libvirt and virtinst need ``gi-conform libvirt setup`` first (as root).

Run it from the repository's root whenever the reference, the corpus or the generator
changes. Options: ``--only FILE`` (repeatable) re-runs only those reports (the page is
always rendered from every published report); ``--no-libvirt`` re-runs only what needs
no libvirt. Exit status: 0 written, 2 a check could not run (usage error, no libvirt).
``tests/test_published.py`` fails when a published report's verdicts differ from a fresh
run's over the corpus.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gi_conform.cli.main import main as gi_conform
from gi_conform.resources import reference_dir

ROOT = reference_dir().parent
"""The folder holding ``reference/`` and ``cases/``: the checkout (or a wheel's data)."""

__all__ = [
    "FOLDER",
    "GENERATE",
    "GENERATED",
    "PROOFS",
    "PUBLISHED",
    "README_BEGIN",
    "README_END",
    "Published",
    "check_arguments",
    "main",
    "page_arguments",
    "readme_with_summary",
    "summary_table",
]

README_BEGIN = "<!-- conformance summary: python -m gi_conform.cli.publish writes this -->"
README_END = "<!-- end of conformance summary -->"

FOLDER = "reference/implementations"
GENERATED = f"{FOLDER}/generated-seed0"
"""The published runs' generated documents (relative to the root), made by
:data:`GENERATE`; regenerate it only on purpose (it changes every published report)."""
GENERATE = ["generate", "--seed", "0", "-n", "200", GENERATED]
"""``gi-conform generate`` arguments that wrote :data:`GENERATED` (``--force`` to redo)."""
PROOFS = "libvirt-12.8-proofs.json"
"""``gi-conform libvirt prove``'s published run (not a check report: not on the page)."""


@dataclass(frozen=True)
class Published:
    """One published report: the file, the ``--impl`` and ``--mode`` that make it."""

    file: str
    impl: str
    mode: str = "argv"
    libvirt: bool = False
    """Needs the chroot of ``gi-conform libvirt setup`` (real libvirt, virtinst)."""

    @property
    def path(self) -> Path:
        return ROOT / FOLDER / self.file


PUBLISHED = (
    Published("reference.json", "reference"),
    Published("reference-roundtrip.json", "reference", "roundtrip"),
    Published("libvirt-12.8.json", "libvirt", libvirt=True),
    Published("libvirt-12.8-xml.json", "libvirt-xml", "roundtrip", libvirt=True),
    Published("libvirt-12.8-schema.json", "libvirt-schema", "roundtrip", libvirt=True),
    Published("virtinst-5.1.json", "virtinst", "roundtrip", libvirt=True),
)
"""Every published report, in the page's column order."""


def check_arguments(published: Published, report: Path) -> list[str]:
    """The ``gi-conform check`` arguments that write ``published``'s report to ``report``
    (run from the root: the frozen set's path is relative to it)."""
    return [
        "check",
        "--impl",
        published.impl,
        "--mode",
        published.mode,
        "--generated-from",
        GENERATED,
        "--no-progress",
        "--details",
        "0",
        "--report",
        "json",
        str(report),
    ]


def page_arguments() -> list[str]:
    """README's ``gi-conform report`` command's arguments (relative to the root)."""
    return [
        "report",
        *(f"{FOLDER}/{p.file}" for p in PUBLISHED),
        "--cases-url",
        "../../cases/",
        "--html",
        f"{FOLDER}/index.html",
        "--markdown",
        f"{FOLDER}/conformance.md",
    ]


def summary_table(markdown: str) -> str:
    """The first table of ``conformance.md``: one row per published report."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| implementation |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def readme_with_summary(readme: str, markdown: str) -> str:
    """README with the block between its markers replaced by the page's summary table,
    so README's figures are the published reports' and never kept by hand."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"README.md has no {README_BEGIN!r} ... {README_END!r} block")
    return f"{head}{README_BEGIN}\n{summary_table(markdown)}{README_END}{tail}"


def _run(arguments: list[str]) -> int:
    """``gi-conform ARGUMENTS`` in this process: its exit status, argparse's included."""
    try:
        return gi_conform(arguments)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="FILE")
    parser.add_argument("--no-libvirt", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.only) - {p.file for p in PUBLISHED}
    if unknown:
        parser.error(f"--only: no published report {', '.join(sorted(unknown))}")
    os.chdir(ROOT)  # the reports and the page name paths relative to the root
    if not (ROOT / GENERATED / "index.json").is_file():
        print(f"== {GENERATED}: gi-conform {' '.join(GENERATE)}")
        if _run(GENERATE) != 0:
            return 2
    for published in PUBLISHED:
        if (args.only and published.file not in args.only) or (
            args.no_libvirt and published.libvirt
        ):
            continue
        start = time.monotonic()
        print(f"== {published.file}: check --impl {published.impl} --mode {published.mode}")
        status = _run(check_arguments(published, published.path))
        if status not in (0, 1):
            print(f"publish: the check of {published.file} could not run", file=sys.stderr)
            return 2
        print(f"   {time.monotonic() - start:.1f} s")
    if not args.no_libvirt and not args.only:
        start = time.monotonic()
        proofs = ROOT / FOLDER / PROOFS
        print(f"== {PROOFS}: libvirt prove (libvirt's gaps run in QEMU)")
        if _run(["libvirt", "prove", "--json", str(proofs)]) not in (0, 1):
            print(f"publish: libvirt prove could not run for {PROOFS}", file=sys.stderr)
            return 2
        print(f"   {time.monotonic() - start:.1f} s")
    print("== the page")
    status = _run(page_arguments())
    readme = ROOT / "README.md"
    if status == 0 and readme.is_file():  # a checkout: README's summary follows the page
        markdown = (ROOT / FOLDER / "conformance.md").read_text(encoding="utf-8")
        text = readme.read_text(encoding="utf-8")
        readme.write_text(readme_with_summary(text, markdown), encoding="utf-8")
        print("== README.md summary")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
