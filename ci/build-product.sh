#!/usr/bin/env bash
# The nightly's build job (ci/gitlab-ci.yml, ci/github/nightly.yml): `buildiso build` from
# the release team's DVD, gateway RPMs, key and password when given, from the sample base
# when no base is given. How to wire them: docs/nightly-ci.md.
#
# CI variables (all optional):
#   BUILDISO_BASE          the RHEL 6.10 DVD on the runner: the ISO file or an unpacked tree
#   BUILDISO_BASE_URL      ... or a URL the job downloads with curl; then
#   BUILDISO_BASE_SHA256   ... is required, and a download that does not match is refused
#   BUILDISO_GATEWAY_RPMS  the folder of gateway RPMs (e.g. another pipeline's artifact);
#                          required with a base, refused without one
#   BUILDISO_GPG_KEY       the vendor's public key file (GitLab: a File variable) and
#   BUILDISO_KEY_ID        its key ID (5522142c); neither: the profile's [signing]
#   BUILDISO_VARIANT       test (default) or production
#   BUILDISO_ADMIN_PASSWORD_FILE  a file holding the custom initial cs-admin password
#                          (GitLab: a File variable), passed as --password-file; or
#   BUILDISO_CS_ADMIN_PASSWORD    the password itself (masked variable / secret), which
#                          buildiso reads from its environment and removes from it
#   BUILDISO_OUT           the output folder (default: out)
#   BUILDISO_DOWNLOADS     where a downloaded DVD is kept by its sha256 (default: downloads;
#                          the templates cache it between nightlies)
#   BUILDISO               the buildiso command (default: .venv/bin/buildiso)
#
# Secrets: this script never traces (`set -x` is switched off before anything else), never
# prints a password or reads the password file, and prints a download URL without its
# user:password@ part and query string. Exit 2: the variables are wrong (one line, what to do).
set +x
set -euo pipefail

say() { printf 'build-product: %s\n' "$*"; }
refuse() {
  printf 'build-product: error: %s (hint: %s)\n' "$1" "$2" >&2
  exit 2
}
# A URL as it may be shown: no credentials, no query string (signed URLs carry tokens there).
shown_url() { printf '%s' "$1" | sed -e 's#^\([a-zA-Z][a-zA-Z0-9+.-]*://\)[^/@]*@#\1#' -e 's#[?].*$##'; }
sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

base="${BUILDISO_BASE:-}"
base_url="${BUILDISO_BASE_URL:-}"
base_sha="${BUILDISO_BASE_SHA256:-}"
rpms="${BUILDISO_GATEWAY_RPMS:-}"
gpg_key="${BUILDISO_GPG_KEY:-}"
key_id="${BUILDISO_KEY_ID:-}"
variant="${BUILDISO_VARIANT:-test}"
password_file="${BUILDISO_ADMIN_PASSWORD_FILE:-}"
out="${BUILDISO_OUT:-out}"
downloads="${BUILDISO_DOWNLOADS:-downloads}"
buildiso="${BUILDISO:-.venv/bin/buildiso}"
# GitHub passes an unset secret as an empty string; buildiso would take it for a password.
if [ -z "${BUILDISO_CS_ADMIN_PASSWORD:-}" ]; then
  unset BUILDISO_CS_ADMIN_PASSWORD
fi

# --- check every variable before doing anything -----------------------------------------
case "$variant" in
  test | production) ;;
  *) refuse "BUILDISO_VARIANT=$variant is not a variant" "test or production" ;;
esac
if [ -n "$base" ] && [ -n "$base_url" ]; then
  refuse "BUILDISO_BASE and BUILDISO_BASE_URL are both set" "give the DVD one way only"
fi
if [ -n "$base_url" ]; then
  if [ -z "$base_sha" ]; then
    refuse "BUILDISO_BASE_URL without BUILDISO_BASE_SHA256" \
      "give the DVD's sha256 (sha256sum rhel-server-6.10-x86_64-dvd.iso): an unchecked download is never built"
  fi
  base_sha="$(printf '%s' "$base_sha" | tr 'A-F' 'a-f')"
  if ! printf '%s' "$base_sha" | grep -Eqx '[0-9a-f]{64}'; then
    refuse "BUILDISO_BASE_SHA256 is not a sha256 (64 hex digits)" "copy it from sha256sum's output"
  fi
  case "$base_url" in
    http://* | https://* | ftp://* | file://*) ;;
    *) refuse "BUILDISO_BASE_URL $(shown_url "$base_url") is not an http(s), ftp or file URL" \
         "give the DVD's download URL, or its path on the runner as BUILDISO_BASE" ;;
  esac
