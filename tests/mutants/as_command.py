"""Run a mutant as a ``cmd:`` implementation: ``python as_command.py [--style S] MUTANT XML``.

Prints the argv as libvirt ``.args`` text and exits 0, or prints the message on stderr
and exits 1, as the ``cmd:`` contract asks. ``--style`` is how a rejection is worded:
``reference`` (the default) as ``gi-conform argv`` prints it (``error RULE-ID line N:
...``), ``virsh`` as virsh does (``error: ...``, one line per error), ``custom`` as
``REJECTED RULE-ID: ...`` (needs ``--reject-pattern '^REJECTED '``).
The profile comes from ``GI_CONFORM_PROFILE`` (set by the harness). Exceptions are left
to escape, as a careless command-line tool would: the harness must call that a crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gi_conform.argv.options import shell_quote
from tests.mutants.mutants import MUTANTS, reference


def _worded(message: str, style: str) -> str:
    """The reference's ``validate`` text, reworded in ``style``."""
    if style == "reference":
        return message
    lines = []
    for line in message.splitlines():
        severity, _, rest = line.partition(" ")
        rule, _, text = rest.partition(" ")
        if severity == "error":
            lines.append(
                f"error: {rule}: {text}" if style == "virsh" else f"REJECTED {rule}: {text}"
            )
        else:
            lines.append(f"{severity}: {rule}: {text}")
    return "\n".join(lines) + "\n"


def main() -> int:
    args = sys.argv[1:]
    style = "reference"
    if args[0].startswith("--style="):
        style = args.pop(0).partition("=")[2]
    name, path = args[0], args[1]
    function = reference if name == "reference" else MUTANTS[name]
    data = Path(path).read_bytes()
    try:
        xml: str | bytes = data.decode("utf-8")
    except UnicodeDecodeError:
        xml = data
    profile = os.environ.get("GI_CONFORM_PROFILE", "libvirt")
    reply = function({"id": Path(path).stem, "xml": xml, "profile": profile})
    if reply.get("accepted") is True:
        argv = [str(a) for a in reply["argv"]]  # type: ignore[union-attr]
        lines = [f"{argv[i]} {shell_quote(argv[i + 1])}" for i in range(0, len(argv), 2)]
        sys.stdout.write(" \\\n".join(["LC_ALL=C", "/usr/bin/qemu-system-x86_64", *lines]) + "\n")
        return 0
    sys.stderr.write(_worded(str(reply.get("message", "")), style))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
