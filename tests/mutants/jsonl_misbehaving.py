"""``jsonl:`` implementations that break the protocol: ``python jsonl_misbehaving.py MODE``.

Modes (each answers ``start`` properly unless said otherwise, then answers runs with the
reference until its fault):
  dies          exits without a word on the third run (dies mid-protocol)
  garbage       answers every run with a line that is not JSON
  silent        never answers a run (the harness must time out)
  flood         answers the second run with endless bytes and no newline
  wrong-seq     answers with the wrong seq
  bad-reply     answers with a reply no schema allows (argv of numbers, extra field)
  bad-version   answers start with protocol version 99
  no-start      exits at once, before answering start
  orphan        starts a grandchild that sleeps (marker in its argv), then hangs
  raises        an exception escapes on the second run: a traceback on stderr, exit 1
  stack-reply   answers every run rejected, with its own traceback as the message
  hello-argv    answers every run accepted, with an argv that holds no QEMU option
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mutants.mutants import reference


def send(payload: object) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _reply(mode: str, runs: int, request: dict[str, Any]) -> dict[str, object]:
    """The reply to a run: the reference's, or the mode's fault."""
    seq, case = request["seq"], request["case"]
    if mode == "raises" and runs == 2:
        raise RuntimeError(f"cannot convert {case['id']}")
    if mode == "stack-reply":
        try:
            raise KeyError("cells")
        except KeyError:
            return {"seq": seq, "accepted": False, "message": traceback.format_exc()}
    if mode == "hello-argv":
        return {"seq": seq, "accepted": True, "argv": ["hello", "world"]}
    if mode == "bad-reply":
        return {"seq": seq, "accepted": True, "argv": [1, 2], "extra": True}
    if mode == "wrong-seq":
        seq += 1000
    return {"seq": seq, **reference(case)}


def main() -> int:
    mode = sys.argv[1]
    marker = sys.argv[2] if len(sys.argv) > 2 else "gi-conform-orphan"
    if mode == "no-start":
        return 3
    runs = 0
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "start":
            version = 99 if mode == "bad-version" else 1
            send(
                {
                    "version": version,
                    "implementation": {"name": f"misbehaving-{mode}", "version": "0"},
                }
            )
            continue
        if request["cmd"] != "run":
            return 0
        runs += 1
        if mode == "dies" and runs == 3:
            return 0
        if mode == "garbage":
            sys.stdout.write("Segmentation fault? no: just garbage \x1b[31m{not json\n")
            sys.stdout.flush()
            continue
        if mode == "silent":
            continue
        if mode == "flood" and runs == 2:
            chunk = "x" * (1 << 20)
            while True:
                sys.stdout.write(chunk)
        if mode == "orphan":
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
            time.sleep(300)
        send(_reply(mode, runs, request))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
