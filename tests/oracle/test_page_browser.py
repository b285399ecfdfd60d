"""The conformance page in a real browser: Debian's headless Chromium loads a page made
from small reports (one implementation's name and messages hostile markup), takes a
screenshot and dumps the DOM after the page's script ran.

The screenshot must show the matrix (its pass / fail / error cell colours) and the failure
``#open=`` expanded (the diff's colours); the DOM must show the filters from the URL
fragment applied, that case's details open, and no injected script having run. Skips
only when no ``chromium`` is installed (``.ci/setup`` installs it).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from lxml import html

from gi_conform.oracle.page import PageOptions, render_html
from gi_conform.oracle.page_model import read_report
from tests.helpers import check_report, report_case

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium: apt-get install chromium (Debian's package; .ci/setup installs it)",
)

TITLE = "page under test"
HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
WIDTH, HEIGHT = 1400, 1200
# The page's own colours (gi_conform/oracle/_page_assets.py).
PASS_BG, FAIL_BG, ERROR_BG = (0xD8, 0xF0, 0xD8), (0xF8, 0xD0, 0xD0), (0xFB, 0xE3, 0xB8)
DIFF_ADD_BG, DIFF_DEL_BG = (0xE6, 0xF4, 0xE6), (0xFB, 0xE9, 0xE9)


def _reports() -> list[dict[str, object]]:
    ids = ["gen-0-0001", "seed-example", "gi-node-unknown", "two-gpus-nodeset", "gen-0-0002"]
    good = check_report(
        "reference",
        [report_case(i, dialect="none" if i == "gen-0-0002" else "libvirt") for i in ids],
    )
    bad = check_report(
        HOSTILE,
        [
            report_case("gen-0-0001", "errored", reason="crash: boom", error_kind="crash"),
            report_case(
                "seed-example",
                "failed",
                failures=[
                    {"kind": "fact", "key": "FACT-GI-PAIRS", "message": HOSTILE},
                    {"kind": "invariant", "key": "INV-GI-PAIRS", "message": "no node 8"},
                ],
                diff="--- expected\n+++ actual\n@@ -1,2 +1,2 @@\n"
                "-object acpi-generic-initiator,id=gi8,pci-dev=hostdev0,node=8\n"
                "+object acpi-generic-initiator,id=gi8,pci-dev=hostdev0,node=9\n",
            ),
            report_case(
                "gi-node-unknown",
                "failed",
                expect="reject",
                failures=[{"kind": "verdict", "key": "GI-NODE-UNKNOWN", "message": "accepted"}],
            ),
            report_case("two-gpus-nodeset"),
            report_case("gen-0-0002", "skipped", dialect="none", reason="not my dialect"),
        ],
    )
    return [good, bad]


def _chromium(tmp_path: Path, *args: str) -> bytes:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _png_colours(data: bytes) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Width, height and how many pixels have each RGB colour (8-bit RGB/RGBA PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    colours: Counter[tuple[int, int, int]] = Counter()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up_left = previous[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, previous[i], up_left)) & 0xFF
        colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
        previous = line
    return width, height, colours


def _near(colours: Counter[tuple[int, int, int]], target: tuple[int, int, int]) -> int:
    return sum(
        n
        for colour, n in colours.items()
        if all(abs(a - b) <= 3 for a, b in zip(colour, target, strict=True))
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("page")
    reports = [read_report(data, f"r{i}.json") for i, data in enumerate(_reports())]
    path = folder / "page.html"
    path.write_text(render_html(reports, PageOptions(title=TITLE)), encoding="utf-8")
    return path


def test_screenshot_shows_the_matrix_and_an_expanded_failure(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", page.as_uri() + "#open=seed-example")
    width, height, colours = _png_colours(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    seen = {
        name: _near(colours, colour)
        for name, colour in [
            ("pass cells", PASS_BG),
            ("fail cells", FAIL_BG),
            ("error cells", ERROR_BG),
            ("diff + lines", DIFF_ADD_BG),
            ("diff - lines", DIFF_DEL_BG),
        ]
    }
    assert all(n > 200 for n in seen.values()), seen


def test_the_script_applies_the_fragment_and_runs_nothing_from_the_report(
    page: Path, tmp_path: Path
) -> None:
    fragment = "#failing&key=FACT-GI-PAIRS&open=seed-example"
    dom = html.document_fromstring(_chromium(tmp_path, "--dump-dom", page.as_uri() + fragment))
    assert dom.find(".//title").text == TITLE, "a script from the report ran"
    assert dom.findall(".//img") == []
    assert dom.get_element_by_id("filters").get("hidden") is None
    assert dom.get_element_by_id("f-failing").get("checked") is None  # a property, not markup
    rows = {row.get("data-case"): row for row in dom.get_element_by_id("matrix").find("tbody")}
    visible = [case for case, row in rows.items() if row.get("hidden") is None]
    assert visible == ["seed-example"]
    assert dom.get_element_by_id("shown").text == "1 of 5 cases shown"
    opened = rows["seed-example"].find_class("failed")[0].find("details")
    assert opened.get("open") is not None
    assert "FACT-GI-PAIRS" in opened.find("summary").text_content()
    closed = rows["gi-node-unknown"].find_class("failed")[0].find("details")
    assert closed.get("open") is None


def test_the_dialect_and_text_filters(page: Path, tmp_path: Path) -> None:
    dom = html.document_fromstring(
        _chromium(tmp_path, "--dump-dom", page.as_uri() + "#dialect=none&q=GEN-0")
    )
    rows = dom.get_element_by_id("matrix").find("tbody")
    assert [row.get("data-case") for row in rows if row.get("hidden") is None] == ["gen-0-0002"]
    assert dom.get_element_by_id("shown").text == "1 of 5 cases shown"
