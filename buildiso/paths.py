"""Where buildiso's own files live (templates, profiles, comps) and its default outputs."""

from __future__ import annotations

import os
from pathlib import Path

# The project root: templates live next to the package (kickstart/, isolinux/, comps/,
# profiles/) as the design card asks; buildiso is installed editable from a checkout.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
KICKSTART_TEMPLATES = PROJECT_ROOT / "kickstart"
ISOLINUX_TEMPLATES = PROJECT_ROOT / "isolinux"
COMPS_DIR = PROJECT_ROOT / "comps"
PROFILES_DIR = PROJECT_ROOT / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "email-490.toml"

# Default working/output area (git-ignored). BUILDISO_OUT overrides it.
DEFAULT_OUT = Path(os.environ.get("BUILDISO_OUT", PROJECT_ROOT / "out"))
DEFAULT_SAMPLE_BASE = DEFAULT_OUT / "sample-base"
