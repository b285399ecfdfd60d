"""The conformance page: check reports side by side as one self-contained HTML file,
and the same summary as markdown (``gi-conform report``).

Pure functions over :class:`~gi_conform.oracle.page_model.PageReport`: the same reports
give the same bytes (nothing here reads the clock or the file system), so a published
page can be compared with a fresh render. Every string from a report is untrusted and
is escaped where it lands (text, attribute, URL, markdown); the page's script never turns
data into markup.

The HTML page: a summary per implementation (conformance, passed / failed / skipped /
errored, by mode and by dialect, failures by key), then the matrix: one row per case id
(the union over the reports, in order of first appearance), one column per report, each
cell classed ``passed``, ``failed``, ``skipped``, ``errored`` or ``absent``; a failing
cell expands (``<details>``) to its failures, the argv diff, the reason and the generated
document. Corpus case ids link to ``CASES_URL + ID + ".xml"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import PurePath
from urllib.parse import quote

from gi_conform.findings import Finding, findings_by_case
from gi_conform.oracle._page_assets import SCRIPT, STYLE
from gi_conform.oracle.page_model import PageCase, PageReport, Tally, tally
from gi_conform.oracle.score import Group

__all__ = ["DEFAULT_CASES_URL", "DEFAULT_TITLE", "PageOptions", "render_html", "render_markdown"]

DEFAULT_TITLE = "gi-conform conformance"
DEFAULT_CASES_URL = "cases/"
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_DIFFERS = (
    "the reports hold different documents under this id (generated documents depend on "
    "the generator's version): each cell's details say what it expected"
)
_EXPLAINED = (
    "Valid / invalid: the share of valid documents accepted and right / of invalid ones "
    "rejected; conformance: their mean (at most 50% for accepting or rejecting everything)."
)
_LABELS = {"passed": "pass", "failed": "fail", "skipped": "skip", "errored": "error"}


@dataclass(frozen=True)
class PageOptions:
    """What the page looks like beyond its reports."""

    title: str = DEFAULT_TITLE
    cases_url: str = DEFAULT_CASES_URL
    """Base of a corpus case's link (``BASE + ID + ".xml"``); empty: no links."""
    findings: tuple[Finding, ...] = ()
    """The findings ledger (``reference/findings.toml``): each is shown on its case's row,
    beside the failures it explains, with the truth that settles it; those the harness's
    environment causes stand apart (marked ``environment``)."""


def _clean(text: str) -> str:
    """Control characters and lone surrogates (JSON allows both) cannot be written."""
    return _UNSAFE.sub("\ufffd", text)


def _h(text: str) -> str:
    """Text or attribute value, escaped (quotes too)."""
    return escape(_clean(text), quote=True)


def _percent(figures: Tally) -> str:
    headline = figures.conformance
    return "n/a" if headline is None else f"{headline:.1f}%"


def _group(group: Group) -> str:
    """``passed/ran (rate)``: a group's right answers over its cases that ran."""
    if group.rate is None:
        return "-"
    return f"{group.passed}/{group.ran} ({group.rate:.1f}%)"


def _labels(reports: Sequence[PageReport]) -> list[str]:
    """Column names: the run's ``--label``, else the implementation's name and its mode
    unless argv; made unique."""
    labels: list[str] = []
    for report in reports:
        label = report.name if report.mode == "argv" else f"{report.name} ({report.mode})"
        label = report.label or label
        unique, n = label, 2
        while unique in labels:
            unique, n = f"{label} #{n}", n + 1
        labels.append(unique)
    return labels


def _case_order(reports: Sequence[PageReport]) -> list[tuple[str, PageCase]]:
    """Every case id once, in order of first appearance, with its first occurrence."""
    first: dict[str, PageCase] = {}
    for report in reports:
        for case in report.cases:
            first.setdefault(case.id, case)
    return list(first.items())


def _dialect_order(reports: Sequence[PageReport]) -> list[str]:
    found: list[str] = []
    for report in reports:
        found.extend(d for d in report.dialects() if d not in found)
    return found


def _key_order(reports: Sequence[PageReport]) -> list[tuple[str, int]]:
    """Every failure key or error kind of a bad case, most cases first, then by name."""
    counts: dict[str, int] = {}
    for report in reports:
        for case in report.cases:
            if case.bad:
                for key in case.keys:
                    counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# --- HTML ---------------------------------------------------------------------------


