#!/usr/bin/env bash
# Set up everything buildiso needs on Debian 12, as root: Debian packages + .venv.
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

APT_PACKAGES=(
  python3 python3-venv python3-pip
  # mastering and checking ISOs
  xorriso isomd5sum genisoimage gdisk fdisk mtools dosfstools syslinux-utils
  # boot loaders copied into the sample base
  syslinux syslinux-common isolinux grub-efi-amd64-bin grub-pc-bin grub-common
  # RPMs and repositories
  rpm createrepo-c gnupg
  # sample base: initrd/stage2 and the sample OS
  busybox-static e2fsprogs kmod cpio squashfs-tools zstd xz-utils dpkg
  # sample installer stage 2: UEFI boot entry like anaconda's
  efibootmgr
  # the sample OS's yum: Debian's dnf 4 (buildiso/sample/yum.py)
  dnf python3-dnf python3-libdnf python3-hawkey python3-rpm python3-gpg python3-libcomps
  # boot tests
  qemu-system-x86 qemu-utils ovmf
)

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

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'
echo "setup: ready (.venv/bin/buildiso)"
