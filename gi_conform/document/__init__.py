"""Stage 1, the XML document: one hardened parser, the syntax and cross-element rules, and
the canonical XML formatter. Its output is a :class:`gi_conform.model.Domain` or violations."""
