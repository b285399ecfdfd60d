"""Run a round-trip mutant as a ``cmd:`` implementation: ``python as_roundtrip_command.py
MUTANT XML``. Prints the document written back and exits 0 (nothing printed: a verdict
only), or prints the message (lines starting ``error``, as the ``cmd:`` contract asks)
and exits 1."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mutants.roundtrip_mutants import ROUNDTRIP_MUTANTS, reference


def main() -> int:
    name, path = sys.argv[1], sys.argv[2]
    function = reference if name == "reference" else ROUNDTRIP_MUTANTS[name][0]
    data = Path(path).read_bytes()
    try:
        xml: str | bytes = data.decode("utf-8")
    except UnicodeDecodeError:
        xml = data
    reply = function({"id": Path(path).stem, "xml": xml})
    if reply.get("accepted") is True:
        sys.stdout.write(str(reply.get("xml") or ""))
        return 0
    sys.stderr.write(str(reply.get("message", "")) or "error: rejected\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
