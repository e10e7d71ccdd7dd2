#!/bin/sh
# buildiso sample stage 1 (/init of isolinux/initrd.img). Not product code.
#
# With root= on the kernel command line it boots an installed system: load the disk
# drivers, mount the root file system, switch_root into /sbin/init.
# Without root= it is the installer's stage 1: find the install media the way RHEL 6's
# loader does (ks=, repo=, stage2= or the CD-ROM), mount images/install.img and run the
# installer proper (stage 2) in it. Lines of the serial protocol: see PROTOCOL.md.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /media /stage2 /sysroot

say() {
    echo "$*" > /dev/console
    # ttyS1 exists as a node even without a UART behind it; then the write just fails.
    if [ -c /dev/ttyS1 ]; then echo "$*" 2>/dev/null > /dev/ttyS1; fi
}
uptime_s() { read -r up _rest < /proc/uptime; echo "$up"; }
stage() { say "BUILDISO-STAGE name=$1 status=$2 t=$(uptime_s)"; }

# The final action after a failure we cannot hand to stage 2 (no kickstart yet): reboot.
# The boot tests run QEMU with -no-reboot, so this ends the VM; on hardware the
# machine comes back to the media's menu, whose default boots the local drive.
fail_install() {
    class="$1"
    shift
    say "ERROR: $*"
    stage "$CURRENT_STAGE" failed
    say "INSTALL-RESULT status=failed class=$class reason=\"$*\""
    sleep 3
    sync
    reboot -f
}

ROOT="" ROOTFLAGS="" ROOTMODE=rw ROOTFSTYPE="" INIT=/sbin/init KS="" REPO="" STAGE2=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) ROOT="${arg#root=}" ;;
        rootflags=*) ROOTFLAGS="${arg#rootflags=}" ;;
        rootfstype=*) ROOTFSTYPE="${arg#rootfstype=}" ;;
        ro) ROOTMODE=ro ;;
        rw) ROOTMODE=rw ;;
        init=*) INIT="${arg#init=}" ;;
        ks=*) KS="${arg#ks=}" ;;
        repo=* | method=*) REPO="${arg#*=}" ;;
        stage2=*) STAGE2="${arg#stage2=}" ;;
    esac
done

load_modules() {
    while read -r module; do
        insmod "$module" 2>/dev/null
    done < /etc/modules.load
}

