"""Stage 1, render: product profile → kickstart and boot menus, validated.

In: a product profile (``profiles/*.toml``) and a variant, the jinja2 templates in
``kickstart/`` and ``isolinux/``, the cs-admin password (default hash or a policy-checked
custom one). Out: frozen :class:`~buildiso.render.profile.Profile` values, the rendered text
of ``ks.cfg``, ``isolinux/isolinux.cfg`` and the EFI menus, and validation problems as
``FILE:LINE: KIND: message`` (RHEL 6's own kickstart parser, as anaconda 13 reads the file,
plus the product's rules).
"""
