"""Stage 4, boot-test: the mastered ISO → proof that it does what the installation guide says.

In: the ISO, the product profile, a scenario (a TOML file: cells, inputs, steps with their
time limits; ``scenarios/*.toml`` ship install, appendix-a, appendix-b, first-login and
upgrade) and its inputs (an older release's ISO, a RHEL DVD, the online tree). Out: per cell
a typed result (passed, or failed with a class of a closed set and a reason), per-stage
timings, checks, the serial logs, screenshots and a filmstrip; a summary (naming every ISO
tested by sha256 and identity), a table and JUnit XML. One runner runs every scenario: each
cell's steps, verbs of the vocabulary (boot the media, choose an entry, follow the install,
boot the disk, log in, type, check …), dispatched in order on a session that owns the
machine.
"""
