"""``gi-conform guest``: boot a real Linux guest on a document and check what its kernel
built; ``gi-conform guest setup|status|teardown [DIR]`` manage the kernels and firmware.

The guest runs as libvirt would run it: without ``<features><acpi/>`` libvirt writes
``acpi=off``, the guest gets no SRAT from QEMU and a document asking for initiators fails
(its only error being GI-ACPI-DISABLED, it is booted to show that); ``--force-acpi`` boots
it with ACPI on to inspect the tables, and the output says so.

Exit status: 0 every check passed; 1 a check failed, or the document is rejected; 2 usage
error, unreadable file, or no guest kit set up (the message says how); 3 QEMU refused the
command line or the guest did not report within ``--timeout``. With several files, the
highest of their statuses.
"""

from __future__ import annotations

import argparse
from typing import Any

from gi_conform.argv.build import Profile
from gi_conform.cli.common import EXIT_GUEST_FAILED, UsageError, jobs, seconds

__all__ = ["ACTIONS", "EXIT_GUEST_FAILED", "add_parser"]

ACTIONS = ("setup", "status", "teardown")
"""Words that name a kit action instead of a FILE (write ``./setup`` for such a file)."""


def _run(args: argparse.Namespace) -> int:
    # QEMU's runner, the ACPI decoder and apt handling load only when ``guest`` runs.
    from gi_conform.cli import guest_run  # noqa: PLC0415 (start-up time of the other commands)

    first, *rest = args.files
    if first in ACTIONS:
        if len(rest) > 1:
            raise UsageError(f"guest {first} takes at most one DIR")
        args.file, args.dir = first, (rest[0] if rest else None)
        return guest_run.run_action(args)
    for name in rest:
        if name in ACTIONS:
            raise UsageError(f"{name!r} is a kit action: give it alone (or write ./{name})")
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
        "files",
        nargs="+",
        metavar="FILE...|setup|status|teardown [DIR]",
        help="domain XML files (- for stdin), or a kit action and its kit folder",
    )
    parser.add_argument(
        "--jobs", "-j", type=jobs, default=1, metavar="N", help="guests booted at once (1)"
    )
    parser.add_argument(
        "--arch",
        choices=["auto", "x86_64", "aarch64"],
        default="auto",
        help="guest architecture (auto: the document's <os><type arch>)",
    )
    parser.add_argument("--profile", choices=[p.value for p in Profile])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--kernel",
        metavar="NAME|PATH",
        help="a kit kernel (guest status lists them; default: the one built) or an image file",
    )
    parser.add_argument(
        "--firmware", metavar="PATH", help="aarch64 UEFI code image instead of sid's EDK2"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=120.0, metavar="S", help="per boot, seconds (120)"
    )
    parser.add_argument(
        "--keep-logs",
        metavar="DIR",
        help="keep console, command and initrd (in DIR/<file stem> for several files)",
    )
    parser.add_argument(
        "--force-acpi",
        action="store_true",
        help="ACPI on even where libvirt writes acpi=off (no <acpi/>), to inspect the tables",
    )
    parser.add_argument("--refresh", action="store_true", help="setup: fetch every package again")
    parser.set_defaults(handler=_run)
