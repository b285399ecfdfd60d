"""Stage 3, the QEMU command line: the reference formatter (``build``), a reader for any
implementation's argv (``read``), the facts both yield (``facts``) and the invariants every
implementation's argv must keep (``invariants``)."""
