"""Run a mutant as a ``cmd:`` implementation: ``python as_command.py MUTANT XML``.

Prints the argv as libvirt ``.args`` text and exits 0, or prints the message and exits 1.
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


def main() -> int:
    name, path = sys.argv[1], sys.argv[2]
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
    sys.stderr.write(str(reply.get("message", "")))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
