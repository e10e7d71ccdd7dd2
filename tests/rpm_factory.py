"""Tiny real RPMs (rpmbuild) and a real signing key (gpg + rpmsign) for unit tests.

Each package takes ~0.1 s to build; a 2048-bit test key a second or two. Packages are
built with a gzip payload, like the sample base's (RHEL 6 rpm reads gzip, not zstd).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

EPOCH = 1_700_000_000
# Debian's rpmbuild has no BuildArch compatible with these: built with --target instead.
_TARGET_ONLY = ("i686", "i386")


def build_rpm(
    workdir: Path,
    name: str,
    *,
    version: str = "1.0",
    release: str = "1.el6",
    arch: str = "x86_64",
    epoch: int | None = None,
    requires: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
    conflicts: tuple[str, ...] = (),
    obsoletes: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
    payload: str = "w6.gzdio",
    extra_spec: str = "",
    install: str | None = None,
) -> Path:
    """Build ``name`` into ``workdir/RPMS/<arch>/`` and return the .rpm's path.

    ``payload`` is rpmbuild's ``_binary_payload`` (``w19.zstdio``: a package RHEL 6's rpm
    cannot read); ``extra_spec`` is appended to the spec (e.g. a %filetriggerin section);
    ``install`` replaces the generated %install script (then ``files`` are raw %files lines,
    e.g. ``%attr(0600,root,root) /etc/x`` or ``%dir /opt/x``).
    """
    files = files or (f"/usr/share/{name}/README",)
    tags = [f"Requires: {r}" for r in requires]
    tags += [f"Provides: {p}" for p in provides]
    tags += [f"Conflicts: {c}" for c in conflicts]
    tags += [f"Obsoletes: {o}" for o in obsoletes]
    if epoch is not None:
        tags.append(f"Epoch: {epoch}")
    if install is None:
        install = "\n".join(
            f"mkdir -p %{{buildroot}}{os.path.dirname(f)}\necho {name} > %{{buildroot}}{f}"
            for f in files
        )
    spec = workdir / "SPECS" / f"{name}-{version}-{release}.spec"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(
        f"""Name: {name}
Version: {version}
Release: {release}
Summary: test package {name}
License: MIT
{"" if arch in _TARGET_ONLY else f"BuildArch: {arch}"}
AutoReqProv: no
{chr(10).join(tags)}

%description
Test package {name}.

%install
{install}

%files
{chr(10).join(files)}
{extra_spec}"""
    )
    subprocess.run(
        [
            "rpmbuild", "-bb", "--quiet",
            "--define", f"_topdir {workdir}",
            "--define", f"_binary_payload {payload}",
            "--define", "__os_install_post %{nil}",
            "--define", "_buildhost buildiso-test",
            "--define", "use_source_date_epoch_as_buildtime 1",
            *(["--target", arch] if arch in _TARGET_ONLY else []),
            str(spec),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)},
    )  # fmt: skip
    built = workdir / "RPMS" / arch / f"{name}-{version}-{release}.{arch}.rpm"
    assert built.is_file(), built
    return built


@dataclass(frozen=True)
class SigningKey:
    gnupghome: Path
    uid: str
    key_id: str  # the 8 hex digits rpm prints
    public_key: Path

    def sign(self, rpm: Path, *, digest: str = "sha256") -> Path:
        subprocess.run(
            [
                "rpmsign", "--addsign",
                "--define", "__gpg /usr/bin/gpg",
                "--define", f"_gpg_name {self.uid}",
                "--define", f"_gpg_digest_algo {digest}",
                str(rpm),
            ],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GNUPGHOME": str(self.gnupghome)},
        )  # fmt: skip
        return rpm

    def close(self) -> None:
        """Stop the gpg-agent that signing started for this GNUPGHOME (no leaked process)."""
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"],
            env={**os.environ, "GNUPGHOME": str(self.gnupghome)},
            capture_output=True,
            check=False,
        )


def make_key(workdir: Path, uid: str) -> SigningKey:
    """A passphrase-less RSA key in its own GNUPGHOME, its public half exported."""
    home = workdir / "gnupg"
    home.mkdir(parents=True, mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    params = workdir / "keyparams"
    params.write_text(
        f"%no-protection\nKey-Type: RSA\nKey-Length: 2048\nName-Real: {uid}\n"
        "Expire-Date: 0\n%commit\n"
    )
    subprocess.run(
        ["gpg", "--batch", "--gen-key", str(params)], check=True, capture_output=True, env=env
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-keys", uid],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    long_id = next(line.split(":")[4] for line in listing.splitlines() if line.startswith("pub:"))
    public = workdir / "RPM-GPG-KEY-test"
    exported = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", uid], check=True, capture_output=True, env=env
    ).stdout
    public.write_bytes(exported)
    key = SigningKey(gnupghome=home, uid=uid, key_id=long_id[-8:].lower(), public_key=public)
    key.close()
    return key
