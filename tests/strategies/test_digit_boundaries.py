"""Generated documents cross the digit boundaries of node ids often.

An implementation that orders node ids as strings ("10" before "8") is right on every
topology below ten cells; the strategies draw cell counts across 9/10 often and across
99/100 now and then, so ``check``'s generated documents catch it (issue 21).
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from gi_conform import validate
from gi_conform.model import Domain
from gi_conform.oracle.shrink import generate_documents
from gi_conform.strategies._topologies import _cell_bounds

COUNT = 200


def _valid_domains() -> list[Domain]:
    reports = [validate(d.xml) for d in generate_documents(COUNT, 0) if d.rule is None]
    return [r.domain for r in reports if r.accepted and r.domain is not None]


def test_node_ids_cross_nine_and_ten_often() -> None:
    domains = _valid_domains()
    crossing = [d for d in domains if any(c.id is not None and c.id >= 10 for c in d.cells)]
    assert len(crossing) >= len(domains) // 5, (len(crossing), len(domains))
    nodesets = [
        h.nodeset
        for d in crossing
        for h in d.hostdevs
        if h.nodeset and min(h.nodeset) < 10 <= max(h.nodeset)
    ]
    assert len(nodesets) >= 5


@st.composite
def _bounds(draw: st.DrawFn, low: int, high: int) -> tuple[int, int]:
    return _cell_bounds(draw, low, high)


def test_node_ids_cross_ninety_nine_and_a_hundred() -> None:
    """Rarer (large documents): one draw in 32 narrows the cell count to 101-110 where the
    bounds allow it. How many a given seed's first draws hold depends on where Hypothesis
    spends its early examples (measured 2026-12-07 over 400 draws: seeds 0 and 1 none,
    seed 2 29, seed 3 12), so the mechanism is checked here, not one seed's luck; the
    corpus holds the large cases (``digits-cells-104``, ``cells-128``)."""
    quiet = settings(database=None, max_examples=1000, phases=[Phase.generate, Phase.shrink])
    assert find(_bounds(1, 128), lambda b: b[0] > 100, settings=quiet) == (101, 110)
    assert find(_bounds(1, 128), lambda b: 10 < b[0] < 100, settings=quiet) == (11, 20)
    with pytest.raises(NoSuchExample):
        find(_bounds(1, 100), lambda b: b[1] > 100, settings=quiet)
