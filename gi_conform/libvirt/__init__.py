"""Stage 5, real libvirt as an implementation under test: its chroot (``install``), the
conversion of a document into libvirt's argv (``convert``), and its gaps proven in real
QEMU (``proof``)."""
