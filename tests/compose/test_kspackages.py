"""kspackages.py: the %packages section with line numbers."""

from __future__ import annotations

import pytest

from buildiso.compose.kspackages import (
    DEFAULT_LANG,
    Entry,
    GroupEntry,
    GroupLevel,
    PackageSelection,
    language_search_list,
    parse_packages,
)
from buildiso.errors import InputError

KS = """text
reboot
%packages --nobase --ignoremissing
@core
@base --optional   # comment
@cs-email --nodefaults
cs-email
-postfix
-@x11

# blank lines and comments are skipped
kernel*
%end
%post
echo hi
%end
"""


def test_parse_packages() -> None:
    sel = parse_packages(KS, filename="ks.cfg")
    assert sel == PackageSelection(
        groups=(
            GroupEntry("core", 4, GroupLevel.DEFAULT),
            GroupEntry("base", 5, GroupLevel.ALL),
            GroupEntry("cs-email", 6, GroupLevel.MANDATORY),
        ),
        packages=(Entry("cs-email", 7), Entry("kernel*", 12)),
        excluded=(Entry("postfix", 8),),
        excluded_groups=(Entry("x11", 9),),
        nobase=True,
        ignore_missing=True,
        line=3,
    )


def test_no_packages_section() -> None:
    assert parse_packages("text\nreboot\n") == PackageSelection()


@pytest.mark.parametrize(
    ("ks", "message"),
    [
        ("%packages\nbash\n", "ks.cfg:1: %packages is not closed with %end"),
        ("text\n%packages\nbash\n%post\n%end\n", "ks.cfg:4: %post inside %packages"),
        ("%packages --frobnicate\n%end\n", "ks.cfg:1: unknown %packages option(s): --frobnicate"),
    ],
)
def test_errors_name_the_line(ks: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_packages(ks, filename="ks.cfg")
    assert err.value.message == message


def test_sections_end_as_rhel_6_lets_them_when_asked() -> None:
    """An installer reading what RHEL 6's parser accepted: no %end (next header, end of the
    file), --nocore, and a package list a %pre wrote, read in place of its %include."""
    ks = "%packages --nobase --nocore\n@core\n%include /tmp/pkgs\n-postfix\n%post\ntrue\n"
    files = {"/tmp/pkgs": "# written by %pre\ncs-email\n-@x11\n"}
    sel = parse_packages(ks, rhel6_ends=True, include=files.get)
    assert (sel.nobase, sel.nocore) == (True, True)
    assert sel.packages == (Entry("cs-email", 3),)  # the %include line's number
    assert sel.excluded == (Entry("postfix", 4),)
    assert sel.excluded_groups == (Entry("x11", 3),)
    assert parse_packages("%packages\nbash\n", rhel6_ends=True).packages == (Entry("bash", 2),)
    with pytest.raises(InputError, match="ks.cfg:3: %include /tmp/pkgs: no such file"):
        parse_packages(ks, rhel6_ends=True, include={}.get)
    with pytest.raises(InputError, match="ks.cfg:3: %include inside %packages"):
        parse_packages(ks.replace("%post\ntrue\n", "%end\n"))  # without the reader


@pytest.mark.parametrize(
    ("lang", "expanded"),
    [("en_US.UTF-8", ("en_US.UTF-8", "en_US", "en", "C")),
     ("de_DE.UTF-8@euro", ("de_DE.UTF-8@euro", "de_DE", "de@euro", "de", "C")),
     ("ja", ("ja", "ja", "C"))],
)  # fmt: skip
def test_language_search_list(lang: str, expanded: tuple[str, ...]) -> None:
    assert language_search_list(lang) == expanded


def test_install_language_is_the_top_level_lang_command() -> None:
    ks = "%pre\nlang fr_FR.UTF-8\n%end\nlang de_DE.UTF-8  # German\n%packages\n%end\n"
    assert parse_packages(ks).lang == "de_DE.UTF-8"
    assert parse_packages("%packages\n%end\n").lang == DEFAULT_LANG == "en_US.UTF-8"
