"""Stage 4, boot-test: the mastered ISO → proof that it installs, under QEMU.

In: the ISO, the product profile, a matrix of cells (firmware × media). Out: per cell a
result (passed, or failed with a class and a reason), per-stage timings, the serial logs and
screenshots, a table and JUnit XML. Each cell boots the ISO, drives its menu, follows the
unattended install over the serial protocol, boots the installed disk and checks the report
the installed system writes about itself.
"""
