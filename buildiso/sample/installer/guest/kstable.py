"""What the sample installer does with every kickstart command, option and section of RHEL 6.

One table, ``COMMANDS`` (and ``SECTIONS``), covers every command and option string of RHEL 6's
parser (pykickstart 1.74.22) and of the RHEL6 handler this stage 2 parses with (pykickstart
3.x, which differs in a few places: see ``RHEL6_ONLY_OPTIONS``). Each gets one verdict:

- ``carried``: the sample does what anaconda 13 does with it (the note says where);
- ``no-effect``: RHEL 6 accepts it and the installed system shows no trace of it (installer
  access, UI, deprecated options), so the sample accepts it too and says so on the console;
- ``refused``: RHEL 6 would carry it out but the sample cannot: the install stops with class
  ``kickstart-unsupported``, naming the command, option and line (never a silent skip);
- ``fails``: anaconda 13 itself stops on it: class ``kickstart``, as a real install would.

``survey`` lists the verdicts of a whole kickstart with their lines, without installing;
``check_line`` is what the installer's parser calls on each command line.
docs/anaconda13.md cites anaconda's source for each row.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import UNSUPPORTED, InstallFailed


class Verdict(enum.StrEnum):
    CARRIED = "carried"
    NO_EFFECT = "no-effect"
    REFUSED = "refused"
    FAILS = "fails"


@dataclass(frozen=True)
class Rule:
    verdict: Verdict
    note: str  # what the sample does with it (carried), or why not


@dataclass(frozen=True)
class CommandRule:
    rule: Rule
    options: Mapping[str, Rule]


def _c(note: str) -> Rule:
    return Rule(Verdict.CARRIED, note)


def _n(note: str) -> Rule:
    return Rule(Verdict.NO_EFFECT, note)


def _r(note: str) -> Rule:
    return Rule(Verdict.REFUSED, note)


def _f(note: str) -> Rule:
    return Rule(Verdict.FAILS, note)


def _cmd(rule: Rule, /, **options: Rule) -> CommandRule:
    """A command's rule and its options' (keyword ``only__use`` is option ``--only-use``)."""
    return CommandRule(rule, {"--" + k.replace("__", "-"): v for k, v in options.items()})


_NO_NET = "the sample installs without a network"
_ENCRYPT = "no disk encryption in the sample (no cryptsetup in stage 2)"
_REUSE = "the sample installs onto emptied disks only (no existing data reused)"
_THIN = "no thin LVM in the sample"
_DEPRECATED = "deprecated in RHEL 6: pykickstart warns and anaconda ignores it"

_PART_OPTIONS = dict(
    size=_c("partition size in MB (disk.py)"),
    grow=_c("grows into free space, in proportion to the sizes (disk.py)"),
    maxsize=_c("upper bound of --grow (disk.py)"),
    fstype=_c("ext2/ext3/ext4/swap/vfat/efi; other file systems are refused"),
    type=_c("alias of --fstype"),
    ondisk=_c("the disk the partition goes on (disks.py)"),
    ondrive=_c("alias of --ondisk"),
    asprimary=_c("a primary partition on msdos labels; more than fit: class disk (disk.py)"),
    fsoptions=_c("the options column of /etc/fstab (mounts.py)"),
    fsprofile=_c("mke2fs -T PROFILE (disk.py)"),
    label=_c("file system label (disk.py)"),
    recommended=_c("swap size from the RAM, as iutil.swapSuggestion (disk.py)"),
    hibernation=_c("swap size for hibernation, as iutil.swapSuggestion (disk.py)"),
    active=_n("parsed, never used by anaconda 13's kickstart.py"),
    bytes__per__inode=_n(_DEPRECATED),
    start=_n(_DEPRECATED),
    end=_n(_DEPRECATED),
    onpart=_r(_REUSE),
    usepart=_r(_REUSE),
    noformat=_r(_REUSE),
    onbiosdisk=_r("no BIOS disk numbers (EDD) in the sample"),
    encrypted=_r(_ENCRYPT),
    passphrase=_r(_ENCRYPT),
    cipher=_r(_ENCRYPT),
    escrowcert=_r(_ENCRYPT),
    backuppassphrase=_r(_ENCRYPT),
)

COMMANDS: dict[str, CommandRule] = {
    "auth": _cmd(_c("alias of authconfig")),
    "authconfig": _cmd(_c("runs the installed system's /usr/sbin/authconfig --update --nostart "
                          "with the line's words, as instdata.write (sysconfig.py)")),
    "autopart": _cmd(
        _c("RHEL 6's default layout: /boot 500 MB, LVM vg_HOST with lv_root, lv_home, lv_swap "
           "(autopart.py)"),
        encrypted=_r(_ENCRYPT), passphrase=_r(_ENCRYPT), cipher=_r(_ENCRYPT),
        escrowcert=_r(_ENCRYPT), backuppassphrase=_r(_ENCRYPT),
    ),
    "autostep": _cmd(_n("steps through the interactive screens; none in a cmdline install"),
                     autoscreenshot=_n("screenshots of the interactive screens")),
    "bootloader": _cmd(
        _c("the boot loader and /boot/grub/grub.conf (bootloader.py)"),
        location=_c("mbr: the disk's MBR; partition: the boot sector of the partition holding "
                    "/boot; none: no boot loader (bootloader.py)"),
        append=_c("added to the kernel command line"),
        driveorder=_c("the boot disk is the first of these (disks.py)"),
        password=_c("editing the menu needs the password (bootloader.py); hashed in "
                    "anaconda-ks.cfg"),
        md5pass=_c("editing the menu needs the password: the menu is locked (bootloader.py)"),
        iscrypted=_c("--password is a crypt hash: the menu is locked (bootloader.py)"),
        timeout=_c("the menu's timeout"),
        default=_n("names the default entry among several; the sample's menu has one"),
        lba32=_n(_DEPRECATED),
        upgrade=_f("anaconda refuses it when not upgrading (kickstart.py Bootloader.execute)"),
        disabled=_c("RHEL 6 (pykickstart 1.74) only: no boot loader, like --location=none"),
    ),
    "cdrom": _cmd(_c("installs from the CD-ROM drives' media (media.py)")),
    "clearpart": _cmd(
        _c("clears the disks (disks.py)"),
        all=_c("every partition of the disks goes"),
        linux=_c("carried out on disks without partitions; others are refused"),
        none=_c("carried out on disks without partitions; others are refused"),
        drives=_c("the disks to clear (disks.py)"),
        initlabel=_c("a new disk label is written (the sample always writes one)"),
        cdl=_n("RHEL 6 (pykickstart 1.74) only: formats s390 DASDs; none here"),
    ),
    "cmdline": _cmd(_c("the sample installer's only interface")),
    "device": _cmd(_r("no kernel modules beyond the sample's own"), opts=_r("module options")),
    "deviceprobe": _cmd(_n("nothing in anaconda 13 reads it")),
    "dmraid": _cmd(_f("anaconda 13 raises NotImplementedError (kickstart.py DmRaid.parse)"),
                   dev=_f("see dmraid"), name=_f("see dmraid")),
    "driverdisk": _cmd(_r("no driver disks in the sample"), biospart=_r("driver disk"),
                       source=_r("driver disk"), type=_r("driver disk")),
    "fcoe": _cmd(_r("no FCoE in the sample"), nic=_r("FCoE"), dcb=_r("FCoE"),
                 autovlan=_r("FCoE (RHEL 6 pykickstart 1.74 only)")),
    # The firewall row is the lokkit helper's (issue #18): it is carried out through the
    # installed system's lokkit.
    "firewall": _cmd(
        _c("the firewall step (sysconfig.py; lokkit in the installed system)"),
        enabled=_c("firewall on"), enable=_c("alias of --enabled"),
        disabled=_c("firewall off"), disable=_c("alias of --disabled"),
        port=_c("ports opened"), service=_c("services opened"), trust=_c("trusted devices"),
        ssh=_c("service ssh (lokkit: 22/tcp)"), smtp=_c("service smtp (lokkit: 25/tcp)"),
        http=_c("service http (lokkit: 80/tcp)"), ftp=_c("service ftp (lokkit: 21/tcp)"),
        telnet=_c("service telnet, as RHEL 6's parser (1.74.22) adds it although it warns the "
                  "flag is deprecated; RHEL 6's lokkit refuses that service, so no firewall "
                  "rules are written and the selinux setting fails too (kickstart.py)"),
    ),
    "firstboot": _cmd(
        _c("/etc/sysconfig/firstboot and the firstboot service (sysconfig.py)"),
        enable=_c("firstboot runs"), enabled=_c("alias of --enable"),
        disable=_c("RUN_FIRSTBOOT=NO"), disabled=_c("alias of --disable"),
        reconfig=_c("/etc/reconfigSys"),
    ),
    "graphical": _cmd(_n("the installer's interface; the sample has the text one only")),
    "group": _cmd(_c("a group in /etc/group and /etc/gshadow, as libuser (sysconfig.py)"),
                  name=_c("its name"), gid=_c("its GID")),
    "halt": _cmd(_c("halts when done (main.py)"),
                 eject=_c("ejects every CD-ROM after the install (main.py)")),
    "harddrive": _cmd(
        _c("installs from a partition: the tree or ISO images in --dir (media.py)"),
        partition=_c("the partition (sdb1, LABEL=..., UUID=...)"),
        dir=_c("the directory holding the tree or the ISO images"),
        biospart=_r("no BIOS disk numbers (EDD) in the sample"),
    ),
    "ignoredisk": _cmd(
        _c("disks the install may not use (disks.py)"),
        drives=_c("disks left alone"), only__use=_c("the only disks used"),
        interactive=_r("opens an interactive disk filter: nobody answers in a test"),
    ),
    "install": _cmd(_c("a fresh install (the only kind the sample does)"),
                    root__device=_r("upgrades only")),
    "interactive": _cmd(_r("waits for answers on the screens: nobody answers in a test")),
    "iscsi": _cmd(_r("no iSCSI in the sample"), **{k.replace("-", "__"): _r("iSCSI") for k in (
        "iface", "ipaddr", "password", "port", "reverse-password", "reverse-user", "target",
        "user")}),
    "iscsiname": _cmd(_r("no iSCSI in the sample")),
    "key": _cmd(_n("RHEL 6 reads no installation number (kickstart.py has no key handler)"),
                skip=_n("skips the installation number")),
    "keyboard": _cmd(_c("/etc/sysconfig/keyboard (sysconfig.py)")),
    "lang": _cmd(_c("/etc/sysconfig/i18n (sysconfig.py)")),
    "logging": _cmd(_n("the installer's own logs: no trace on the installed system"),
                    level=_n("the installer's log level"),
                    host=_r(f"remote syslog: {_NO_NET}"), port=_r(f"remote syslog: {_NO_NET}")),
    "logvol": _cmd(
        _c("an LVM logical volume (storage.py)"),
        vgname=_c("its volume group"), name=_c("its name"), size=_c("size in MB"),
        grow=_c("grows into the group's free space"), maxsize=_c("upper bound of --grow"),
        percent=_c("size as a share of the group"), fstype=_c("ext2/ext3/ext4/swap"),
        fsoptions=_c("the options column of /etc/fstab (mounts.py)"),
        fsprofile=_c("mke2fs -T PROFILE"),
        recommended=_c("swap size from the RAM"), hibernation=_c("swap size for hibernation"),
        bytes__per__inode=_n(_DEPRECATED),
        noformat=_r(_REUSE), useexisting=_r(_REUSE),
        encrypted=_r(_ENCRYPT), passphrase=_r(_ENCRYPT), cipher=_r(_ENCRYPT),
        escrowcert=_r(_ENCRYPT), backuppassphrase=_r(_ENCRYPT),
        thin=_r(_THIN), thinpool=_r(_THIN), poolname=_r(_THIN), chunksize=_r(_THIN),
        metadatasize=_r(_THIN), profile=_r(_THIN),
    ),
    "mediacheck": _cmd(_r("the loader's media check waits on the screen")),
    "method": _cmd(_f("not a RHEL 6 command (pykickstart 3's RHEL6 handler only)")),
    "monitor": _cmd(_n("deprecated in RHEL 6: pykickstart warns, any options"),
                    hsync=_n(_DEPRECATED), vsync=_n(_DEPRECATED), monitor=_n(_DEPRECATED),
                    noprobe=_n(_DEPRECATED)),
    "multipath": _cmd(_f("anaconda 13 raises NotImplementedError (kickstart.py MultiPath.parse)"),
                      device=_f("see multipath"), name=_f("see multipath"),
                      rule=_f("see multipath")),
    "network": _cmd(
        _c("the ifcfg file of a network device of the machine (network.py)"),
        device=_c("the device (name or MAC); none: the first one; no such device: fails as "
                  "anaconda"),
        bootproto=_c("BOOTPROTO"), ip=_c("IPADDR"), netmask=_c("NETMASK"),
        gateway=_c("GATEWAY (IPV6_DEFAULTGW for an IPv6 address)"),
        nameserver=_c("DNS1, DNS2, ..."), hostname=_c("HOSTNAME in /etc/sysconfig/network"),
        onboot=_c("ONBOOT"), noipv4=_c("no IPv4 settings"), noipv6=_c("IPV6INIT=no"),
        ipv6=_c("IPV6_AUTOCONF, DHCPV6C or IPV6ADDR"), mtu=_c("MTU"),
        ethtool=_c("ETHTOOL_OPTS"), nodefroute=_c("DEFROUTE=no"), dhcpclass=_c("DHCPCLASS"),
        domain=_c("DOMAIN (RHEL 6 pykickstart 1.74 only)"),
        ipv6gateway=_c("IPV6_DEFAULTGW (RHEL 6 pykickstart 1.74 only)"),
        vlanid=_n("anaconda 13 configures only VLANs the loader brought up: none here"),
        nodns=_n("the loader's own network; nothing on the installed system"),
        notksdevice=_n("the loader's own network; nothing on the installed system"),
        activate=_n("brings the device up in the installer; anaconda 13's stage 2 reads it "
                    "only for a new bonding device (kickstart.py NetworkData.execute), and "
                    "--bondslaves is refused here"),
        bondslaves=_r("no bonding in the sample"),
        bondopts=_r("no bonding in the sample"), essid=_r("no wireless in the sample"),
        wepkey=_r("no wireless in the sample"),
    ),
    "nfs": _cmd(_r(_NO_NET), server=_r(_NO_NET), dir=_r(_NO_NET), opts=_r(_NO_NET)),
    "part": _cmd(_c("a partition (disk.py)"), **{k: v for k, v in _PART_OPTIONS.items()}),
    "partition": _cmd(_c("alias of part"), **{k: v for k, v in _PART_OPTIONS.items()}),
    "poweroff": _cmd(_c("powers off when done (main.py)"),
                     eject=_c("ejects every CD-ROM after the install (main.py)")),
    "raid": _cmd(
        _c("a software RAID array, levels 0, 1, 4, 5, 6, 10 (storage.py)"),
        level=_c("the RAID level"), device=_c("mdN"), spares=_c("spare members"),
        fstype=_c("ext2/ext3/ext4/swap"), fsoptions=_c("the options column of /etc/fstab"),
        fsprofile=_c("mke2fs -T PROFILE"), bytes__per__inode=_n(_DEPRECATED),
        noformat=_r(_REUSE), useexisting=_r(_REUSE),
        encrypted=_r(_ENCRYPT), passphrase=_r(_ENCRYPT), cipher=_r(_ENCRYPT),
        escrowcert=_r(_ENCRYPT), backuppassphrase=_r(_ENCRYPT),
    ),
    "reboot": _cmd(_c("reboots when done (main.py)"),
                   eject=_c("ejects every CD-ROM after the install (main.py)")),
    "repo": _cmd(
        _c("a package repository (packages.py)"),
        name=_c("its name"), baseurl=_c("file:// only; other schemes are refused"),
        cost=_c("the same package in several repositories comes from the cheapest one, as "
                "yum's costExcludePackages (packages.py)"),
        noverifyssl=_n("file:// repositories have no TLS"),
        mirrorlist=_r(_NO_NET), proxy=_r(_NO_NET),
        includepkgs=_r("per-repository package filters are not carried out"),
        excludepkgs=_r("per-repository package filters are not carried out"),
        ignoregroups=_r("per-repository comps are not dropped"),
    ),
    "rescue": _cmd(_r("rescue mode, not an install"), nomount=_r("rescue"), romount=_r("rescue")),
    "rootpw": _cmd(_c("root's /etc/shadow entry (sysconfig.py)"),
                   iscrypted=_c("the password is a crypt hash"),
                   plaintext=_c("hashed with SHA-512 crypt"), lock=_c("the account is locked")),
    "selinux": _cmd(_c("lokkit --selinux=MODE in the installed system, as anaconda's "
                       "security.py; a bare selinux line disables SELinux (security.py)"),
                    enforcing=_c("enforcing"), permissive=_c("permissive"),
                    disabled=_c("disabled")),
    "services": _cmd(_c("rcN.d links as chkconfig makes them (sysconfig.py)"),
                     enabled=_c("chkconfig on"), disabled=_c("chkconfig off")),
    "shutdown": _cmd(_c("halts when done, as RHEL 6's loader does (main.py)"),
                     eject=_c("ejects every CD-ROM after the install (main.py)")),
    "skipx": _cmd(_c("no X configuration (the sample writes none)")),
    "sshpw": _cmd(_n("a login to the installer over ssh; no effect on the installed system"),
                  username=_n("see sshpw"), iscrypted=_n("see sshpw"), plaintext=_n("see sshpw"),
                  lock=_n("see sshpw")),
    "text": _cmd(_c("the text interface (the sample's only one)")),
    "timezone": _cmd(_c("/etc/sysconfig/clock and /etc/localtime (sysconfig.py)"),
                     utc=_c("UTC=true"), isUtc=_c("alias of --utc")),
    "unsupported_hardware": _cmd(_n("silences the loader's unsupported-hardware warning")),
    "updates": _cmd(_r("no updates.img in the sample")),
    "upgrade": _cmd(_r("the sample only installs"), root__device=_r("upgrades only")),
    "url": _cmd(_r(_NO_NET), url=_r(_NO_NET), proxy=_r(_NO_NET), noverifyssl=_r(_NO_NET)),
    "user": _cmd(
        _c("a user as libuser makes it: uid from 500, private group, home from /etc/skel "
           "(sysconfig.py)"),
        name=_c("its name"), password=_c("its password"), iscrypted=_c("a crypt hash"),
        plaintext=_c("hashed with SHA-512 crypt"), lock=_c("the account is locked"),
        groups=_c("supplementary groups (missing ones skipped, as libuser)"),
        homedir=_c("its home"), shell=_c("its shell"), uid=_c("its UID"), gecos=_c("GECOS"),
    ),
    "vnc": _cmd(_r("the installer's VNC display"), host=_r("VNC"), port=_r("VNC"),
                password=_r("VNC")),
    "volgroup": _cmd(
        _c("an LVM volume group (storage.py)"), pesize=_c("extent size in KiB"),
        noformat=_r(_REUSE), useexisting=_r(_REUSE),
        reserved__space=_r("no reserved space in the sample's volume groups"),
        reserved__percent=_r("no reserved space in the sample's volume groups"),
    ),
    "xconfig": _cmd(_r("no X in the sample"), **{k: _r("X") for k in (
        "defaultdesktop", "depth", "driver", "resolution", "server", "startxonboot",
        "videoram")}),
    "zerombr": _cmd(_c("disks without a valid label are initialised (the sample writes a new "
                       "label)")),
    "zfcp": _cmd(_r("s390 only"), **{k: _r("s390") for k in (
        "devnum", "fcplun", "scsiid", "scsilun", "wwpn")}),
}

# Sections: the header's own words (%post --nochroot ...).
SECTIONS: dict[str, CommandRule] = {
    "%pre": _cmd(_c("runs before the disks are read (scripts.py)"),
                 interpreter=_c("the program"), log=_c("the log file"),
                 logfile=_c("alias of --log"), erroronfail=_c("a failure stops the install")),
    "%post": _cmd(_c("runs after the boot loader, media unmounted for hd: (scripts.py)"),
                  interpreter=_c("the program"), log=_c("the log file"),
                  logfile=_c("alias of --log"), nochroot=_c("runs outside the new system"),
                  erroronfail=_c("a failure stops the install")),
    "%packages": _cmd(
        _c("the install set, resolved as `buildiso build` does (packages.py)"),
        nobase=_c("no @base"), default=_c("the groups comps marks default"),
        ignoremissing=_c("missing names are skipped"),
        excludedocs=_c("rpm's %_excludedocs, as yuminstall.doInstall"),
        instLangs=_c("rpm's %_install_langs, as yuminstall.doInstall"),
        nocore=_c("no @core, as anaconda 13's selectPackages (packages.py)"),
        resolvedeps=_f("removed in RHEL 6's parser (pykickstart 1.74: removed in F9)"),
        ignoredeps=_f("removed in RHEL 6's parser (pykickstart 1.74: removed in F9)"),
        multilib=_f("not an option of RHEL 6's %packages (pykickstart 1.74)"),
    ),
    "%traceback": _cmd(_r("the sample does not run scripts on an installer crash"),
                       interpreter=_r("%traceback"), log=_r("%traceback"),
                       logfile=_r("%traceback"), erroronfail=_r("%traceback")),
    "%include": _cmd(_c("the file is read in place, after %pre (kickstart.py)")),
    "%ksappend": _cmd(_r("the sample does not preprocess %ksappend")),
}

# RHEL 6's parser (1.74.22) knows these; this stage 2's RHEL6 handler does not (or, for
# firewall --telnet, wants a value for it). The parser takes them off the line before
# pykickstart 3 sees it (kickstart.py) and keeps them here.
RHEL6_ONLY_OPTIONS = {
    "network": ("--domain", "--ipv6gateway"),
    "bootloader": ("--disabled",),
    "clearpart": ("--cdl",),
    "firewall": ("--telnet",),
}
# Commands whose words RHEL 6 takes as they come (authconfig passes them to the authconfig
# tool; monitor is deprecated, deviceprobe unused): their options are not looked up.
FREE_FORM = frozenset({"auth", "authconfig", "monitor", "deviceprobe"})
# Commands whose line pykickstart 3 is not shown at all (its monitor knows fewer options
# than RHEL 6's deprecated one accepts).
UNPARSED = frozenset({"monitor"})


@dataclass(frozen=True)
class Finding:
    """One command, option or section word of a kickstart and its verdict."""

    line: int
    command: str
    option: str  # "" for the command (or section) itself
    rule: Rule
    file: str = ""  # an %include'd file; "" for the kickstart itself
    # when an install meets it: "parse" (the first pass, before %pre), "rhel6" (RHEL 6's
    # parser, the full pass), "check" (the checks on values before anything is written)
    phase: str = "parse"

    @property
    def where(self) -> str:
        return f"line {self.line}" + (f" of {self.file}" if self.file else "")

    @property
    def words(self) -> str:
        return f"{self.command} {self.option}".strip()

    def message(self) -> str:
        if self.rule.verdict is Verdict.REFUSED:
            return f"unsupported: {self.words} at {self.where} ({self.rule.note})"
        if self.rule.verdict is Verdict.FAILS:
            return f"{self.words} at {self.where}: {self.rule.note}"
        return f"{self.words} at {self.where}: {self.rule.verdict} ({self.rule.note})"


def resolve_option(rules: Mapping[str, Rule], word: str) -> str | None:
    """The option ``word`` stands for: itself, or the one option it abbreviates (RHEL 6's
    optparse, like pykickstart 3's argparse, takes unambiguous prefixes)."""
    if word in rules:
        return word
    matches = [name for name in rules if name.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def option_words(args: Iterable[str]) -> list[str]:
    """The ``--name`` part of each option word (``--size=100`` → ``--size``)."""
    return [a.split("=", 1)[0] for a in args if a.startswith("--") and len(a) > 2]


def _findings(table: Mapping[str, CommandRule], name: str, args: list[str], *, line: int,
              file: str, unknown: str) -> list[Finding]:
    entry = table.get(name)
    if entry is None:
        return [Finding(line, name, "", _f(unknown), file)]
    found = [Finding(line, name, "", entry.rule, file)]
    if name in FREE_FORM:
        return found
    for word in option_words(args):
        option = resolve_option(entry.options, word)
        if option is None:
            found.append(Finding(line, name, word, _f(f"not an option of RHEL 6's {name}: "
                                                      "anaconda 13's parser stops here"), file))
        else:
            found.append(Finding(line, name, option, entry.options[option], file))
    return found


def command_findings(args: list[str], *, line: int, file: str = "") -> list[Finding]:
    """The verdicts of one command line (``args`` as pykickstart splits it)."""
    return _findings(COMMANDS, args[0], args[1:], line=line, file=file,
                     unknown="not a RHEL 6 kickstart command: anaconda 13's parser stops here")


def section_findings(args: list[str], *, line: int, file: str = "") -> list[Finding]:
    """The verdicts of a section header (``%post --nochroot ...``)."""
    return _findings(SECTIONS, args[0], args[1:], line=line, file=file,
                     unknown="not a RHEL 6 kickstart section: anaconda 13's parser stops here")


def stop_on(findings: Iterable[Finding]) -> None:
    """Raise for the first refused (kickstart-unsupported) or failing (kickstart) finding."""
    for finding in findings:
        if finding.rule.verdict is Verdict.REFUSED:
            raise InstallFailed(UNSUPPORTED, finding.message())
        if finding.rule.verdict is Verdict.FAILS:
            raise InstallFailed("kickstart", finding.message())


def unsupported(what: str, where: str, why: str) -> InstallFailed:
    """The failure for a value the sample cannot carry out (an option's verdict depends on
    its value: ``repo --baseurl=http://...``, ``part --fstype=xfs``)."""
    return InstallFailed(UNSUPPORTED, f"unsupported: {what} at {where} ({why})")


def survey(path: Path) -> list[Finding]:
    """Every command, option and section of the kickstart at ``path`` (and the files it
    %includes, when they exist) with its verdict, in file order. Installs nothing."""
    from .survey import survey as survey_findings  # the parser lives with the install's parse

    return survey_findings(path)


def by_verdict(findings: Iterable[Finding]) -> dict[Verdict, list[Finding]]:
    result: dict[Verdict, list[Finding]] = {v: [] for v in Verdict}
    for finding in findings:
        result[finding.rule.verdict].append(finding)
    return result


def table_words() -> dict[str, set[str]]:
    """command → its option strings, as the table knows them (for tests and docs)."""
    return {name: set(entry.options) for name, entry in COMMANDS.items()}

