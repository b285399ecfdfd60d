"""Generated documents cross the digit boundaries of node ids often.

An implementation that orders node ids as strings ("10" before "8") is right on every
topology below ten cells; the strategies draw cell counts across 9/10 often and across
99/100 now and then, so ``check``'s generated documents catch it (issue 21).
"""

from __future__ import annotations

from gi_conform import validate
from gi_conform.model import Domain
from gi_conform.oracle.shrink import generate_documents

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


def test_node_ids_cross_ninety_nine_and_a_hundred() -> None:
    """Rarer (large documents): none in the first 200 draws of seed 0, 18 in 400."""
    large = [d for d in generate_documents(2 * COUNT, 0) if d.xml.count("<cell ") > 100]
    assert len(large) >= 2
