"""Per-module mutation scores from a mutmut 3 run (``tox -e mutation``; README "Mutation
testing"): ``python -m tests.mutation.scores`` after ``mutmut run``, from ``mutants/``.

Killed counts mutmut's killed and timed-out mutants; equivalent ones are those listed in
``reference/mutation/equivalent.md`` that survived; the score is killed over checked minus
equivalent. Unchecked mutants (a sampled or interrupted run) are counted apart, never as
killed.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = ROOT / "reference" / "mutation" / "equivalent.md"
MODULES = {
    "document/": "gi_conform/document/",
    "argv/": "gi_conform/argv/",
    "semantics.py": "gi_conform/semantics.py",
    "pcitopology.py": "gi_conform/pcitopology.py",
    "oracle/compare.py": "gi_conform/oracle/compare.py",
}
_STATUS = {0: "survived", 1: "killed", 3: "killed", 33: "no tests", 34: "skipped", 37: "typed"}
_TIMEOUT = {24, 36, -24, 152}


def equivalent_names(text: str) -> set[str]:
    """Full mutmut names of the mutants ``equivalent.md`` lists: each ``## gi_conform.X``
    heading names the module, each backquoted ``[submodule.]x_..._mutmut_N`` below it one
    mutant."""
    names: set[str] = set()
    module = ""
    for line in text.splitlines():
        heading = re.match(r"## (gi_conform[\w.]*)", line)
        if heading:
            module = heading[1]
        for token in re.findall(r"`([\w.ǁ]*x[\wǁ]*__mutmut_\d+)`", line):
            names.add(f"{module}.{token}")
    return names


def _status(code: int | None) -> str:
    if code is None:
        return "unchecked"
    if code in _TIMEOUT:
        return "timeout"
    return _STATUS.get(code, "killed" if code != 0 else "survived")


def scores(mutants: Path) -> dict[str, Counter[str]]:
    """Per module of :data:`MODULES`, how many mutants ended how."""
    equivalent = equivalent_names(EQUIVALENT.read_text(encoding="utf-8"))
    found: dict[str, Counter[str]] = {label: Counter() for label in MODULES}
    for meta in sorted(mutants.glob("gi_conform/**/*.py.meta")):
        source = meta.relative_to(mutants).as_posix().removesuffix(".meta")
        label = next((k for k, v in MODULES.items() if source.startswith(v)), None)
        if label is None:
            continue
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            status = _status(code)
            if status == "survived" and name in equivalent:
                status = "equivalent"
            found[label][status] += 1
    return found


def main() -> int:
    mutants = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "mutants"
    columns = ("killed", "timeout", "survived", "equivalent", "no tests", "unchecked")
    print(f"{'module':<18} {'mutants':>7} " + " ".join(f"{c:>10}" for c in columns) + "  score")
    for label, counts in scores(mutants).items():
        total = sum(counts.values())
        killed = counts["killed"] + counts["timeout"]
        scored = total - counts["unchecked"] - counts["equivalent"]
        score = f"{100 * killed / scored:.1f}%" if scored else "-"
        cells = " ".join(f"{counts[c]:>10}" for c in columns)
        print(f"{label:<18} {total:>7} {cells}  {score}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
