"""Stage 5, real libvirt as an implementation under test: where its chroot is
(``install``), building and removing it (``lifecycle``), the conversion of a document
into libvirt's argv (``convert``), and its gaps proven in real QEMU (``proof``)."""
