"""``gi-conform libvirt``: build, inspect and use a real libvirt (>= 11.8) for conformance.

Subcommands: ``setup [DIR]``, ``teardown [DIR]``, ``status [DIR]``, ``argv FILE [--dir DIR]``.
DIR defaults to ``$GI_CONFORM_LIBVIRT_DIR`` or /var/cache/gi-conform/libvirt-sid.

Exit status: 0 success (``argv``: libvirt accepted the document); 1 ``argv``: libvirt
rejected the document (its message on stderr); 2 usage error, unreadable file, not root,
or no libvirt set up (the message says how to get one); 3 a setup or teardown step
failed, or libvirt failed without a verdict (timeout, crash).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gi_conform.argv import Option, render_args
from gi_conform.libvirt import (
    DEFAULT_DIR,
    DEFAULT_DRIVERS,
    DIR_ENV,
    LibvirtError,
    LibvirtSetupError,
    LibvirtTimeout,
    LibvirtUnavailable,
    convert,
    default_dir,
    locate,
    reduce,
    setup,
    teardown,
)

__all__ = ["EXIT_LIBVIRT_FAILED", "add_parser"]

EXIT_LIBVIRT_FAILED = 3


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


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1 (a bad value is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _render(argv: list[str]) -> str:
    text = render_args(_options(argv))
    return text.replace(" ''", "")  # flags without a value print bare


def _setup(args: argparse.Namespace) -> int:
    from gi_conform.cli import EXIT_USAGE

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
        total = sum(seconds for _, seconds in report.timings)
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.timings)
        _progress(f"set up in {total:.1f} s ({steps})")
    return 0


def _teardown(args: argparse.Namespace) -> int:
    from gi_conform.cli import EXIT_USAGE

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
    from gi_conform.cli import EXIT_USAGE

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
    from gi_conform.cli import EXIT_REJECTED, EXIT_USAGE, read_input

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


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform libvirt`` and its subcommands on the main parser."""
    where = f"DIR (default: ${DIR_ENV} or {DEFAULT_DIR})"
    parser = commands.add_parser(
        "libvirt",
        help="build and use a real libvirt (>= 11.8) to compare with the reference",
        description="Real libvirt as an implementation under test. setup builds a Debian "
        "sid chroot with libvirt and QEMU (or uses a system libvirt >= 11.8), argv "
        "converts a document with it.",
        epilog="Exit status: 0 success or accepted, 1 rejected by libvirt, 2 usage error, "
        "not root or no libvirt set up, 3 setup failed or libvirt failed without a verdict.",
    )
    sub = parser.add_subparsers(dest="libvirt_command", required=True, parser_class=type(parser))

    make = sub.add_parser("setup", help="build (or reuse) the libvirt chroot; idempotent")
    make.add_argument("dir", nargs="?", metavar="DIR", help=where)
    make.add_argument("--mirror", help="Debian mirror URL (default: the host's own)")
    make.add_argument(
        "--drivers",
        type=_positive,
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
