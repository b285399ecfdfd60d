"""``gi-conform qemu``: run a document's reference argv in real QEMU and check the SRAT.

The document runs as libvirt would run it: without ``<features><acpi/>`` libvirt writes
``acpi=off``, so QEMU builds no SRAT and a document asking for initiators fails (its only
error being GI-ACPI-DISABLED, it is run to show that); ``--force-acpi`` turns ACPI on to
inspect the tables, and the output says so.

Exit status: 0 every check passed; 1 a check failed, or the document is rejected;
2 usage error, unreadable file, or no QEMU >= 9.2 (the message says how to install it);
3 QEMU refused the command line or did not publish its tables in time (its stderr shown).
With several files, the highest of their statuses.
"""

from __future__ import annotations

import argparse
from typing import Any

from gi_conform.argv.build import Profile
from gi_conform.cli.common import EXIT_QEMU_FAILED, jobs

__all__ = ["EXIT_QEMU_FAILED", "add_parser"]


def _run(args: argparse.Namespace) -> int:
    # QEMU's QMP client (asyncio) loads only when ``qemu`` runs.
    from gi_conform.cli import qemu_run  # noqa: PLC0415 (start-up time of the other commands)

    return qemu_run.run(args)


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform qemu`` on the main parser's subcommands."""
    parser = commands.add_parser(
        "qemu", help="run the reference argv in real QEMU and check the guest's SRAT"
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="domain XML (several: each one), - for stdin"
    )
    parser.add_argument("--jobs", "-j", type=jobs, default=1, metavar="N", help="QEMUs at once (1)")
    parser.add_argument("--profile", choices=[p.value for p in Profile])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument(
        "--keep-logs",
        metavar="DIR",
        help="keep the command line and results (in DIR/<file stem> for several files)",
    )
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds to wait for QEMU (default 20)"
    )
    parser.add_argument(
        "--force-acpi",
        action="store_true",
        help="ACPI on even where libvirt writes acpi=off (no <acpi/>), to inspect the tables",
    )
    parser.set_defaults(handler=_run)
