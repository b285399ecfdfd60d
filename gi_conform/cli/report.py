"""``gi-conform report``: JSON check reports -> one self-contained HTML page and/or a
markdown summary (:mod:`gi_conform.oracle.page`).

Exit status: 0 written, 2 usage error (no output asked for, a report file unreadable, not
JSON or not a check report: the message names the file; an output not writable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gi_conform.cli.common import EXIT_ACCEPTED, UsageError

__all__ = ["add_parser", "run"]

_EPILOG = """\
The page needs no network: style and script are inline. Filters live in the URL
fragment, e.g. OUT.html#failing&key=GI-NODE-UNKNOWN&dialect=libvirt, #open=CASE-ID.
FILE may be - for standard output.
exit status: 0 written, 2 usage error or unreadable / invalid report
"""


def add_parser(commands: Any) -> None:
    """Register ``report`` on the main parser's subcommands."""
    report = commands.add_parser(
        "report",
        help="render check reports (--report json) as one HTML page and/or markdown",
        description="Render one or more JSON reports of 'gi-conform check --report json' "
        "side by side: a summary per implementation and a matrix of cases x implementations.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("reports", nargs="+", metavar="REPORT.json", help="check reports")
    report.add_argument("--html", metavar="FILE", help="write the HTML page here")
    report.add_argument("--markdown", metavar="FILE", help="write the markdown summary here")
    report.add_argument(
        "--cases-url",
        metavar="URL",
        default=None,
        help="base of a corpus case's link, URL + ID + '.xml' (default 'cases/', "
        "relative to the page; '' for no links)",
    )
    report.add_argument("--title", metavar="TEXT", default=None, help="the page's title")
    report.set_defaults(handler=run)


def _write(name: str, text: str) -> None:
    if name == "-":
        sys.stdout.write(text)
        return
    try:
        Path(name).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {name}: {error.strerror or error}") from None


def run(args: argparse.Namespace) -> int:
    """The ``report`` command: read every report, then write what was asked for."""
    from gi_conform.findings import load_findings  # noqa: PLC0415 (start-up of other commands)
    from gi_conform.oracle import page, page_model  # noqa: PLC0415 (start-up of other commands)

    if args.html is None and args.markdown is None:
        raise UsageError("report: nothing to write: give --html FILE and/or --markdown FILE")
    if args.html == "-" and args.markdown == "-":
        raise UsageError("report: --html and --markdown cannot both be standard output")
    reports = []
    for name in args.reports:
        try:
            data = Path(name).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {name}: {error.strerror or error}") from None
        try:
            reports.append(page_model.load_report(data, name))
        except page_model.ReportError as error:
            raise UsageError(str(error)) from None
    options = page.PageOptions(
        title=page.DEFAULT_TITLE if args.title is None else args.title,
        cases_url=page.DEFAULT_CASES_URL if args.cases_url is None else args.cases_url,
        findings=load_findings(),
    )
    if args.html is not None:
        _write(args.html, page.render_html(reports, options))
    if args.markdown is not None:
        _write(args.markdown, page.render_markdown(reports, options))
    return EXIT_ACCEPTED
