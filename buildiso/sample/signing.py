"""The sample's throwaway RSA signing key and rpmsign of the sample gateway RPMs.

The key lives in a private GNUPGHOME under the cache (made once, reused, so the key ID
stays stable between builds on one machine). Its creation time and every signature's
time are SOURCE_DATE_EPOCH: RSA PKCS#1 v1.5 signatures are deterministic, so with an
unchanged key an unchanged package signs to identical bytes. No passphrase: the key
guards nothing but the sample, and a passphrase would need a secret somewhere.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from buildiso.atomicfile import replace_dir
from buildiso.errors import BuildError
from buildiso.run import output, run, tool_path

KEY_USER_ID = "buildiso sample signing key <sample-signing@buildiso.invalid>"
PUBLIC_KEY_NAME = "RPM-GPG-KEY-buildiso-sample"


@dataclass(frozen=True)
class SigningKey:
    gnupghome: Path
    fingerprint: str  # 40 hex digits, upper case as gpg prints it

    @property
    def key_id(self) -> str:
        """The short key ID as rpm prints it ("key ID 1a2b3c4d"): 8 lower-case hex digits."""
        return self.fingerprint[-8:].lower()


def _gpg(home: Path, *args: str, epoch: int) -> str:
    return output(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            f"--faked-system-time={epoch}!",
            *args,
        ]
    )


def _fingerprint(home: Path) -> str | None:
    try:
        listing = output(
            ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-secret-keys"],
            check=False,
        )
    finally:
        stop_agent(home)  # listing secret keys starts an agent; leave no process behind
    fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    return fingerprints[0] if fingerprints else None


def ensure_key(home: Path, *, epoch: int) -> SigningKey:
    """The sample key in ``home`` (a GNUPGHOME); generated on first use."""
    fingerprint = _fingerprint(home) if home.is_dir() else None
    if fingerprint is None:
        tmp = home.with_name(home.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, mode=0o700)
        try:
            _gpg(tmp, "--quick-gen-key", KEY_USER_ID, "rsa2048", "sign", "never", epoch=epoch)
            stop_agent(tmp)
            replace_dir(tmp, home)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        fingerprint = _fingerprint(home)
    if fingerprint is None or not re.fullmatch(r"[0-9A-F]{40}", fingerprint):
        raise BuildError(
            f"no usable signing key in {home}",
            hint=f"remove {home} so the sample key is generated again",
        )
    return SigningKey(gnupghome=home, fingerprint=fingerprint)


def stop_agent(home: Path) -> None:
    """gpg starts an agent per GNUPGHOME; stop ours so no process outlives the build."""
    run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def export_public_key(key: SigningKey, dest: Path) -> Path:
    """Write the ASCII-armoured public key to ``dest``."""
    armored = output(
        ["gpg", "--homedir", str(key.gnupghome), "--batch", "--armor", "--export", key.fingerprint]
    )
    if "BEGIN PGP PUBLIC KEY BLOCK" not in armored:
        raise BuildError(f"gpg exported no public key for {key.fingerprint}")
    dest.write_text(armored)
    return dest


def key_created(key: SigningKey) -> int:
    """When the key was made (seconds since 1970), as its public key packet says."""
    listing = output(
        ["gpg", "--homedir", str(key.gnupghome), "--batch", "--with-colons", "--list-keys",
         key.fingerprint]
    )  # fmt: skip
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "pub" and fields[5].isdigit():
            return int(fields[5])
    raise BuildError(f"gpg lists no creation time for key {key.fingerprint}")


def sign_rpms(rpms: list[Path], *, key: SigningKey, epoch: int) -> None:
    """rpmsign --addsign each package in place with ``key``."""
    # gpg refuses to sign before the key existed: a SOURCE_DATE_EPOCH older than the cached
    # key (made with an earlier epoch) signs at the key's own creation time instead.
    when = max(epoch, key_created(key))
    extra = f"--batch --pinentry-mode loopback --passphrase '' --faked-system-time={when}!"
    try:
        run(
            [
                "rpmsign",
                "--addsign",
                "--define",
                f"_gpg_path {key.gnupghome}",
                "--define",
                f"_gpg_name {key.fingerprint}",
                "--define",
                f"__gpg {tool_path('gpg')}",
                "--define",
                "_gpg_digest_algo sha256",
                "--define",
                f"_gpg_sign_cmd_extra_args {extra}",
                *[str(r) for r in rpms],
            ],
            env={"GNUPGHOME": str(key.gnupghome)},
        )
    finally:
        stop_agent(key.gnupghome)
