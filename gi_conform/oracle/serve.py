"""Serve a Python implementation over the ``jsonl:`` protocol on stdin/stdout.

    python -m gi_conform.oracle.serve [reference | MODULE:FUNCTION] [--name NAME]

``FUNCTION`` takes a case (``{"id", "xml", "profile"}``) and returns a run reply without
``seq``, the same contract as ``--impl python:MODULE:FUNCTION``; an exception becomes an
``errored`` reply, so one bad case does not end the session. This is how a Python
implementation gets process isolation, and what the ``cmd:`` vs ``jsonl:`` benchmark runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any

from gi_conform import __version__
from gi_conform.oracle.impls import SpecError, load_function, reference_answer
from gi_conform.oracle.protocol import PROTOCOL_VERSION

__all__ = ["main", "serve"]


def _reply(out: IO[str], payload: dict[str, Any]) -> None:
    out.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()


def serve(
    function: Callable[[dict[str, Any]], Any],
    *,
    name: str,
    version: str = "",
    source: IO[str] | None = None,
    out: IO[str] | None = None,
) -> int:
    """Answer requests until ``stop`` or end of input; returns the exit status."""
    source = source or sys.stdin
    out = out or sys.stdout
    for line in source:
        if not line.strip():
            continue
        request = json.loads(line)
        command = request.get("cmd")
        if command == "start":
            if request.get("version") != PROTOCOL_VERSION:
                sys.stderr.write(f"unsupported protocol version {request.get('version')!r}\n")
                return 2
            implementation = {"name": name, "version": version, "language": "python"}
            _reply(out, {"version": PROTOCOL_VERSION, "implementation": implementation})
        elif command == "run":
            seq = request["seq"]
            try:
                reply = dict(function(request["case"]))
            except Exception:
                reply = {"errored": True, "context": {"traceback": traceback.format_exc()}}
            _reply(out, {"seq": seq, **reply})
        elif command == "stop":
            return 0
        else:
            sys.stderr.write(f"unknown command {command!r}\n")
            return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gi_conform.oracle.serve")
    parser.add_argument("target", nargs="?", default="reference", help="reference or MODULE:FUNC")
    parser.add_argument("--name", help="the implementation name to announce")
    args = parser.parse_args(argv)
    if args.target == "reference":
        function: Callable[[dict[str, Any]], Any] = reference_answer
        name, version = "gi-conform reference", __version__
    else:
        try:
            function = load_function(args.target)
        except SpecError as error:
            sys.stderr.write(f"{error}\n")
            return 2
        name, version = args.target, ""
    return serve(function, name=args.name or name, version=version)


if __name__ == "__main__":
    raise SystemExit(main())
