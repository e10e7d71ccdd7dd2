"""``python3 -m sampleinstaller`` (stage 1 runs this in install.img's chroot)."""

import sys

from .main import main

sys.exit(main())
