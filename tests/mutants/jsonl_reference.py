"""The reference behind the ``jsonl:`` protocol, written as a foreign implementer would.

It speaks the protocol by hand (no gi_conform.oracle code) so that the tests prove the
protocol, not the harness's own server, and it declares its dialects like a real one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gi_conform import Profile, build_argv, flatten, validate


def answer(case: dict[str, str]) -> dict[str, object]:
    report = validate(case["xml"])
    if report.accepted and report.domain is not None:
        return {
            "accepted": True,
            "argv": flatten(build_argv(report.domain, Profile(case["profile"]))),
        }
    rules = list(dict.fromkeys(v.rule for v in report.errors))
    return {"accepted": False, "message": report.text(), "rules": rules}


def main() -> int:
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "start":
            if request["version"] != 1:
                return 2
            reply: dict[str, object] = {
                "version": 1,
                "implementation": {
                    "name": "jsonl-reference",
                    "version": "1.0",
                    "language": "python",
                    "dialects": ["seed", "libvirt", "mixed", "none"],
                },
            }
        elif request["cmd"] == "run":
            reply = {"seq": request["seq"], **answer(request["case"])}
        else:
            return 0
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
