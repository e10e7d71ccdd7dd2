"""The product's own rules for a kickstart, each with its reason (docs/design.md, validate).

They run on what RHEL 6's parser read (``ks6reader.Reading``) and on the text itself, and
each names the line where the data really is. When the data comes from a file a ``%pre``
writes at install time (``%include``), the rule says so instead of calling it missing; a
thing missing from the whole file is pointed at the place it belongs and said to be
"nowhere in the file".

- sections closed with ``%end``; no ``inst.*`` boot options (RHEL 6 ignores them); LF line
  endings;
- the profile's packages and groups in ``%packages``, its forbidden packages excluded
  (postfix, rsyslog and samba-common conflict with the gateway's own components);
- separate ``/`` and ``/var`` of at least the guide's minima, on a partition, a logical
  volume or a RAID device, also when a ``%pre`` writes them (``storage.py``); mount points
  normalised, without ``..`` (the profile's path rule, ``profilerules.path_problem``);
- ``reboot`` at the end (the guide's install ends with an automatic reboot);
- passwords only as SHA-512 crypt hashes, none set from plain text in a script (a value
  from ``openssl rand`` or ``/dev/urandom`` is no plain text); no ``user`` that is root or a
  system account (the profile's admin-user rule, ``profilerules.admin_user_problem``);
- the gateway repository (``cs-repo``) configured;
- ``%include`` only of a file a ``%pre`` writes, under /tmp or on the install media;
- no ``firewall --telnet``: RHEL 6 turns it into a service its lokkit refuses, so the
  install gets no firewall rules at all (docs/anaconda13-firewall.md).
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from buildiso.render.ks6commands import CommandChecker
from buildiso.render.ks6reader import Include, Reading, Section
from buildiso.render.profile import ROOT_MIN_MB, TRACKING_FACTOR, VAR_MIN_MB, Profile
from buildiso.render.profilerules import admin_user_problem, path_problem
from buildiso.render.storage import (
    STORAGE_COMMANDS,
    Volume,
    mounted_volumes,
    pre_written_lines,
    pre_written_paths,
)

# glibc SHA-512 crypt, with the optional "rounds=N$" (crypt(3)); salt up to 16 characters.
_SHA512_CRYPT = re.compile(r"\$6\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}")
# Where RHEL 6's installer mounts the install media (cdrom:, hd: and ISO-on-disk methods).
MEDIA_MOUNTS = ("/mnt/source", "/mnt/isodir", "/mnt/stage2")
_INST_OPTION = re.compile(r"(?<![\w.])inst\.[a-z][a-z0-9_.]*")
_SCRIPT_PASSWORD = re.compile(r"passwd\b.*--stdin|chpasswd\b(?!.*\s-e\b)(?!.*--encrypted)")
# A password made up at install time is no secret in the file: it is nowhere to leak.
_RANDOM_SOURCE = re.compile(r"openssl\s+rand\b|/dev/u?random\b|\bpwgen\b|\bmkpasswd\b|\buuidgen\b")
_METHODS = ("url", "cdrom", "harddrive", "nfs")
_MOUNTED = ("part", "partition", "logvol", "raid")  # their first word is the mount point
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_]\w*)=(.*)")
_EXPANSION = re.compile(r"[$`]")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)")

Found = Iterator[tuple[int, str]]
_TELNET = ("firewall --telnet: RHEL 6's parser turns it into the service telnet, which RHEL 6's "
           "lokkit refuses, so the install writes no firewall rules at all (every port stays "
           "closed, the product's too) and its SELinux setting is not applied either; drop it "
           "(open 23/tcp with --port=23:tcp if telnet is really wanted)")  # fmt: skip


@dataclass(frozen=True)
class _Kickstart:
    """What the rules look at: the reading, the text, and which files a %pre writes."""

    reading: Reading
    text: str
    written: dict[str, int]  # path a %pre writes -> that %pre's header line

    @property
    def complete(self) -> bool:
        """RHEL 6's parser read the whole file (else "missing" means "not read")."""
        return self.reading.stopped_at is None

    def last_command_line(self) -> int:
        return max([c.line for c in self.reading.commands] or [1])

    def pre_include(self, *, section: str | None = None, about: str = "") -> Include | None:
        """An %include of a file a %pre writes, in ``section`` (None: the command section).

        Of several, the first whose file name matches ``about`` (e.g. "part"), else the first.
        """
        found = [
            i
            for i in self.reading.includes
            if i.section == section and i.path is not None and i.path in self.written
        ]
        named = [i for i in found if about and re.search(about, i.path or "")]
        return next(iter(named or found), None)

    def from_pre(self, include: Include) -> str:
        return (
            f"{include.directive} {include.path} (line {include.line}), a file the %pre at "
            f"line {self.written[include.path or '']} writes at install time"
        )


