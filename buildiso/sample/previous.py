"""The previous sample gateway release (4.8.0 build 150): where an offline upgrade starts.

Built from ``gateway-specs-480/`` into ``OUT/gateway-rpms-480/`` next to the 4.9.0-190
packages, signed with the same key, with the same ``cs-email-repo-conf`` (the guide's
fixed file name). What 4.9.0-190 changes for an upgrade: new files and a new default in
``cs-email-core``'s ``%config(noreplace) /etc/cs-email/cs-email.conf``, an added package
(``cs-email-syslog``), an obsoleted one (``cs-email-legacy``); 4.8 writes its data under
``/var/lib/cs-email/data/``, which 4.9 keeps.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from buildiso.sample import closure, rpmbuild, signing

SPECS_DIR = Path(__file__).resolve().parent / "gateway-specs-480"
DIR_NAME = "gateway-rpms-480"
SHARED = "cs-email-repo-conf-"  # the same package in both releases


def build_previous(
    *,
    inputs: rpmbuild.SpecInputs,
    workdir: Path,
    dest: Path,
    current: list[Path],
    base_without_conflicting: list[Path],
    key: signing.SigningKey,
    epoch: int,
) -> list[Path]:
    """Build, check and sign the previous release into ``dest``; return its RPMs."""
    rpms = rpmbuild.build_specs(
        SPECS_DIR, inputs=inputs, workdir=workdir, rpm_dir=dest, epoch=epoch
    )
    for rpm in current:
        if rpm.name.startswith(SHARED):
            rpms.append(Path(shutil.copy(rpm, dest / rpm.name)))
    rpms.sort()
    closure.require_installable(
        base_without_conflicting + rpms, what="the sample base + previous gateway release"
    )
    signing.sign_rpms([r for r in rpms if not r.name.startswith(SHARED)], key=key, epoch=epoch)
    signing.export_public_key(key, dest / signing.PUBLIC_KEY_NAME)
    return rpms
