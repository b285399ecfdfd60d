"""Hypothesis strategies for domain documents with generic initiators (public API).

Other implementations import these to generate inputs, so they follow Hypothesis' house
style: plural names, keyword ``min_*``/``max_*`` bounds, bad arguments raise
:class:`hypothesis.errors.InvalidArgument` when drawn (not when called), and everything
shrinks towards a small, plain document: lists are drawn with bounds, references are
chosen with ``sampled_from`` among what exists, and nothing is generated then filtered.

* :func:`topologies` - valid domain models (:class:`gi_conform.Domain`).
* :func:`renderings` - XML texts of one model that all parse back to exactly it.
* :func:`domain_documents` - the two together: valid XML text.
* :func:`invalid_documents` - ``(xml_text, rule_id)``: one mutation, one broken error rule.
* :func:`hostile_documents` - bytes meant to break a parser (all must be refused cleanly).

Needs ``hypothesis`` (a test dependency): ``import gi_conform`` itself never imports it.

This module is the public surface only; the code lives in private modules, one per
concern: ``_topologies`` (models), ``_renderings`` (models as XML text, and
:func:`domain_documents`), ``_mutations`` with ``_mutations_domain``,
``_mutations_devices`` and ``_mutation_helpers`` (invalid documents), ``_hostile``
(hostile inputs).
"""

from gi_conform.strategies._hostile import hostile_documents
from gi_conform.strategies._mutations import MUTATED_RULES, invalid_documents
from gi_conform.strategies._renderings import domain_documents, renderings
from gi_conform.strategies._topologies import topologies

__all__ = [
    "MUTATED_RULES",
    "domain_documents",
    "hostile_documents",
    "invalid_documents",
    "renderings",
    "topologies",
]