def _group_cell(group: Group, what: str) -> str:
    """A group's rate; its counts on hover (the summary tables stay narrow)."""
    if group.rate is None:
        return '<td class="num group">-</td>'
    return (
        f'<td class="num group" title="{group.passed} of {group.ran} {what}">{group.rate:.1f}%</td>'
    )


def _counts_cells(figures: Tally) -> str:
    headline = figures.conformance
    bar = (
        f'<span class="bar-wrap"><span class="bar" style="width:{headline:.1f}%"></span></span>'
        if headline is not None
        else ""
    )
    return (
        f'<td class="num">{figures.cases}</td><td class="num">{figures.passed}</td>'
        f'<td class="num">{figures.failed}</td><td class="num">{figures.skipped}</td>'
        f'<td class="num">{figures.errored}</td>'
        f"{_group_cell(figures.valid, 'valid documents accepted and right')}"
        f"{_group_cell(figures.invalid, 'invalid documents rejected')}"
        f'<td class="num conformance">{bar}{_percent(figures)}</td>'
    )


_COUNT_HEADS = (
    '<th class="num">cases</th><th class="num">passed</th><th class="num">failed</th>'
    '<th class="num">skipped</th><th class="num">errored</th>'
    '<th class="num" title="valid documents accepted and right, of those run">valid</th>'
    '<th class="num" title="invalid documents rejected, of those run">invalid</th>'
    '<th class="num" title="the mean of the valid and the invalid rate">conformance</th>'
)


def _overview(reports: Sequence[PageReport], labels: Sequence[str]) -> str:
    rows = "".join(
        f'<tr><th scope="row"><a href="#impl-{i}">{_h(label)}</a></th>'
        f"<td>{_h(report.spec)}</td><td>{_h(report.mode)}</td>"
        f"{_counts_cells(tally(report.cases))}</tr>\n"
        for i, (report, label) in enumerate(zip(reports, labels, strict=True))
    )
    return (
        '<table class="summary" id="overview"><thead><tr><th>implementation</th><th>spec</th>'
        f"<th>mode</th>{_COUNT_HEADS}</tr></thead>\n<tbody>\n{rows}</tbody></table>\n"
    )


