"""``gi-conform generate --seed S -n N DIR``: freeze generated documents as a corpus folder.

The same ``--seed`` draws the same documents only under the same Hypothesis version; a
frozen set (:mod:`gi_conform.oracle.frozen`) is the draw written once, so a check over it
(``check --corpus DIR``, or ``check --generated-from DIR`` next to the corpus) is the
same everywhere. Exit status: 0 written, 2 usage error (DIR not empty without
``--force``, or not writable; Hypothesis missing).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from gi_conform.cli.common import EXIT_ACCEPTED, UsageError, count

__all__ = ["add_parser", "run"]

_EPILOG = """\
DIR gets index.json (its "generator" names the seed, the count and the versions that
drew them), and per document ID.xml plus the reference's goldens: ID.seed.args and
ID.libvirt.args, or ID.err. Ids are gen-SEED-NNNN, as --generated N --seed S names them.
--refresh DIR rewrites the goldens and index entries of a set after the reference changed,
keeping its documents (a redraw under another Hypothesis version would change them).
exit status: 0 written, 2 usage error
"""


def add_parser(commands: Any) -> None:
    """Register ``generate`` on the main parser's subcommands."""
    generate = commands.add_parser(
        "generate",
        help="write generated documents as a frozen corpus folder (reproducible checks)",
        description="Draw generated documents (valid and invalid) and write them, with the "
        "reference's goldens, as a corpus folder that check --corpus / --generated-from reads.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument("folder", type=Path, metavar="DIR", help="where to write the set")
    generate.add_argument("--seed", type=int, default=0, metavar="S", help="the seed (0)")
    generate.add_argument(
        "-n", "--count", type=count, default=200, metavar="N", help="documents (200)"
    )
    what = generate.add_mutually_exclusive_group()
    what.add_argument("--force", action="store_true", help="replace a generated set in DIR")
    what.add_argument(
        "--refresh",
        action="store_true",
        help="keep DIR's documents, rewrite their goldens and index entries from the "
        "reference (after it changed); draws nothing",
    )
    generate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """The ``generate`` command."""
    if importlib.util.find_spec("hypothesis") is None:
        raise UsageError("generate needs hypothesis (pip install hypothesis)")
    from gi_conform.oracle import frozen  # noqa: PLC0415 (start-up time of the other commands)

    if args.refresh:
        if args.seed != 0 or args.count != 200:
            raise UsageError("--refresh keeps the set's own seed and count: give neither")
        try:
            changed = frozen.refresh_generated_set(args.folder)
        except frozen.GeneratedSetError as error:
            raise UsageError(str(error)) from None
        except OSError as error:
            raise UsageError(f"cannot write {args.folder}: {error.strerror or error}") from None
        sys.stdout.write(f"{len(changed)} files of {args.folder} rewritten\n")
        sys.stdout.writelines(f"  {name}\n" for name in changed)
        return EXIT_ACCEPTED
    try:
        written = frozen.write_generated_set(args.folder, args.count, args.seed, replace=args.force)
    except frozen.GeneratedSetError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot write {args.folder}: {error.strerror or error}") from None
    versions = ", ".join(f"{k} {v}" for k, v in written.generator.items())
    sys.stdout.write(
        f"{written.count} documents (seed {written.seed}; {versions}) written to {args.folder}\n"
    )
    return EXIT_ACCEPTED
