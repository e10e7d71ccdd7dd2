"""Stage 3, master: base tree + staged overlay → one hybrid, bootable ISO.

In: a base tree (a RHEL 6.10 DVD ISO read with pycdlib, or a directory), the rendered files
and ``cs-repo/``. Out: an overlay of only what is new or changed (``ks.cfg``, menus, the edited
``images/efiboot.img``, ``.treeinfo``/``.discinfo``/``media.repo``), what of the base it
leaves out (``pruning``: boot.iso, efidisk.img, TRANS.TBL), and the ISO mastered by xorriso
with El Torito BIOS + EFI, isohybrid MBR + GPT and an implanted MD5. Also reads an ISO back
(``buildiso inspect``) and checks a kickstart against install media
(``buildiso validate --media``).
"""
