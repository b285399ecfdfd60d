"""The documentation's generated parts: every page that states what the code or the data
says (the CLI, the rule and invariant catalogues, the schemas, the corpus, the findings
ledger) and every count is written here from the repository at build time, so no table or
figure in ``docs/`` is typed by hand and none can go stale.

A page asks for a part with a marker line, ``<!-- gi-docs: NAME -->``, which the
``source-read`` hook replaces with the part's Markdown (an unknown NAME fails the build);
counts are MyST substitutions, ``{{ cases }}``. The functions are plain (text in, text
out) so the tests call them without Sphinx.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from gi_conform.cli.main import COMMON_EXITS, MANNERS, build_parser, command_parsers
from gi_conform.cli.main import version as installed_version
from gi_conform.findings import Finding, findings_by_case, load_findings

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "cases"
REFERENCE = ROOT / "reference"
MARKER = re.compile(r"^<!-- gi-docs: ([a-z0-9-]+) -->$", re.MULTILINE)

__all__ = [
    "GENERATORS",
    "MARKER",
    "ROOT",
    "counts",
    "expand",
    "setup",
    "substitutions",
    "version",
]


def version() -> str:
    return installed_version()


def _escape(text: str) -> str:
    """Plain text as Markdown that shows it verbatim (inline HTML, emphasis, tables)."""
    return re.sub(r"([\\`*_\[\]<>|{}#])", r"\\\1", " ".join(str(text).split()))


def _docstring(text: str) -> str:
    """A docstring's reStructuredText code (````x````, ``:func:`x```) as Markdown code spans,
    the rest verbatim."""
    text = " ".join(text.split())
    parts = re.split(r"(?::[a-z]+:`([^`]+)`|``(.+?)``)", text)
    out = []
    for i in range(0, len(parts), 3):
        out.append(re.sub(r"([\\`*_\[\]<>|{}#])", r"\\\1", parts[i]))
        if i + 2 < len(parts):
            code = parts[i + 1] or parts[i + 2]
            out.append(_code(code.lstrip("~")))
    return "".join(out)


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"``{text}``"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _index() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((CASES / "index.json").read_text())["cases"]
    return cases


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _toml(REFERENCE / "rules.toml")["rule"]
    return found


def invariants() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _toml(REFERENCE / "invariants.toml")["invariant"]
    return found


def findings() -> tuple[Finding, ...]:
    return load_findings(REFERENCE / "findings.toml")


def counts() -> dict[str, int]:
    """Every figure the repository determines, by name (the docs' substitutions)."""
    index = _index()
    verdicts = Counter(case["expect"] for case in index)
    severities = Counter(rule["severity"] for rule in rules())
    goldens = _toml(REFERENCE / "libvirt-goldens" / "MANIFEST.toml")
    ledger = findings()
    return {
        "cases": len(index),
        "cases_accepted": verdicts["accept"],
        "cases_rejected": verdicts["reject"],
        "cases_with_notes": sum(1 for case in index if case.get("notes")),
        "rules": len(rules()),
        "rules_error": severities["error"],
        "rules_warning": severities["warning"],
        "invariants": len(invariants()),
        "libvirt_goldens": len({row["name"].split(".")[0] for row in goldens["file"]}),
        "protocol_schemas": len(list((REFERENCE / "protocol").glob("*.json"))),
        "generated": _default("gi-conform check", "--generated"),
        "findings": len(ledger),
        "findings_implementations": len({f.implementation for f in ledger}),
    }


def _default(prog: str, option: str) -> int:
    """An option's default, read from the parser (``check``'s ``--generated``)."""
    parser = dict(command_parsers(build_parser()))[prog]
    action = next(a for a in parser._actions if option in a.option_strings)
    return int(action.default)


def substitutions() -> dict[str, str]:
    return {name: f"{value:,}" for name, value in counts().items()}


# -- the command line ------------------------------------------------------------------


def _option_row(action: argparse.Action) -> list[str]:
    if action.option_strings:
        name = ", ".join(action.option_strings)
        if action.nargs != 0:
            metavar = action.metavar or (
                "{" + ",".join(map(str, action.choices)) + "}" if action.choices else None
            )
            name += f" {metavar or action.dest.upper()}"
    else:
        name = str(action.metavar or action.dest)
    default = action.default
    shown = (
        ""
        if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0
        else _code(str(default))
    )
    choices = ", ".join(_code(str(c)) for c in action.choices or []) if action.choices else ""
    return [_code(name), _escape(action.help or ""), choices, shown]


def cli() -> str:
    """Every command and subcommand from the argparse parsers: usage, options, the text
    its help adds, exit statuses and the example (``gi_conform.cli.main.MANNERS``)."""
    out: list[str] = []
    for prog, parser in command_parsers(build_parser()):
        manners = MANNERS[prog]
        out.append(f"## `{prog}`\n")
        if parser.description:
            out.append(_escape(parser.description) + "\n")
        usage = parser.format_usage().removeprefix("usage: ").strip()
        out.append("```text\n" + usage + "\n```\n")
        rows = [
            _option_row(action)
            for action in parser._actions
            if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        ]
        subcommands = [
            (name, sub)
            for action in parser._actions
            if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()
        ]
        if rows:
            out.append(_table(["argument", "meaning", "choices", "default"], rows))
        if subcommands:
            helps = {
                choice.dest: choice.help
                for action in parser._actions
                if isinstance(action, argparse._SubParsersAction)
                for choice in action._choices_actions
            }
            out.append(
                _table(
                    ["command", "does"],
                    (
                        [_code(sub.prog), _escape(helps.get(name) or "")]
                        for name, sub in subcommands
                    ),
                )
            )
        own = (parser.epilog or "").split("\n\nexit status:\n")[0]
        if own and not own.startswith("exit status:"):
            out.append("```text\n" + own.strip("\n") + "\n```\n")
        out.append("Exit status:\n")
        out.append(
            _table(
                ["status", "meaning"],
                ([str(code), _escape(text)] for code, text in manners.exits + COMMON_EXITS),
            )
        )
        out.append("Example:\n\n```sh\n" + manners.example + "\n```\n")
    return "\n".join(out)


# -- catalogues --------------------------------------------------------------------------


def rule_table() -> str:
    rows = [
        [
            f"`{rule['id']}`",
            rule["severity"],
            rule["source"],
            rule.get("qemu", ""),
            _escape(rule["summary"]),
        ]
        for rule in rules()
    ]
    stricter = [
        f"`{rule['id']}`\n: {_escape(rule['why'])}\n" for rule in rules() if rule.get("why")
    ]
    return (
        _table(["id", "severity", "source", "QEMU", "when"], rows)
        + "\n## Stricter than the real programs, and why\n\n"
        + "\n".join(stricter)
    )


def invariant_table() -> str:
    rows = [
        [f"`{inv['id']}`", inv.get("profile", "any"), _escape(inv["summary"])]
        for inv in invariants()
    ]
    return _table(["id", "profile", "every valid document's argv..."], rows)


def case_table() -> str:
    """Every case, with the findings (ledger ids) it shows next to it."""
    shown = findings_by_case(findings())
    rows = [
        [
            f"`{case['id']}`",
            case["dialect"],
            case["expect"],
            ", ".join(f"`{r}`" for r in case["rules"]) or "",
            _escape(case["description"]),
            ", ".join(f"`{f.id}`" for f in shown.get(case["id"], ())),
        ]
        for case in _index()
    ]
    return _table(["id", "dialect", "expect", "rules", "description", "findings"], rows)


def corpus_readme() -> str:
    """``cases/README.md`` itself (the corpus's own, vendored with it), without its title."""
    text = (CASES / "README.md").read_text()
    return re.sub(r"^# .*\n", "", text, count=1)


# -- schemas -----------------------------------------------------------------------------


def _type(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return _code(json.dumps(schema["const"]))
    if "enum" in schema:
        return " \\| ".join(_code(json.dumps(v)) for v in schema["enum"])
    if "$ref" in schema:
        return _code(schema["$ref"].rsplit("/", 1)[-1])
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type(schema['items'])}"
    if "oneOf" in schema or "anyOf" in schema:
        return "one of " + ", ".join(_type(s) for s in schema.get("oneOf", schema.get("anyOf")))
    return str(kind) or "any"


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = [
        [
            _code(name),
            _type(prop),
            "yes" if name in required else "",
            _escape(prop.get("description", "")),
        ]
        for name, prop in schema.get("properties", {}).items()
    ]
    return _table(["field", "type", "required", "meaning"], rows) if rows else ""


def schema_page(path: Path) -> str:
    """A schema's title, description and fields (its ``$defs`` and ``oneOf`` shapes too)."""
    schema = json.loads(path.read_text())
    rel = path.relative_to(ROOT)
    out = [f"### {_escape(schema.get('title', rel.name))}\n", f"`{rel}` (`{schema['$id']}`)\n"]
    if schema.get("description"):
        out.append(_escape(schema["description"]) + "\n")
    out.append(_fields(schema))
    for number, shape in enumerate(schema.get("oneOf", []), 1):
        title = shape.get("title") or shape.get("description") or f"shape {number}"
        out.append(f"Shape {number}: {_escape(title)}\n\n{_fields(shape)}")
    for name, sub in schema.get("$defs", {}).items():
        if sub.get("properties"):
            out.append(f"`{name}`:\n\n{_fields(sub)}")
    return "\n".join(out)


def protocol_schemas() -> str:
    order = ["start", "start-reply", "run", "run-reply", "stop"]
    return "\n".join(schema_page(REFERENCE / "protocol" / f"{name}.json") for name in order)


# -- the Python API ----------------------------------------------------------------------

PUBLIC_MODULES = (
    "gi_conform",
    "gi_conform.model",
    "gi_conform.semantics",
    "gi_conform.strategies",
    "gi_conform.argv.read",
    "gi_conform.argv.options",
    "gi_conform.argv.facts",
    "gi_conform.argv.invariants",
    "gi_conform.findings",
    "gi_conform.fuzz",
    "gi_conform.oracle",
    "gi_conform.oracle.roundtrip",
    "gi_conform.oracle.page_model",
    "gi_conform.oracle.page",
    "gi_conform.groundtruth.qemu",
    "gi_conform.groundtruth.runnable",
    "gi_conform.groundtruth.tables",
    "gi_conform.groundtruth.acpi",
    "gi_conform.libvirt.install",
    "gi_conform.libvirt.lifecycle",
    "gi_conform.libvirt.convert",
    "gi_conform.libvirt.proof",
)
"""The public surfaces: each module's ``__all__`` is exactly what is public."""


def _first_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    if not isinstance(obj, type | ModuleType) and not callable(obj):
        return ""
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


def python_api() -> str:
    """Every public module with each name of its ``__all__`` and the first paragraph of
    its docstring, imported from the code."""
    out = []
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        out.append(f"## `{name}`\n")
        if module.__doc__:
            out.append(_docstring(module.__doc__.strip().split("\n\n")[0]) + "\n")
        rows = [
            [_code(item), _docstring(_first_line(getattr(module, item, None)))]
            for item in getattr(module, "__all__", [])
        ]
        out.append(_table(["name", "what"], rows))
    return "\n".join(out)


# -- the findings ledger -----------------------------------------------------------------


def findings_page() -> str:
    """The ledger, grouped by implementation, each finding with how to reproduce it."""
    by_impl: dict[str, list[Finding]] = {}
    for finding in findings():
        by_impl.setdefault(finding.implementation, []).append(finding)
    out = [
        _table(
            ["implementation", "findings"],
            ([_escape(impl), str(len(items))] for impl, items in by_impl.items()),
        )
    ]
    for impl, items in by_impl.items():
        out.append(f"## {_escape(impl)}\n")
        for finding in items:
            out.append(f"### {_escape(finding.title)}\n")
            facts = [
                ("id", f"`{finding.id}`"),
                ("version", _escape(finding.version)),
                ("case", f"`{finding.case}`" if finding.case else "(none: see the command)"),
                (
                    "kind",
                    finding.kind
                    + (" (the harness's, not the program's)" if finding.environmental else ""),
                ),
                ("expected", _escape(finding.expected)),
                ("seen", _escape(finding.seen)),
                ("settled by", _escape(finding.truth)),
                ("upstream", _escape(finding.upstream)),
            ]
            out.append(_table(["", ""], ([f"**{k}**", v] for k, v in facts)))
            needs = f"; needs {', '.join(finding.needs)}" if finding.needs else ""
            out.append(
                f"Reproduce (from the repository's root{needs}):\n\n```sh\n"
                + finding.reproduce.strip()
                + "\n```\n"
            )
    return "\n".join(out)


def conformance_summary() -> str:
    """The summary table of ``reference/implementations/conformance.md``, which
    ``python -m gi_conform.cli.publish`` renders from the published reports."""
    text = (REFERENCE / "implementations" / "conformance.md").read_text()
    table = re.search(r"^\| implementation \|.*?(?=\n\n|\Z)", text, re.DOTALL | re.MULTILINE)
    if table is None:
        raise ValueError("reference/implementations/conformance.md has no summary table")
    return table.group(0) + "\n"


def libvirt_tests() -> str:
    """libvirt's NUMA and hostdev tests (``reference/libvirt-goldens/SCOPE.toml``): the
    agreement per feature over the re-stated ones, and each test that is out of scope
    with its reason (``tests/argv/test_libvirt_goldens.py`` owns the comparison)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    goldens = importlib.import_module("tests.argv.test_libvirt_goldens")
    rows = [
        [f"`{feature}`", f"{agree} of {compared}", str(out) if out else ""]
        for feature, (agree, compared, out) in goldens.agreement().items()
    ]
    out = goldens.out_of_scope()
    listed = len(goldens.scope())
    parts = [
        f"{listed - len(out)} of the scope's {listed} tests are compared in full.\n",
        _table(["feature", "goldens agreeing", "of them out of scope"], rows),
        "",
        _table(["test out of scope", "why"], [[f"`{n}`", _escape(r)] for n, r in out.items()]),
    ]
    return "\n".join(parts) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "libvirt-tests": libvirt_tests,
    "conformance-summary": conformance_summary,
    "cli": cli,
    "rules": rule_table,
    "invariants": invariant_table,
    "cases": case_table,
    "corpus-readme": corpus_readme,
    "corpus-schema": lambda: schema_page(REFERENCE / "corpus.schema.json"),
    "protocol-schemas": protocol_schemas,
    "report-schema": lambda: schema_page(REFERENCE / "report.schema.json"),
    "proofs-schema": lambda: schema_page(REFERENCE / "implementations" / "proofs.schema.json"),
    "findings": findings_page,
    "python-api": python_api,
    "findings-schema": lambda: schema_page(REFERENCE / "findings.schema.json"),
}


def expand(text: str) -> str:
    """``text`` with every marker replaced by its generated part."""

    def part(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"unknown gi-docs part {name!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[name]()

    return MARKER.sub(part, text)


def _source_read(app: Any, docname: str, source: list[str]) -> None:
    source[0] = expand(source[0])


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _source_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
