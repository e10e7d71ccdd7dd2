"""The installer proper (stage 2), run by stage 2's Python inside install.img.

Copied into install.img as the top-level package ``sampleinstaller``, so modules here
import each other relatively and never import the rest of buildiso. Host-side tests import
it as ``buildiso.sample.installer.guest``.
"""
