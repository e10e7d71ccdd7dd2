"""The sample installer: a small stand-in for RHEL 6's anaconda on the sample DVD. Not product code.

``build_initrd`` makes stage 1 (isolinux/initrd.img, also the installed system's initramfs),
``build_stage2`` makes images/install.img (the installer proper, code in ``guest/``).
The serial line protocol both speak is described in PROTOCOL.md.
"""

from __future__ import annotations

from buildiso.sample.installer.initrd import build_initrd
from buildiso.sample.installer.stage2 import build_stage2

__all__ = ["build_initrd", "build_stage2"]
