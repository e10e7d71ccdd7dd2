#!/usr/bin/env bash
# Set up everything buildiso needs on Debian 12, as root: Debian packages + .venv.
# Idempotent: a second run installs nothing new.
#   --runtime   only what building and boot-testing need (CI jobs of ci/): no browser,
#               no node/gitlab-ci-local, no test extras
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
RUNTIME_ONLY=0
if [ "${1:-}" = "--runtime" ]; then RUNTIME_ONLY=1; fi

APT_PACKAGES=(
  python3 python3-venv python3-pip
  # mastering and checking ISOs
  xorriso isomd5sum genisoimage gdisk fdisk mtools dosfstools syslinux-utils
  # boot loaders copied into the sample base
  syslinux syslinux-common isolinux grub-efi-amd64-bin grub-pc-bin grub-common
  # RPMs and repositories
  rpm createrepo-c gnupg
  # the referee of the install set in the tests (dnf install --assumeno --installroot)
  dnf
  # sample base: initrd/stage2 and the sample OS
  busybox-static e2fsprogs kmod cpio squashfs-tools zstd xz-utils dpkg
  # sample installer stage 2: UEFI boot entry like anaconda's
  efibootmgr
  # sample installer: LVM and software RAID (stage 2 and the installed system's initramfs)
  lvm2 mdadm
  # the sample OS's yum: Debian's dnf 4 (buildiso/sample/yum.py)
  dnf python3-dnf python3-libdnf python3-hawkey python3-rpm python3-gpg python3-libcomps
  # the sample OS's sudo and PAM login (util-linux-ng), which the gateway's Server Console uses
  sudo login
  # boot tests
  qemu-system-x86 qemu-utils ovmf
)
if [ "$RUNTIME_ONLY" = 0 ]; then
  APT_PACKAGES+=(
    # the HTML boot-test report is checked in a real browser (buildiso report)
    chromium
    # the CI templates' test runs the GitLab pipeline locally (gitlab-ci-local, from npm)
    git rsync
  )
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# gitlab-ci-local (npm) runs ci/gitlab-ci.yml in the test suite. Node from Debian unless a
# node with npm is already there (e.g. NodeSource's nodejs, which conflicts with Debian's npm).
# 4.65.1: the newest release that still runs on Debian 12's Node 18.
if [ "$RUNTIME_ONLY" = 0 ] && ! command -v npm >/dev/null; then
  echo "setup: installing Debian packages: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nodejs npm
fi
GITLAB_CI_LOCAL_VERSION=4.65.1
if [ "$RUNTIME_ONLY" = 0 ] && [ "$(gitlab-ci-local --version 2>/dev/null)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
  echo "setup: installing gitlab-ci-local $GITLAB_CI_LOCAL_VERSION (npm)"
  npm install -g --no-audit --no-fund "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if [ "$RUNTIME_ONLY" = 1 ]; then
  .venv/bin/python -m pip install -q -e .
else
  .venv/bin/python -m pip install -q -e '.[test]'
fi
echo "setup: ready (.venv/bin/buildiso)"