def _kickstart(reading: Reading, text: str) -> _Kickstart:
    written: dict[str, int] = {}
    for section in reading.of("%pre"):
        for path in pre_written_paths([section.body]):
            written.setdefault(path, section.line)
    return _Kickstart(reading, text, written)


def _pre_bodies(ks: _Kickstart) -> list[list[tuple[int, str]]]:
    return [s.body for s in ks.reading.of("%pre")]


def section_rules(ks: _Kickstart) -> Found:
    for section in ks.reading.sections:
        if section.end == "next":
            yield (
                section.line,
                (
                    f"section {section.name} is not closed with %end (it ends where the next "
                    f"section starts, line {section.end_line})"
                ),
            )
        elif section.end == "eof":
            yield section.line, f"section {section.name} is not closed with %end"


def include_rules(ks: _Kickstart) -> Found:
    """%include reads a file at install time: one a %pre wrote, or one on the media."""
    for include in ks.reading.includes:
        path = include.path
        if path is None or not path.startswith("/"):
            continue  # a URL: pykickstart fetches it; nothing on this machine to protect
        norm = posixpath.normpath(path)
        if path in ks.written or norm.startswith("/tmp/"):
            continue
        if any(norm.startswith(f"{m}/") for m in MEDIA_MOUNTS):
            continue
        yield (
            include.line,
            f"{include.directive} {path}: no %pre writes this file and it is not under /tmp "
            f"or on the install media ({', '.join(MEDIA_MOUNTS)}): it would read a file of the "
            "installer's own system into the kickstart",
        )


def line_ending_rules(ks: _Kickstart) -> Found:
    """CR LF breaks the %pre/%post shells ("$'\\r': command not found") and option values."""
    crlf = [n for n, line in enumerate(ks.text.split("\n"), start=1) if line.endswith("\r")]
    if crlf:
        yield (
            crlf[0],
            f"Windows line endings (CR LF) on {len(crlf)} line(s): RHEL 6's installer and "
            "its %pre/%post shells need LF (convert with dos2unix)",
        )


