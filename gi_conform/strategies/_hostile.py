"""Hostile inputs: bytes meant to break a parser, all of which must be refused cleanly.

Owns :func:`hostile_documents`: fixed DTD, entity and encoding attacks, truncated and
corrupted valid documents, deep nesting, numbers past every range, strange names and
thousands of elements. It is separate from the mutations because these inputs are not
tied to one rule: robustness properties check outcomes, not verdicts.
"""

from __future__ import annotations

from hypothesis import strategies as st

from gi_conform.strategies._renderings import domain_documents

_ATTACKS: tuple[bytes, ...] = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
    b"<domain><name>&lol2;</name></domain>",
    b'<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><domain><name>&xxe;</name>'
    b"</domain>",
    b'<!DOCTYPE domain [<!ENTITY % ext SYSTEM "http://127.0.0.1:1/x.dtd"> %ext;]><domain/>',
    b'<!DOCTYPE domain SYSTEM "http://127.0.0.1:1/domain.dtd"><domain/>',
    b"\xef\xbb\xbf  <!-- c --> <!DOCTYPE domain><domain/>",
    b"<?xml version='1.0'?>\n<?pi x?>\n<!DOCTYPE domain []><domain/>",
    b"<!ENTITY x 'y'><domain/>",
    b"<domain xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='/etc/passwd'"
    b" parse='text'/></domain>",
    b"<domain><name>&undefined;</name></domain>",
    b"<domain><name>&#0;</name></domain>",
    b"<domain><name>&#xD800;</name></domain>",
    "<?xml version='1.0' encoding='UTF-16'?><domain/>".encode("utf-16"),
    b"<?xml version='1.0' encoding='ISO-8859-1'?><domain><name>caf\xe9</name></domain>",
    b"<domain><![CDATA[<cpu><numa><cell id='0' memory='1'/></numa></cpu>]]></domain>",
    b"<domain><devices><hostdev mode='subsystem' type='pci'><source><address bus='0x06'"
    b" slot='0x12' function='0x1'/></source><acpi nodeset='0'/></hostdev></devices></domain>",
)
_HUGE = (
    "9" * 40,
    "18446744073709551616",
    "4294967296",
    "-" + "9" * 20,
    "0x" + "f" * 40,
    "1e999",
    "inf",
    "NaN",
    "0" * 500 + "1",
    "1" + "0" * 4400,
)
_HUGE_SLOTS = (
    "<domain><vcpu>{}</vcpu></domain>",
    "<domain><memory unit='KiB'>{}</memory><cpu><numa><cell id='0' memory='1'/></numa></cpu>"
    "</domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='{}' cpus='0-1' memory='1'/></numa></cpu></domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='{}' memory='1'/></numa></cpu></domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-{}' memory='1'/></numa></cpu></domain>",
    "<domain><cpu><numa><cell id='0' memory='{}' unit='EiB'/></numa></cpu></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='{}' slot='0' function='0'/></source>"
    "<acpi nodeset='0-{}'/></hostdev></devices></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><acpi-generic-initiator>"
    "<pci-dev>x</pci-dev><numa-node>{}</numa-node></acpi-generic-initiator></devices></domain>",
)
_NAME_SLOTS = (
    "<domain><name>{}</name></domain>",
    "<domain type='{}'><name>x</name></domain>",
    "<domain><os><type arch='x86_64' machine='{}'>hvm</type></os></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='1' slot='0' function='0'/></source><alias name='{}'/>"
    "<acpi nodeset='0'/></hostdev></devices></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='1' slot='0' function='0'/></source><alias name='a'/>"
    "</hostdev><acpi-generic-initiator><alias name='{}'/><pci-dev>a</pci-dev>"
    "<numa-node>0</numa-node></acpi-generic-initiator></devices></domain>",
    "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor id='{}'/></source>"
    "</hostdev></devices></domain>",
)


def _attribute_safe(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


@st.composite
def _truncated(draw: st.DrawFn) -> bytes:
    data = draw(domain_documents(max_cells=6, max_hostdevs=3)).encode("utf-8")
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


@st.composite
def _corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(domain_documents(max_cells=6, max_hostdevs=3)).encode("utf-8"))
    for position, value in draw(
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=4)
    ):
        data[position] = value
    return bytes(data)


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(200, 5000))
    tag = draw(st.sampled_from(("a", "cpu", "numa", "devices", "domain")))
    return ("<domain>" + f"<{tag}>" * depth + f"</{tag}>" * depth + "</domain>").encode()


@st.composite
def _huge_numbers(draw: st.DrawFn) -> bytes:
    template = draw(st.sampled_from(_HUGE_SLOTS))
    number = draw(st.one_of(st.sampled_from(_HUGE), st.integers(-(2**70), 2**70).map(str)))
    return template.replace("{}", number).encode("utf-8")


@st.composite
def _strange_names(draw: st.DrawFn) -> bytes:
    template = draw(st.sampled_from(_NAME_SLOTS))
    name = draw(st.text(max_size=40))
    if draw(st.booleans()):
        name = "".join(f"&#{ord(char)};" if ord(char) < 32 else char for char in name)
    return template.replace("{}", _attribute_safe(name)).encode("utf-8", "surrogatepass")


@st.composite
def _many_elements(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(129, 3000))
    what = draw(st.sampled_from(("cells", "hostdevs", "seeds")))
    if what == "cells":
        body = "".join(f"<cell id='{i}' cpus='{i}' memory='1'/>" for i in range(count))
        return f"<domain><vcpu>{count}</vcpu><cpu><numa>{body}</numa></cpu></domain>".encode()
    cells = "<cpu><numa><cell id='0' memory='1'/><cell id='1' memory='0'/></numa></cpu>"
    if what == "hostdevs":
        body = "".join(
            "<hostdev mode='subsystem' type='pci'><source>"
            f"<address domain='{i >> 8}' bus='{i & 255}' slot='0' function='0'/></source>"
            "<acpi nodeset='0-1'/></hostdev>"
            for i in range(count)
        )
    else:
        body = (
            "<hostdev mode='subsystem' type='pci'><source><address bus='1' slot='0'"
            " function='0'/></source><alias name='g'/></hostdev>"
        )
        body += "".join(
            f"<acpi-generic-initiator><pci-dev>g</pci-dev><numa-node>{i % 2}</numa-node>"
            "</acpi-generic-initiator>"
            for i in range(count)
        )
    return f"<domain>{cells}<devices>{body}</devices></domain>".encode()


def hostile_documents() -> st.SearchStrategy[bytes]:
    """Bytes meant to break a parser; a sound implementation refuses them cleanly.

    Truncated and corrupted valid documents, random bytes, DTD and entity attacks
    (billion laughs, external entities, XInclude), nesting deeper than any parser limit,
    numbers far past every range, non-ASCII and control characters in names and ids,
    other encodings, and thousands of elements. Some are valid documents: robustness
    properties check outcomes, not verdicts.
    """
    return st.one_of(
        st.sampled_from(_ATTACKS),
        _truncated(),
        _corrupted(),
        st.binary(max_size=512),
        _deep(),
        _huge_numbers(),
        _strange_names(),
        _many_elements(),
    )
