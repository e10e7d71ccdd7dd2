"""The sample base: a RHEL-6.10-shaped install DVD built from parts this machine can get.

Not product code. Nothing in buildiso/ outside this folder may import from it, except
the build command's default (no --base) path and the tests.
"""