def inst_rules(ks: _Kickstart) -> Found:
    for number, line in enumerate(ks.text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for match in _INST_OPTION.finditer(line):
            option = match.group(0)
            yield number, f"{option} is a RHEL 7+ boot option that RHEL 6 ignores (use ks=, ...)"


def packages_rules(ks: _Kickstart, profile: Profile) -> Found:
    sections = ks.reading.of("%packages")
    if not sections:
        if not ks.complete:
            return
        include = ks.pre_include(about="pack|pkg")
        if include is not None:
            yield (
                include.line,
                (
                    f"no %packages section in the file: it may come from {ks.from_pre(include)}, "
                    "so the product's packages cannot be checked before the install"
                ),
            )
        else:
            yield ks.last_command_line(), "no %packages section anywhere in the file"
        return
    included: dict[str, int] = {}
    excluded: dict[str, int] = {}
    groups: dict[str, int] = {}
    for section in sections:  # RHEL 6 adds every %packages section to one list
        for number, line in section.body:
            item = line.strip()
            if item.startswith("@"):
                groups.setdefault((item[1:].split() or [""])[0], number)
            elif item.startswith("-"):
                excluded.setdefault(item[1:], number)
            elif item:
                included.setdefault(item, number)
    header = sections[-1]  # the options of the last header apply (parser.py handlePackageHdr)
    where = header.line
    elsewhere = _packages_elsewhere(ks, sections)
    if not header.options.has("--nobase"):
        yield where, "%packages without --nobase: the gateway needs a minimal RHEL install"
    for group in profile.packages.groups:
        if group not in groups:
            yield where, f"required group @{group} missing from %packages{elsewhere}"
    for name in profile.packages.install:
        if name not in included:
            yield where, f"required package {name} missing from %packages{elsewhere}"
    for name in profile.packages.remove:
        if name in included:
            yield (
                included[name],
                f"forbidden package {name} is installed (it conflicts with the gateway)",
            )
        if name not in excluded:
            yield where, f"forbidden package {name} is not excluded (add -{name} to %packages)"


def _packages_elsewhere(ks: _Kickstart, sections: list[Section]) -> str:
    for section in sections:
        include = ks.pre_include(section=section.name)
        if include is not None and section.line < include.line <= (section.end_line or 0):
            return (
                f" (it may be in {ks.from_pre(include)}: that part of %packages cannot be "
                "checked before the install)"
            )
    return ""


def partition_rules(ks: _Kickstart, profile: Profile) -> Found:
    """Separate / and /var of the guide's minima (docs/product-facts.md, "Disks and partitions")."""
    commands = [(c.line, c.text) for c in ks.reading.commands]
    volumes = mounted_volumes(commands, _pre_bodies(ks))
    for line, name, mount in _mount_points(ks):
        error = path_problem(mount, absolute=True)
        if error:
            yield line, f"{name} {mount}: mount point {error}"
    var_min = VAR_MIN_MB[profile.variant]
    if profile.two_year_tracking:
        var_min = math.ceil(var_min * TRACKING_FACTOR)
    variant = f"the {profile.variant.value} variant"
    for mount, minimum in (("/", ROOT_MIN_MB), ("/var", var_min)):
        found = [v for v in volumes if v.mount == mount]
        if not found and ks.complete:
            yield _missing_mount(ks, mount, volumes)
        for volume in found:
            if volume.size_mb is None:
                yield (
                    volume.line,
                    f"{volume.describe()}: size unknown before install ({volume.unknown_why}), "
                    f"so the minimum of {minimum} MB for {variant} cannot be checked: "
                    "give it a --size of at least the minimum",
                )
            elif volume.size_mb < minimum:
                grows = (
                    " guaranteed (--grow adds only what the disk has left)" if volume.grows else ""
                )
                yield (
                    volume.line,
                    f"{volume.describe()} of {volume.size_mb} MB{grows} is too small for "
                    f"{variant} (minimum {minimum} MB)",
                )


def _mount_points(ks: _Kickstart) -> Iterator[tuple[int, str, str]]:
    """(line, command, mount point) as written (pykickstart normalises it when it reads it),
    in the command section and in the lines a %pre writes."""
    checker = CommandChecker()
    lines = [(c.line, c.text) for c in ks.reading.commands]
    for number, text in lines + list(pre_written_lines(_pre_bodies(ks))):
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            continue
        if not words or words[0] not in _MOUNTED:
            continue
        rest = checker.words(words)
        if rest and rest[0].startswith("/"):
            yield number, words[0], rest[0]


def _missing_mount(ks: _Kickstart, mount: str, volumes: list[Volume]) -> tuple[int, str]:
    wanted = "(the installation guide asks for separate / and /var)"
    kinds = "partition, logical volume or RAID device"
    autopart = next((c for c in ks.reading.commands if c.name == "autopart"), None)
    if autopart is not None:
        return autopart.line, (
            f"autopart: RHEL 6 chooses the layout itself, with no separate {mount} {wanted}"
        )
    include = ks.pre_include(about=r"part|disk|storage|layout|lvm|raid|fs")
    pre_lines = {n for body in _pre_bodies(ks) for n, _ in body}
    if include is not None and not any(v.line in pre_lines for v in volumes):
        return include.line, (
            f"no separate {mount} seen: the partitions may come from {ks.from_pre(include)}, "
            f"whose content this file does not show, so {mount} cannot be checked {wanted}"
        )
    if include is not None:
        return include.line, (
            f"no separate {mount} {kinds} among the storage lines, those {ks.from_pre(include)} "
            f"included {wanted}"
        )
    storage = next((c for c in ks.reading.commands if c.name in STORAGE_COMMANDS), None)
    if storage is not None:
        return storage.line, f"no separate {mount} {kinds} among the storage commands {wanted}"
    return ks.last_command_line(), f"no separate {mount} {kinds} anywhere in the file {wanted}"


def password_rules(ks: _Kickstart) -> Found:
    for command in ks.reading.commands:
        if command.name not in ("rootpw", "user", "sshpw"):
            continue
        words = list(command.words)
        opts = [w for w in words[1:] if w.startswith("--")]
        values = [w for w in words[1:] if not w.startswith("--")]
        secret = next((w.split("=", 1)[1] for w in opts if w.startswith("--password=")), None)
        if command.name in ("rootpw", "sshpw") and values:
            secret = values[-1]
        if secret is None:
            continue
        if "--iscrypted" not in opts or not _SHA512_CRYPT.fullmatch(secret):
            # never repeat the value: it may be a real password
            yield (
                command.line,
                f"{command.name}: password is not a SHA-512 crypt hash with --iscrypted",
            )


def script_password_rules(ks: _Kickstart) -> Found:
    """Scripts that set a password from plain text (passwd --stdin, chpasswd without -e).

    Plain text is a value written in the file: an ``echo``/``printf``/``<<<`` of a literal, of
    variables the script sets to literals, or a here-document. A value made up at install
    time (``openssl rand``, ``/dev/urandom``, ...), another program's output or a variable
    set elsewhere is not in the file, so nothing of it can leak from the media.
    """
    for section in ks.reading.of("%pre", "%post"):
        literals = {
            match.group(1)
            for _, line in section.body
            if (match := _ASSIGNMENT.match(line)) and not _EXPANSION.search(match.group(2))
        }
        for number, line in section.body:
            if line.lstrip().startswith("#") or not _SCRIPT_PASSWORD.search(line):
                continue
            if _plain_text_source(line, literals):
                yield number, f"{section.name} sets a password from plain text (use a hash)"


def _plain_text_source(line: str, literals: set[str]) -> bool:
    if _RANDOM_SOURCE.search(line):
        return False  # made up at install time (openssl rand, /dev/urandom, ...)
    if re.search(r"<<(?!<)", line):
        return True  # a here-document: the lines below are the input
    target = _SCRIPT_PASSWORD.search(line)
    assert target is not None
    before, herestring, after = line.partition("<<<")
    source = after if herestring else line[: target.start()]
    if not herestring and not re.search(r"\b(?:echo|printf)\b", source):
        return False  # another program's output or a file: not written in this one
    if "$(" in source or "`" in source:
        return False  # a command's output
    return all(name in literals for name in _VARIABLE.findall(source))


def user_rules(ks: _Kickstart) -> Found:
    for command in ks.reading.commands:
        if command.name != "user":
            continue
        try:
            words = shlex.split(command.text, comments=True)
        except ValueError:
            continue
        names = [w.split("=", 1)[1] for w in words if w.startswith("--name=")]
        names += [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--name"]
        for name in names:
            error = admin_user_problem(name)
            if error:
                yield command.line, f"user --name={name}: {error}"


def ending_rules(ks: _Kickstart) -> Found:
    commands = ks.reading.commands
    # docs/product-facts.md, "The unattended install": it ends with an automatic reboot.
    stops = [c for c in commands if c.name in ("poweroff", "halt", "shutdown")]
    for command in stops:
        yield (
            command.line,
            f"'{command.name}': the installation guide's install ends with an automatic reboot",
        )
    if ks.complete and not stops and not any(c.name == "reboot" for c in commands):
        yield ks.last_command_line(), ("no 'reboot' command anywhere in the file: the install "
                                       "must end with an automatic reboot")  # fmt: skip
    repos = [c for c in commands if c.name == "repo"]
    if any("/cs-repo" in c.text for c in repos) or not ks.complete:
        return
    method = next((c for c in commands if c.name in _METHODS), None)
    if repos:
        yield repos[0].line, ("no repo --baseurl=.../cs-repo among the repo lines: the gateway "
                              "packages are not reachable")  # fmt: skip
    elif method is not None:
        yield (
            method.line,
            (
                f"no repo --baseurl=.../cs-repo anywhere in the file (the {method.name} method "
                "line is here): the gateway packages are not reachable"
            ),
        )
    else:
        yield (
            ks.last_command_line(),
            (
                "no repo --baseurl=.../cs-repo anywhere in the file: the gateway packages are not "
                "reachable"
            ),
        )


def firewall_rules(ks: _Kickstart) -> Found:
    """The last firewall line wins; with --telnet and the firewall on, no rules at all."""
    last = ([None] + [c for c in ks.reading.commands if c.name == "firewall"])[-1]
    read = CommandChecker().read(list(last.words)) if last else None
    on = [o for o, _ in read.options if o.startswith(("--enable", "--disable"))] if read else []
    if last and read and read.has("--telnet") and on[-1:] != ["--disable"]:
        yield last.line, _TELNET


def product_problems(reading: Reading, text: str, profile: Profile) -> list[tuple[int, str]]:
    """Every product-rule problem of a kickstart RHEL 6 read as ``reading``: (line, message)."""
    ks = _kickstart(reading, text)
    found: list[tuple[int, str]] = []
    for rules in (
        section_rules(ks),
        include_rules(ks),
        line_ending_rules(ks),
        inst_rules(ks),
        packages_rules(ks, profile),
        partition_rules(ks, profile),
        password_rules(ks),
        script_password_rules(ks),
        user_rules(ks),
        ending_rules(ks),
        firewall_rules(ks),
    ):
        found.extend(rules)
    return found
