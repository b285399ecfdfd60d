"""libvirt's XML layer, and virt-install's, as round-trip implementations.

Three tools that read domain XML without building a command line, each run in the
libvirt that :func:`gi_conform.libvirt.install.locate` finds (the sid chroot of
``gi-conform libvirt setup``; virtinst comes from sid's ``virtinst`` package there):

* :func:`define_dumpxml`: ``virsh define`` + ``virsh dumpxml --inactive`` in one fresh
  virsh process on the **test driver** with an empty node (``test:///PATH`` to a
  ``<node/>`` file). The test driver runs libvirt's own domain parser, post-parse and
  validation callbacks and formatter, needs no daemon, no QEMU probe and no ``/dev/kvm``
  (the embedded QEMU driver would also work, but defining there also probes QEMU
  capabilities and holds a driver root per call); its state lives in the virsh process,
  so every case starts from nothing. An empty node avoids the default node's ``test``
  domain colliding with a document of that name;
* :func:`schema_validate`: ``virt-xml-validate FILE domain`` (libvirt's RelaxNG schema,
  through sid's ``xmllint``): a verdict, no document;
* :func:`virtinst_command`: a ``jsonl:`` server, sid's ``python3`` running
  :data:`VIRTINST_SERVER`: ``virtinst.Guest(conn, parsexml=xml).get_xml()`` with a
  ``test:///default`` connection, as virt-manager reads and writes a domain it edits.

Every process runs in a private mount and PID namespace (``/proc`` mounted there only),
like conversions (:mod:`gi_conform.libvirt.convert`).
"""

from __future__ import annotations

import re
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from gi_conform.document.xml import hardened_parser
from gi_conform.libvirt.convert import STABLE_UUID, LibvirtError, LibvirtTimeout
from gi_conform.libvirt.install import Libvirt
from gi_conform.process import run_bounded

__all__ = [
    "VIRTINST_PATH",
    "VIRTINST_SERVER",
    "XmlLayerResult",
    "chroot_command",
    "define_dumpxml",
    "schema_validate",
    "virtinst_command",
]

VIRTINST_PATH = "/usr/share/virt-manager"
"""Where Debian's ``virtinst`` package puts the library (not on python3's path)."""
_PATH = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
_ISOLATE = ("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child")
_SCRIPT = (
    'mount -t proc proc "$0/proc" || exit 125; chroot "${0:-/}" env -i '
    + _PATH
    + ' LC_ALL=C "$@"; exit $?'
)
_SAFE_UUID = re.compile(r"[0-9A-Fa-f-]{32,40}")
_UUID_TAG = re.compile(rb"<uuid(?=[\s/>])")
_NAME_END = re.compile(rb"</name>")
_VALIDATE_FAILED = (3, 4)
"""virt-xml-validate's exit status for a document that fails the schema / is not XML."""

VIRTINST_SERVER = r"""
import json, sys
sys.path.insert(0, "@PATH@")
import virtinst
conn = virtinst.VirtinstConnection("test:///default")
conn.open(None, None)
version = getattr(getattr(virtinst, "BuildConfig", None), "version", "")
for line in sys.stdin:
    message = json.loads(line)
    if message.get("cmd") == "start":
        reply = {"version": 1, "implementation": {
            "name": "virtinst", "version": str(version), "language": "python",
            "homepage": "https://virt-manager.org/", "modes": ["roundtrip"]}}
    elif message.get("cmd") == "run":
        try:
            guest = virtinst.Guest(conn, parsexml=message["case"]["xml"])
            reply = {"seq": message["seq"], "accepted": True, "xml": guest.get_xml()}
        except Exception as error:
            text = type(error).__name__ + ": " + str(error)
            reply = {"seq": message["seq"], "accepted": False, "message": text}
    else:
        break
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
""".replace("@PATH@", VIRTINST_PATH)
"""The ``jsonl:`` server virtinst runs as: one process, one test connection, every case."""


@dataclass(frozen=True)
class XmlLayerResult:
    """One tool's verdict on a document: ``xml`` is what it wrote back ("" for a verdict)."""

    accepted: bool
    xml: str
    message: str
    seconds: float


def chroot_command(libvirt: Libvirt, *argv: str) -> list[str]:
    """``argv`` run inside ``libvirt``'s root, with a clean environment, isolated."""
    root = str(libvirt.root) if libvirt.in_chroot else ""
    return [*_ISOLATE, "sh", "-c", _SCRIPT, root, *argv]


def virtinst_command(libvirt: Libvirt) -> str:
    """The shell command of the virtinst ``jsonl:`` server (see :data:`VIRTINST_SERVER`)."""
    return shlex.join(chroot_command(libvirt, "python3", "-c", VIRTINST_SERVER))


