"""Stage 4, ground truth: run an argv in real QEMU and read back what the guest is given
(``qemu``, ``acpi``), then compare it with what the document asked for (``tables``)."""
