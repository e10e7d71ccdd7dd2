"""buildiso.render.ksoptions: option words read with Python 2 optparse's rules (1.74.22)."""

from __future__ import annotations

import pytest

from buildiso.render.ksoptions import OptionError, OptionSpec, read_options

NETWORK = [
    OptionSpec(("--device",), True),
    OptionSpec(("--ipv6",), True),
    OptionSpec(("--ipv6gateway",), True),
    OptionSpec(("--noipv6",), False),
    OptionSpec(("--log", "--logfile"), True),
]


def test_full_names_values_and_other_words() -> None:
    read = read_options(["--device=eth0", "--noipv6", "extra", "--ipv6", "auto"], NETWORK)
    assert read.options == (("--device", "eth0"), ("--noipv6", None), ("--ipv6", "auto"))
    assert read.words == ("extra",)
    assert read.has("--noipv6") and read.value("--device") == "eth0"


def test_unique_prefix_is_the_option() -> None:
    assert read_options(["--dev=eth0"], NETWORK).options == (("--device", "eth0"),)
    read = read_options(["--ipv6gat", "fe80::1"], NETWORK)
    assert read.options == (("--ipv6gateway", "fe80::1"),)


def test_exact_name_wins_over_longer_ones() -> None:
    assert read_options(["--ipv6=auto"], NETWORK).options == (("--ipv6", "auto"),)
    assert read_options(["--log=/x"], NETWORK).options == (("--log", "/x"),)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--ipv=x"], "ambiguous option: --ipv (--ipv6, --ipv6gateway?)"),
        (["--lo=x"], "ambiguous option: --lo (--log, --logfile?)"),  # two spellings of one option
        (["--nosuch"], "no such option: --nosuch"),
        (["-x"], "no such option: -x"),
        (["-xyz"], "no such option: -x"),
        (["--noipv6=yes"], "--noipv6 option does not take a value"),
        (["--device"], "--device option requires an argument"),
        (["--device", "--noipv6"], "option --device: invalid value '--noipv6' (starts with --)"),
    ],
)
def test_refused_as_optparse_refuses(words: list[str], message: str) -> None:
    with pytest.raises(OptionError) as info:
        read_options(words, NETWORK)
    assert str(info.value) == message


def test_double_dash_ends_the_options() -> None:
    read = read_options(["--noipv6", "--", "--device=eth0", "x"], NETWORK)
    assert read.options == (("--noipv6", None),)
    assert read.words == ("--device=eth0", "x")


def test_lone_dash_and_short_values_are_words() -> None:
    assert read_options(["-", "--device", "-"], NETWORK).words == ("-",)
    assert read_options(["--device=--"], NETWORK).value("--device") == "--"  # 2 chars: allowed


def test_last_value_wins() -> None:
    assert read_options(["--log=/a", "--logfile=/b"], NETWORK).value("--log") == "/b"