def _lookup(xml: bytes) -> tuple[bytes, str]:
    """The document as defined (a ``<uuid>`` added when it has none) and the uuid that
    ``dumpxml`` asks for; a document libxml2 cannot read is left for libvirt to judge."""
    try:
        root = etree.fromstring(xml, hardened_parser())
    except etree.XMLSyntaxError:
        return xml, STABLE_UUID
    uuid = (root.findtext("uuid") or "").strip()
    if root.find("uuid") is not None:
        return xml, uuid if _SAFE_UUID.fullmatch(uuid) else STABLE_UUID
    name = _NAME_END.search(xml)
    if _UUID_TAG.search(xml) is None and name is not None:
        tag = b"<uuid>" + STABLE_UUID.encode() + b"</uuid>"
        xml = xml[: name.end()] + tag + xml[name.end() :]
    return xml, STABLE_UUID


def _run(
    libvirt: Libvirt,
    files: dict[str, bytes],
    argv: list[str],
    timeout: float,
    memory_limit: int | None,
) -> tuple[int, str, str, float]:
    """Write ``files`` to a scratch folder in the root, run ``argv`` (``{NAME}`` is a
    file's path inside the root); returns (exit status, stdout, stderr, seconds)."""
    base = libvirt.root / "tmp" if libvirt.in_chroot else Path(tempfile.gettempdir())
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gi-conform-xml-", dir=base) as scratch:
        inside: dict[str, str] = {}
        for name, data in files.items():
            path = Path(scratch) / name
            path.write_bytes(data)
            inside[name] = (
                "/" + str(path.relative_to(libvirt.root)) if libvirt.in_chroot else str(path)
            )
        command = []
        for word in argv:
            for name, path_inside in inside.items():
                word = word.replace("{" + name + "}", path_inside)  # noqa: PLW2901
            command.append(word)
        result = run_bounded(
            chroot_command(libvirt, *command), timeout=timeout, memory_limit=memory_limit
        )
    seconds = time.monotonic() - start
    if result.timed_out:
        raise LibvirtTimeout(f"no answer within {timeout:g}s (killed)")
    if result.overflow is not None:
        raise LibvirtError(f"flooded its {result.overflow}")
    code = result.returncode if result.returncode is not None else -1
    stdout = result.stdout.decode("utf-8", errors="replace")
    stderr = result.stderr.decode("utf-8", errors="replace").strip()
    for name, path_inside in inside.items():  # messages name the file, not the scratch path
        stdout, stderr = stdout.replace(path_inside, name), stderr.replace(path_inside, name)
    return code, stdout, stderr, seconds


def define_dumpxml(
    xml: bytes, *, libvirt: Libvirt, timeout: float = 30.0, memory_limit: int | None = None
) -> XmlLayerResult:
    """libvirt's parse + format of ``xml``: ``virsh define`` then ``dumpxml --inactive``.

    Raises ``LibvirtTimeout``, or ``LibvirtError`` when virsh fails without a verdict.
    """
    document, uuid = _lookup(xml)
    code, stdout, stderr, seconds = _run(
        libvirt,
        {"node.xml": b"<node/>\n", "domain.xml": document},
        [
            "virsh",
            "-q",
            "-c",
            "test://{node.xml}",
            f"define {{domain.xml}}; dumpxml --inactive --security-info {uuid}",
        ],
        timeout,
        memory_limit,
    )
    if code == 0 and stdout.lstrip().startswith("<domain"):
        return XmlLayerResult(True, stdout, stderr, seconds)
    if code == 1 and stderr.startswith("error:") and "failed to connect" not in stderr:
        # "error: Failed to define domain from domain.xml" comes first; the reason next.
        lines = [line for line in stderr.splitlines() if "Failed to define domain" not in line]
        return XmlLayerResult(False, "", "\n".join(lines) or stderr, seconds)
    raise LibvirtError(f"virsh exited with status {code} without a verdict: {stderr[-2000:]}")


def schema_validate(
    xml: bytes, *, libvirt: Libvirt, timeout: float = 30.0, memory_limit: int | None = None
) -> XmlLayerResult:
    """libvirt's RelaxNG schema on ``xml``: ``virt-xml-validate FILE domain``.

    Raises ``LibvirtTimeout``, or ``LibvirtError`` when the validator fails otherwise.
    """
    code, stdout, stderr, seconds = _run(
        libvirt,
        {"domain.xml": xml},
        ["virt-xml-validate", "{domain.xml}", "domain"],
        timeout,
        memory_limit,
    )
    if code == 0:
        return XmlLayerResult(True, "", stderr, seconds)
    if code in _VALIDATE_FAILED:
        return XmlLayerResult(False, "", (stderr + "\n" + stdout).strip(), seconds)
    raise LibvirtError(f"virt-xml-validate exited with status {code}: {stderr[-2000:]}")
