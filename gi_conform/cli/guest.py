"""``gi-conform guest``: boot a real Linux guest on a document and check what its kernel
built; ``gi-conform guest setup|status|teardown [DIR]`` manage the kernels and firmware.

Exit status: 0 every check passed; 1 a check failed, or the document is rejected; 2 usage
error, unreadable file, or no guest kit set up (the message says how); 3 QEMU refused the
command line or the guest did not report within ``--timeout``.
"""

from __future__ import annotations

import argparse
from typing import Any

from gi_conform.argv.build import Profile
from gi_conform.cli.common import EXIT_GUEST_FAILED, seconds

__all__ = ["ACTIONS", "EXIT_GUEST_FAILED", "add_parser"]

ACTIONS = ("setup", "status", "teardown")
"""Words that name a kit action instead of a FILE (write ``./setup`` for such a file)."""


def _run(args: argparse.Namespace) -> int:
    # QEMU's runner, the ACPI decoder and apt handling load only when ``guest`` runs.
    from gi_conform.cli import guest_run  # noqa: PLC0415 (start-up time of the other commands)

    if args.file in ACTIONS:
        return guest_run.run_action(args)
    return guest_run.run(args)


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform guest`` on the main parser's subcommands."""
    parser = commands.add_parser(
        "guest",
        help="boot a Linux guest (x86_64 or aarch64) and check what its kernel sees",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file",
        metavar="FILE|setup|status|teardown",
        help="domain XML (- for stdin), or a kit action",
    )
    parser.add_argument("dir", metavar="DIR", nargs="?", help="kit folder, for the actions")
    parser.add_argument(
        "--arch",
        choices=["auto", "x86_64", "aarch64"],
        default="auto",
        help="guest architecture (auto: the document's <os><type arch>)",
    )
    parser.add_argument("--profile", choices=[p.value for p in Profile])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--kernel", metavar="PATH", help="boot this kernel instead of Debian's")
    parser.add_argument(
        "--firmware", metavar="PATH", help="aarch64 UEFI code image instead of sid's EDK2"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=120.0, metavar="S", help="per boot, seconds (120)"
    )
    parser.add_argument("--keep-logs", metavar="DIR", help="keep console, command and initrd")
    parser.add_argument("--refresh", action="store_true", help="setup: fetch every package again")
    parser.set_defaults(handler=_run)