# Device of a RHEL 6 device spec: sdb1, /dev/sdb1, LABEL=..., UUID=... (\x20 = space).
# Waits up to $2 seconds for it (USB sticks enumerate late). Prints nothing if not found.
find_device() {
    spec=$(echo "$1" | sed 's/\\x20/ /g')
    tries=$(( $2 * 4 ))
    while [ "$tries" -gt 0 ]; do
        case "$spec" in
            LABEL=* | UUID=*) dev=$(findfs "$spec" 2>/dev/null) ;;
            /dev/*) dev="$spec" ;;
            *) dev="/dev/$spec" ;;
        esac
        if [ -n "$dev" ] && [ -b "$dev" ]; then
            echo "$dev"
            return 0
        fi
        sleep 0.25
        tries=$(( tries - 1 ))
    done
    return 1
}

# LVM without udev (none runs here): lvm makes its own /dev nodes.
LVM_CONFIG='devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 monitoring=0 }'

# Software RAID and LVM (the kickstart's raid, volgroup, logvol): assemble every array
# on the disks, degraded ones too (a RAID 1 system must boot with a disk missing), then
# activate every volume group, so that root= can be found on them.
activate_storage() {
    if [ -x /usr/sbin/mdadm ]; then
        mkdir -p /run/mdadm
        /usr/sbin/mdadm --examine --scan > /etc/mdadm.conf 2>/dev/null
        if [ -s /etc/mdadm.conf ]; then
            /usr/sbin/mdadm --assemble --scan --run --config=/etc/mdadm.conf > /dev/null 2>&1
        fi
    fi
    if [ -x /usr/sbin/lvm ]; then
        mkdir -p /run/lock /run/lvm
        LVM_SYSTEM_DIR=/run/lvm LVM_SUPPRESS_FD_WARNINGS=1 /usr/sbin/lvm vgchange -ay --sysinit --config "$LVM_CONFIG" \
            > /dev/null 2>&1
    fi
}

boot_installed_system() {
    load_modules
    dev=""
    tries=10
    while [ -z "$dev" ] && [ "$tries" -gt 0 ]; do
        activate_storage  # again each round: disks may enumerate late (USB)
        dev=$(find_device "$ROOT" 3)
        tries=$(( tries - 1 ))
    done
    if [ -z "$dev" ]; then
        say "FIRSTBOOT-RESULT status=failed reason=\"root device $ROOT not found\""
        sleep 3
        reboot -f
    fi
    opts="$ROOTMODE"
    [ -n "$ROOTFLAGS" ] && opts="$opts,$ROOTFLAGS"
    if ! mount ${ROOTFSTYPE:+-t "$ROOTFSTYPE"} -o "$opts" "$dev" /sysroot; then
        say "FIRSTBOOT-RESULT status=failed reason=\"cannot mount root $dev ($ROOT)\""
        sleep 3
        reboot -f
    fi
    if [ -d /sysroot/dev ]; then mount -o move /dev /sysroot/dev; fi
    umount /sys /proc
    exec switch_root /sysroot "$INIT"
}

if [ -n "$ROOT" ]; then
    boot_installed_system
fi

# ---- installer stage 1 ----
CURRENT_STAGE=kernel
stage kernel start
say "buildiso sample installer: loading drivers"
load_modules
stage kernel ok

CURRENT_STAGE=media
stage media start

# Split "hd:DEV:/path" into DEV and /path. DEV may itself hold no colon (LABEL values of
# RHEL media never do).
hd_device() { rest="${1#hd:}"; echo "${rest%%:*}"; }
hd_path() {
    rest="${1#hd:}"
    case "$rest" in *:*) echo "${rest#*:}" ;; *) echo / ;; esac
}

# Mount the first CD-ROM that holds an install tree (images/install.img) on /media.
mount_cdrom() {
    tries=60
    while [ "$tries" -gt 0 ]; do
        for dev in /dev/sr*; do
            [ -b "$dev" ] || continue
            if mount -t iso9660 -o ro "$dev" /media 2>/dev/null; then
                if [ -f /media/images/install.img ]; then
                    MEDIA_DEVICE="$dev"
                    return 0
                fi
                umount /media
            fi
        done
        sleep 0.25
        tries=$(( tries - 1 ))
    done
    return 1
}

METHOD="" MEDIA_DEVICE="" TREE_PATH=/ STAGE2_FILE=""
case "$REPO" in
    hd:*)
        METHOD=hd
        spec=$(hd_device "$REPO")
        TREE_PATH=$(hd_path "$REPO")
        say "Looking for installation media $spec"
        MEDIA_DEVICE=$(find_device "$spec" 20) \
            || fail_install media "installation media $spec not found (repo=$REPO)"
        mount -o ro "$MEDIA_DEVICE" /media \
            || fail_install media "cannot mount $MEDIA_DEVICE ($spec) for repo=$REPO"
        ;;
    cdrom* | "")
        METHOD=cdrom
        say "Looking for installation media on the CD-ROM drives"
        mount_cdrom || fail_install media "no CD-ROM drive holds the installation media (images/install.img)"
        ;;
    *)
        fail_install media "unsupported repo=$REPO (this installer reads hd: and cdrom media)"
        ;;
esac

# As RHEL 6's loader does (loader/cdinstall.c setupCdrom, loader/hdinstall.c
# setupIsoImages): install.img is read from images/ of the tree (on hd:, next to the ISO
# images too: the loader never looks inside them) and copied into RAM, so the media is not
# held by stage 2. The hd: device is unmounted again; a CD stays mounted (the loader's
# /mnt/stage2) until stage 2 unmounts it before the packages (yuminstall.py doInstall).
# Stage 2 mounts the install tree itself (media.py, as yuminstall.py configBaseURL).
case "$STAGE2" in
    hd:*)
        spec=$(hd_device "$STAGE2")
        dev=$(find_device "$spec" 20) || fail_install media "stage2 device $spec not found (stage2=$STAGE2)"
        mkdir -p /stage2dev
        if [ "$dev" = "$MEDIA_DEVICE" ]; then
            mount -o bind /media /stage2dev
        else
            mount -o ro "$dev" /stage2dev || fail_install media "cannot mount $dev for stage2=$STAGE2"
        fi
        STAGE2_FILE="/stage2dev$(hd_path "$STAGE2")"
        ;;
    "")
        STAGE2_FILE="/media${TREE_PATH%/}/images/install.img"
        ;;
    *)
        fail_install media "unsupported stage2=$STAGE2 (this installer reads hd: stage2 images)"
        ;;
esac
[ -f "$STAGE2_FILE" ] || fail_install media "stage 2 image $STAGE2_FILE not found on $MEDIA_DEVICE (RHEL 6's loader reads images/install.img of the tree, or next to the ISO images)"
cp "$STAGE2_FILE" /tmp/install.img || fail_install media "cannot copy $STAGE2_FILE into memory"
mount -t squashfs -o ro,loop /tmp/install.img /stage2 \
    || fail_install media "cannot mount the stage 2 image $STAGE2_FILE"
if grep -q " /stage2dev " /proc/mounts; then umount /stage2dev; fi
umount /media
say "Installation media: $MEDIA_DEVICE (method $METHOD)"

# Stage 2's writable places; the kernel file systems; the CD at /mnt/stage2 (cdrom only).
for dir in tmp run mnt; do mount -t tmpfs -o mode=0755 tmpfs "/stage2/$dir"; done
mkdir -p /stage2/mnt/sysimage /stage2/mnt/isodir /stage2/mnt/source /stage2/mnt/install
mount -o bind /dev /stage2/dev
mount -o bind /proc /stage2/proc
mount -o bind /sys /stage2/sys
if [ "$METHOD" = cdrom ]; then
    mkdir -p /stage2/mnt/stage2
    mount -t iso9660 -o ro "$MEDIA_DEVICE" /stage2/mnt/stage2 \
        || fail_install media "cannot mount $MEDIA_DEVICE again at /mnt/stage2"
fi
if [ -d /sys/firmware/efi ]; then
    mount -t efivarfs efivarfs /stage2/sys/firmware/efi/efivars 2>/dev/null
fi
cat > /stage2/run/buildiso-media <<EOF
METHOD=$METHOD
DEVICE=$MEDIA_DEVICE
TREE_PATH=$TREE_PATH
KS=$KS
EOF
stage media ok

chroot /stage2 /usr/bin/python3 -m sampleinstaller
rc=$?
if [ ! -f /stage2/run/buildiso-result ]; then
    CURRENT_STAGE=internal
    fail_install internal "the installer (stage 2) exited with code $rc without a result"
fi
action=$(cat /stage2/run/buildiso-final-action 2>/dev/null)
sync
case "$action" in
    poweroff) poweroff -f ;;
    halt) halt -f ;;
    *) reboot -f ;;
esac
