"""The one lxml parser configuration for every document gi-conform reads.

Documents come from users, generators and other implementations, so all of them are read
the hardened way: no entity expansion, no DTD loading or validation, no network, no
libxml2 "huge tree" mode, comments and processing instructions dropped, no ID table.
One owner, so a hardening added here protects every reader at once.
"""

from __future__ import annotations

import threading

from lxml import etree

__all__ = ["hardened_parser", "thread_parser"]

_PER_THREAD = threading.local()


def hardened_parser() -> etree.XMLParser:
    """A new parser (lxml parsers keep state: one per parse or per thread)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def thread_parser() -> etree.XMLParser:
    """This thread's hardened parser, reused from one parse to the next.

    lxml resets a parser's state and error log at each parse and already shares one
    string dictionary among a thread's parsers, so reuse changes nothing a document can
    see; it saves building a parser per document (the reference parses many).
    """
    parser: etree.XMLParser | None = getattr(_PER_THREAD, "parser", None)
    if parser is None:
        parser = _PER_THREAD.parser = hardened_parser()
    return parser