elif [ -n "$base_sha" ]; then
  refuse "BUILDISO_BASE_SHA256 without BUILDISO_BASE_URL" "it checks a download: set the URL too, or unset it"
fi
if [ -n "$base" ] && [ ! -e "$base" ]; then
  refuse "BUILDISO_BASE=$base does not exist on this runner" "the DVD ISO or its unpacked tree, or use BUILDISO_BASE_URL"
fi
if [ -n "$base$base_url" ] && [ -z "$rpms" ]; then
  refuse "a base DVD without BUILDISO_GATEWAY_RPMS" "give the folder of gateway RPMs too"
fi
if [ -z "$base$base_url" ] && [ -n "$rpms" ]; then
  refuse "BUILDISO_GATEWAY_RPMS without a base DVD" "set BUILDISO_BASE or BUILDISO_BASE_URL too (the sample base has its own RPMs)"
fi
if [ -n "$rpms" ] && [ ! -d "$rpms" ]; then
  refuse "BUILDISO_GATEWAY_RPMS=$rpms is not a folder" "the folder holding the gateway's *.rpm files"
fi
if { [ -n "$gpg_key" ] && [ -z "$key_id" ]; } || { [ -z "$gpg_key" ] && [ -n "$key_id" ]; }; then
  refuse "BUILDISO_GPG_KEY and BUILDISO_KEY_ID go together" "set both, or neither for the profile's key"
fi
if [ -n "$gpg_key" ] && [ ! -f "$gpg_key" ]; then
  refuse "BUILDISO_GPG_KEY=$gpg_key is not a file" "a GitLab File variable, or the key file's path"
fi
if [ -n "$password_file" ]; then
  if [ -n "${BUILDISO_CS_ADMIN_PASSWORD:-}" ]; then
    refuse "BUILDISO_ADMIN_PASSWORD_FILE and BUILDISO_CS_ADMIN_PASSWORD are both set" \
      "give the custom cs-admin password one way only"
  fi
  if [ ! -f "$password_file" ] || [ ! -r "$password_file" ]; then
    refuse "BUILDISO_ADMIN_PASSWORD_FILE is not a readable file" "a GitLab File variable holding the password"
  fi
fi

# --- the DVD from a URL: downloaded once, kept by its sha256, refused on a mismatch -------
if [ -n "$base_url" ]; then
  mkdir -p "$downloads"
  base="$downloads/base-$base_sha.iso"
  if [ -f "$base" ] && [ "$(sha256_of "$base")" = "$base_sha" ]; then
    say "base DVD: $base (downloaded before, sha256 checked)"
  else
    rm -f "$base"
    say "downloading the base DVD from $(shown_url "$base_url")"
    part="$base.part"
    trap 'rm -f "$part"' EXIT
    if ! curl --fail --location --silent --show-error --retry 3 --output "$part" -- "$base_url"; then
      refuse "cannot download BUILDISO_BASE_URL $(shown_url "$base_url")" "check the URL and the runner's network"
    fi
    got="$(sha256_of "$part")"
    if [ "$got" != "$base_sha" ]; then
      rm -f "$part"
      refuse "the download from $(shown_url "$base_url") has sha256 $got, not BUILDISO_BASE_SHA256 $base_sha" \
        "a damaged or different file: check the URL and the sha256; nothing was built"
    fi
    mv -- "$part" "$base"
    trap - EXIT
    say "base DVD: $base (sha256 $got: as expected)"
  fi
fi

# --- the build --------------------------------------------------------------------------
args=(build --out "$out" --variant "$variant")
if [ -n "$base" ]; then
  args+=(--base "$base" --gateway-rpms "$rpms")
else
  say "no base DVD given: building from the sample base"
fi
if [ -n "$gpg_key" ]; then
  args+=(--gpg-key "$gpg_key" --key-id "$key_id")
fi
if [ -n "$password_file" ]; then
  args+=(--password-file "$password_file")
  say "custom cs-admin password: from BUILDISO_ADMIN_PASSWORD_FILE"
elif [ -n "${BUILDISO_CS_ADMIN_PASSWORD:-}" ]; then
  say "custom cs-admin password: from BUILDISO_CS_ADMIN_PASSWORD"
fi
say "$buildiso ${args[*]}"
exec "$buildiso" "${args[@]}"