def _impl_section(index: int, report: PageReport, label: str) -> str:
    meta = [f"spec {report.spec}", f"mode {report.mode}"]
    if report.version:
        meta.append(f"version {report.version}")
    meta.append(f"report {PurePath(report.source).name}")
    if report.started:
        meta.append(f"started {report.started}")
    meta.append(f"{report.duration_s:.1f} s")
    meta.extend(f"{name} {value}" for name, value in report.options)
    rows = [
        f'<tr class="dialect"><th scope="row">{_h(dialect)}</th>'
        f"{_counts_cells(tally(c for c in report.cases if c.dialect == dialect))}</tr>\n"
        for dialect in report.dialects()
    ]
    everything = _counts_cells(tally(report.cases))
    rows.append(f'<tr class="all"><th scope="row">all</th>{everything}</tr>\n')
    keys = _key_order([report])
    by_key = ""
    if keys:
        kinds: dict[str, str] = {}
        for case in report.cases:
            for failure in case.failures:
                kinds.setdefault(failure.key, failure.kind)
            if case.error_kind:
                kinds.setdefault(case.error_kind, "errored")
        items = "".join(
            f'<tr><td class="kind">{_h(kinds.get(key, ""))}</td>'
            f'<td><a class="key" href="#key={_h(quote(_clean(key), safe=""))}">{_h(key)}</a></td>'
            f'<td class="num">{count}</td></tr>\n'
            for key, count in keys
        )
        by_key = (
            f'<details class="keys"><summary>failures by key ({len(keys)})</summary>\n'
            '<table class="keys"><thead><tr><th>kind</th><th>failure key</th>'
            f'<th class="num">cases</th></tr></thead>\n<tbody>\n{items}</tbody></table>'
            "</details>\n"
        )
    return (
        f'<section class="impl" id="impl-{index}"><h3>{_h(label)}</h3>\n'
        f'<p class="meta">{_h("; ".join(meta))}</p>\n'
        f'<table class="dialects"><thead><tr><th>dialect ({_h(report.mode)})</th>'
        f"{_COUNT_HEADS}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody></table>\n"
        f"{by_key}</section>\n"
    )


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            lines.append(f"<b>{_h(line)}</b>")
        elif line.startswith("+"):
            lines.append(f'<span class="add">{_h(line)}</span>')
        elif line.startswith("-"):
            lines.append(f'<span class="del">{_h(line)}</span>')
        else:
            lines.append(_h(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _cell_details(case: PageCase) -> str:
    parts = []
    if case.answer or case.expect:
        parts.append(
            f'<p class="answer">answer {_h(case.answer)}; the reference expects '
            f"{_h(case.expect)} (profile {_h(case.profile)})</p>"
        )
    if case.failures:
        items = "".join(
            f'<li><span class="kind">{_h(f.kind)}</span> <span class="key">{_h(f.key)}</span>'
            f": {_h(f.message)}</li>"
            for f in case.failures
        )
        parts.append(f'<ul class="failures">{items}</ul>')
    if case.reason:
        parts.append(f'<pre class="reason">{_h(case.reason)}</pre>')
    if case.diff:
        parts.append(_diff(case.diff))
    if case.xml:
        parts.append(
            '<details class="xml"><summary>the document</summary>'
            f'<pre class="xml">{_h(case.xml)}</pre></details>'
        )
    return "".join(parts)


def _cell(case: PageCase | None) -> str:
    if case is None:
        return '<td class="cell absent" title="not in this report">&#8212;</td>'
    outcome = case.outcome
    label = _LABELS[outcome]
    classes = f"cell {outcome}" + (" known" if case.known_deviation else "")
    if outcome == "passed":
        return f'<td class="{classes}">{label}</td>'
    if outcome == "skipped" and not case.reason and not case.failures:
        return f'<td class="{classes}">{label}</td>'
    head = label
    if case.known_deviation:
        head += " (known deviation)"
    elif case.keys:
        first = case.keys[0]
        more = len(case.keys) - 1
        head += f": {_h(first)}" + (f" +{more}" if more else "")
    return (
        f'<td class="{classes}"><details><summary>{head}</summary>'
        f"{_cell_details(case)}</details></td>"
    )


def _case_head(case: PageCase, cases_url: str) -> str:
    if case.source == "corpus" and cases_url:
        href = _h(cases_url + quote(_clean(case.id), safe="") + ".xml")
        return f'<a href="{href}">{_h(case.id)}</a>'
    return _h(case.id)


def _findings_list(findings: Sequence[Finding]) -> str:
    """A row's findings: what the implementation does, and what settles it (tables, guest
    kernel, libvirt prove); the environment's findings apart, never an implementation's."""
    if not findings:
        return ""
    items = "".join(
        f'<li class="finding {"environment" if f.environmental else "implementation"}" '
        f'title="{_h(f.seen)}"><span class="key">{_h(f.id)}</span> '
        + ("<b>environment</b>: " if f.environmental else _who(f))
        + f'{_h(f.title)} <span class="meta">(truth: {_h(f.truth)})</span></li>'
        for f in findings
    )
    return f'<ul class="findings">{items}</ul>'


def _who(finding: Finding) -> str:
    return f"{_h(finding.implementation)} {_h(finding.version)}: "


def _matrix(reports: Sequence[PageReport], labels: Sequence[str], options: PageOptions) -> str:
    dialects = {d: f"d{i}" for i, d in enumerate(_dialect_order(reports))}
    keys = _key_order(reports)
    key_ids = {key: f"k{i}" for i, (key, _) in enumerate(keys)}
    lookups = [report.by_id() for report in reports]
    findings = findings_by_case(options.findings)
    heads = "".join(
        f'<th scope="col" class="impl-col">{_h(label)}<br>'
        f'<span class="meta">{_percent(tally(report.cases))}</span></th>'
        for report, label in zip(reports, labels, strict=True)
    )
    rows = []
    for case_id, first in _case_order(reports):
        found = [lookup.get(case_id) for lookup in lookups]
        present = [case for case in found if case is not None]
        bad = any(case.bad for case in present)
        row_keys = {key for case in present if case.bad for key in case.keys}
        tokens = " ".join(key_ids[key] for key, _ in keys if key in row_keys)
        row_dialects = list(dict.fromkeys(case.dialect for case in present))
        expects = list(dict.fromkeys(case.expect for case in present))
        differs = len(row_dialects) > 1 or len(expects) > 1
        cells = "".join(_cell(case) for case in found)
        rows.append(
            f'<tr data-case="{_h(case_id)}" '
            f'data-dialect="{" ".join(dialects[d] for d in row_dialects)}" '
            f'data-keys="{tokens}" data-bad="{int(bad)}"'
            + (f' class="differs" title="{_DIFFERS}"' if differs else "")
            + f'><th scope="row">{_case_head(first, options.cases_url)}'
            f"{_findings_list(findings.get(case_id, ()))}</th>"
            f'<td class="dialect">{_h(" / ".join(row_dialects))}</td>'
            f'<td class="expect">{_h(" / ".join(expects))}</td>{cells}</tr>\n'
        )
    dialect_options = "".join(
        f'<option value="{token}" data-label="{_h(d)}">{_h(d)}</option>'
        for d, token in dialects.items()
    )
    key_options = "".join(
        f'<option value="{key_ids[key]}" data-label="{_h(key)}">{_h(key)} ({count})</option>'
        for key, count in keys
    )
    filters = (
        '<form id="filters" hidden>'
        '<label><input type="checkbox" id="f-failing"> failing only</label>'
        '<label>dialect <select id="f-dialect"><option value="">all</option>'
        f"{dialect_options}</select></label>"
        '<label>failure key <select id="f-key"><option value="">any</option>'
        f"{key_options}</select></label>"
        '<label>case id <input type="search" id="f-text" size="18"></label>'
        '<button type="button" id="f-expand">expand failures</button> '
        '<button type="button" id="f-collapse">collapse</button>'
        "</form>\n"
    )
    return (
        f'{filters}<p id="shown" class="meta">{len(rows)} cases</p>\n'
        '<table id="matrix"><thead><tr><th scope="col">case</th><th scope="col">dialect</th>'
        f'<th scope="col">expect</th>{heads}</tr></thead>\n<tbody>\n{"".join(rows)}'
        "</tbody></table>\n"
    )


def render_html(reports: Sequence[PageReport], options: PageOptions = PageOptions()) -> str:
    """The whole page: inline style and script, nothing fetched."""
    labels = _labels(reports)
    sources = ", ".join(PurePath(report.source).name for report in reports)
    sections = "".join(
        _impl_section(i, report, label)
        for i, (report, label) in enumerate(zip(reports, labels, strict=True))
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="gi-conform report">\n'
        f"<title>{_h(options.title)}</title>\n<style>{STYLE}</style></head>\n"
        f"<body>\n<header><h1>{_h(options.title)}</h1>\n"
        f'<p class="meta">{len(reports)} report(s): {_h(sources)}. {_EXPLAINED}</p>'
        "</header>\n"
        f'<section id="summary"><h2>Summary</h2>\n{_overview(reports, labels)}'
        f'<div id="impls">\n{sections}</div></section>\n'
        f'<section id="cases"><h2>Cases</h2>\n{_matrix(reports, labels, options)}</section>\n'
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )


# --- markdown -----------------------------------------------------------------------


def _md(text: str) -> str:
    """Inline markdown text: no markup, no HTML, no table break, one line."""
    text = escape(_clean(text), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_counts(figures: Tally) -> str:
    return (
        f"{figures.cases} | {figures.passed} | {figures.failed} | {figures.skipped} | "
        f"{figures.errored} | {_group(figures.valid)} | {_group(figures.invalid)} | "
        f"{_percent(figures)} |"
    )


_MD_COUNT_HEADS = "cases | passed | failed | skipped | errored | valid | invalid | conformance |"
_MD_COUNT_RULE = "---:|---:|---:|---:|---:|---:|---:|---:|"


def render_markdown(reports: Sequence[PageReport], options: PageOptions = PageOptions()) -> str:
    """A summary table over the reports, then each one's figures per dialect."""
    labels = _labels(reports)
    out = [f"## {_md(options.title)}", ""]
    sources = ", ".join(_md(PurePath(report.source).name) for report in reports)
    out.append(f"Rendered by `gi-conform report` from {sources}. {_EXPLAINED}")
    out += ["", f"| implementation | spec | mode | {_MD_COUNT_HEADS}"]
    out.append(f"|---|---|---|{_MD_COUNT_RULE}")
    out.extend(
        f"| {_md(label)} | {_md(report.spec)} | {_md(report.mode)} | "
        f"{_md_counts(tally(report.cases))}"
        for report, label in zip(reports, labels, strict=True)
    )
    for report, label in zip(reports, labels, strict=True):
        out += ["", f"### {_md(label)}", ""]
        out += [f"| dialect | {_MD_COUNT_HEADS}", f"|---|{_MD_COUNT_RULE}"]
        out.extend(
            f"| {_md(dialect)} | "
            f"{_md_counts(tally(c for c in report.cases if c.dialect == dialect))}"
            for dialect in report.dialects()
        )
        out.append(f"| all | {_md_counts(tally(report.cases))}")
    return "\n".join(out) + "\n"
