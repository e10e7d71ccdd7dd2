"""Command line: parses arguments and calls one core function per verb. No work here.

``main(argv) -> int`` is what tests call; errors from the core are caught once, here.
Each verb imports its core module lazily so ``buildiso --help`` stays fast.
"""

from __future__ import annotations

import enum
import functools
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from buildiso import __version__, config, interrupts, paths, secretenv
from buildiso.config import (
    Accel,
    EfiFlavour,
    Firmware,
    IsolinuxFlavour,
    Media,
    Variant,
)
from buildiso.errors import BuildisoError, ValidationFailed
from buildiso.log import setup_logging

_PATH = click.Path(path_type=Path)
_EXISTING = click.Path(exists=True, path_type=Path)
_EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _choice(enum_type: type[enum.StrEnum]) -> click.Choice[str]:
    return click.Choice([e.value for e in enum_type])


profile_option = click.option(
    "--profile",
    "profile_path",
    type=_EXISTING_FILE,
    default=paths.DEFAULT_PROFILE,
    show_default=True,
    help="Product profile (TOML).",
)
variant_option = click.option("--variant", type=_choice(Variant), default=Variant.TEST.value,
                              show_default=True, help="Profile variant (sizes /var).")  # fmt: skip
password_option = click.option(
    "--password-file",
    type=_EXISTING_FILE,
    default=None,
    help="File holding a custom initial cs-admin password (or set BUILDISO_CS_ADMIN_PASSWORD). "
    "Default: the vendor default, stored only as a hash.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="buildiso")
@click.option("--debug", is_flag=True, help="Log every command run; tracebacks on errors.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Build the Secure Email Gateway installation ISO and prove it installs.

    \b
    Typical use:
      buildiso build                     # sample base -> out/EMAIL_490_190.iso
      buildiso boot-test out/EMAIL_490_190.iso --matrix
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    setup_logging(debug=debug, quiet=quiet)


@cli.command()
@profile_option
@variant_option
@password_option
@click.option(
    "--isolinux-flavour",
    type=_choice(IsolinuxFlavour),
    default=IsolinuxFlavour.SYSLINUX4.value,
    show_default=True,
    help="syslinux of the base tree: syslinux4 (RHEL 6) or syslinux6.",
)
@click.option(
    "--efi-flavour",
    type=_choice(EfiFlavour),
    default=EfiFlavour.GRUB_LEGACY.value,
    show_default=True,
    help="EFI boot loader of the base tree: grub-legacy (RHEL 6) or grub2.",
)
@click.option("--out", "out_dir", type=_PATH, required=True, help="Output folder.")
def render(
    profile_path: Path,
    variant: str,
    password_file: Path | None,
    isolinux_flavour: str,
    efi_flavour: str,
    out_dir: Path,
) -> None:
    """Render ks.cfg and the BIOS/UEFI boot menus from the profile.

    \b
    Example:
      buildiso render --variant production --efi-flavour grub2 --out /tmp/menus
    """
    from buildiso.render import templates as render_mod

    render_mod.render_command(
        profile_path=profile_path,
        variant=Variant(variant),
        password_file=password_file,
        isolinux_flavour=IsolinuxFlavour(isolinux_flavour),
        efi_flavour=EfiFlavour(efi_flavour),
        out_dir=out_dir,
    )


@cli.command()
@click.argument("ks", type=_EXISTING)
@click.option("--media", type=_EXISTING, default=None,
              help="Install media to check packages/groups/repos against: a tree or an ISO.")
@click.option("--rules", type=_choice(config.KsRules), default="all", show_default=True,
              help="rhel6: what RHEL 6 refuses; product: the product's rules; all: both.")
@profile_option
@variant_option
def validate(ks: Path, media: Path | None, rules: str, profile_path: Path, variant: str) -> None:
    """Check a kickstart: RHEL 6's parser (anaconda 13) plus the product's rules.

    \b
    Example:
      buildiso validate out/render/ks.cfg --media out/EMAIL_490_190.iso --rules all
    """
    from buildiso.render import validate as validate_mod
    check = None
    if media is not None:  # the media check, passed in: render imports no later stage
        from buildiso.master.mediacheck import media_problems
        check = functools.partial(media_problems, tree=media)
    validate_mod.validate_command(ks, check, profile_path, Variant(variant), config.KsRules(rules))


@cli.command("sample-base")
@click.option("--out", "out_dir", type=_PATH, default=paths.DEFAULT_SAMPLE_BASE, show_default=True)
@click.option("--force", is_flag=True, help="Rebuild even when the cache says nothing changed.")
def sample_base(out_dir: Path, force: bool) -> None:
    """Build the sample RHEL-6.10-shaped base tree, its ISO and the sample gateway RPMs.

    \b
    Example:
      buildiso sample-base --out out/sample-base
    """
    from buildiso.sample import base as sample_base_mod

    sample_base_mod.sample_base_command(out_dir=out_dir, force=force)


@cli.command()
@click.option(
    "--base",
    type=_EXISTING,
    default=None,
    help="RHEL 6.10 DVD ISO or unpacked tree (default: the sample base).",
)
@click.option(
    "--gateway-rpms",
    type=_EXISTING,
    default=None,
    help="Folder of gateway RPMs (default: the sample's).",
)
@profile_option
@variant_option
@password_option
@click.option("--out", "out_dir", type=_PATH, default=paths.DEFAULT_OUT, show_default=True)
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Development builds only: accept unsigned/untrusted gateway RPMs.",
)
@click.option(
    "--allow-unresolved",
    is_flag=True,
    help="Development builds only: ship unresolved Requires as warnings (conflicts still fail).",
)
@click.option(
    "--gpg-key",
    type=_EXISTING_FILE,
    default=None,
    help="Public key the gateway RPMs must be signed with (default: the profile's).",
)
@click.option("--key-id", default=None, help="That key's ID, e.g. 5522142c (with --gpg-key).")
def build(
    base: Path | None,
    gateway_rpms: Path | None,
    profile_path: Path,
    variant: str,
    password_file: Path | None,
    out_dir: Path,
    allow_unsigned: bool,
    allow_unresolved: bool,
    gpg_key: Path | None,
    key_id: str | None,
) -> None:
    """Compose base + gateway RPMs and master EMAIL_490_190.iso.

    \b
    Example:
      buildiso build --base rhel-server-6.10-x86_64-dvd.iso --gateway-rpms rpms/ --out dist/
    """
    from buildiso import build as build_mod

    build_mod.build_command(
        base=base,
        gateway_rpms=gateway_rpms,
        profile_path=profile_path,
        variant=Variant(variant),
        password_file=password_file,
        out_dir=out_dir,
        allow_unsigned=allow_unsigned,
        gpg_key=gpg_key,
        key_id=key_id,
        allow_unresolved=allow_unresolved,
    )


@cli.command()
@click.argument("iso", type=_EXISTING)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(iso: Path, as_json: bool) -> None:
    """Show an ISO's label, boot entries, MBR/GPT, implanted MD5, menus, kickstart, packages.

    \b
    Example:
      buildiso inspect out/EMAIL_490_190.iso --json
    """
    from buildiso.master import inspection as inspect_mod

    inspect_mod.inspect_command(iso=iso, as_json=as_json)


@cli.command()
@click.argument("old", type=_EXISTING)
@click.argument("new", type=_EXISTING)
def diff(old: Path, new: Path) -> None:
    """What changed between two builds' manifests.

    \b
    Example:
      buildiso diff old/EMAIL_490_190.manifest.json out/EMAIL_490_190.manifest.json
    """
    from buildiso import manifest as manifest_mod

    manifest_mod.diff_command(old=old, new=new)


@cli.command("boot-test")
@click.argument("iso", type=_EXISTING, required=False)
@click.option("--scenario", default="install", show_default=True, metavar="NAME|FILE.toml",
              help="What to prove: a shipped scenario (install, appendix-a, appendix-b, "
              "first-login, upgrade) or a scenario file of your own (docs/boot-test.md).")
@click.option("--list-steps", is_flag=True, help="Print the steps a scenario file may use, "
              "with examples, its checks, inputs and failure classes; then exit.")  # fmt: skip
@click.option("--firmware", type=_choice(Firmware), default=Firmware.BIOS.value, show_default=True)
@click.option("--media", type=_choice(Media), default=Media.DVD.value, show_default=True)
@click.option("--matrix", is_flag=True, help="The scenario's matrix (BIOS/UEFI x DVD/USB).")
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--accel", type=_choice(Accel), default=Accel.AUTO.value, show_default=True)
@click.option("--artifacts", type=_PATH, default=paths.DEFAULT_OUT / "boot-test", show_default=True)
@click.option("--junit", type=_PATH, default=None, help="Write a JUnit XML report here.")
@click.option("--wait-local-timeout", is_flag=True, help="After the install, let the menu's "
              "60 s timeout pick 'Boot from local drive' instead of pressing Enter on it.")
@click.option("--shard", "shard_text", default=None, metavar="K/N", help="With --matrix: run "
              "only shard K of N (a deterministic split balanced by expected time; CI: "
              "--shard $CI_NODE_INDEX/$CI_NODE_TOTAL).")  # fmt: skip
@click.option("--cells", "cell_list", default="", metavar="NAME,…", help="With --matrix: only "
              "these cells (comma-separated names, e.g. bios-dvd,uefi-dvd).")  # fmt: skip
@click.option("--timings-from", type=_EXISTING, default=None, metavar="RESULTS",
              help="A previous run's --artifacts folder (or its summary.json): its cells' "
              "times weigh the shards and the start order (default: the scenario's figures).")
@click.option("--frame-every", "frame_every_s", type=click.FloatRange(0, 3600), default=10.0,
              show_default=True, help="Filmstrip: a scaled screenshot at each stage change "
              "and every this many seconds within a stage (0: stage changes only).")
@click.option("--server-base", type=_EXISTING, default=None, help="appendix-a/b: the RHEL 6.10 "
              "DVD the Minimal server is installed from (default: the sample base ISO).")
@click.option("--online-tree", type=_EXISTING, default=None, help="appendix-b: the online "
              "repository tree the build wrote (default: EMAIL_490_190.online beside the ISO).")
@click.option("--timeout-scale", type=click.FloatRange(0.1, 100), default=1.0, show_default=True,
              help="Multiply every stage's time limit (busy CI runner, slow host).")  # fmt: skip
@click.option("--disk-cache", type=_PATH, default=None, metavar="DIR", help="Installed disks kept "
              "between runs, made when missing (upgrade, appendix-a/b; docs/boot-test.md).")
@click.option("--from", "from_iso", type=_PATH, help="upgrade (required): the previous "
              "release's ISO the gateway is installed from first.")  # fmt: skip
@click.option("--from-profile", type=_EXISTING, help="upgrade: the profile --from was built "
              "from (default: the one in profiles/ whose iso_name is its file name).")  # fmt: skip
@click.option("--password-file", type=_EXISTING, help="The custom cs-admin password the ISO "
              "whose admin logs in was built with (upgrade: --from's; first-login: the ISO's), "
              "or BUILDISO_CS_ADMIN_PASSWORD (default: the installation guide's default "
              "password).")  # fmt: skip
@profile_option
@variant_option
def boot_test(
    iso: Path | None,
    scenario: str,
    list_steps: bool,
    firmware: str,
    media: str,
    matrix: bool,
    jobs: int,
    accel: str,
    artifacts: Path,
    junit: Path | None,
    wait_local_timeout: bool,
    shard_text: str | None,
    cell_list: str,
    timings_from: Path | None,
    frame_every_s: float,
    timeout_scale: float,
    disk_cache: Path | None,
    server_base: Path | None,
    online_tree: Path | None,
    from_iso: Path | None,
    from_profile: Path | None,
    password_file: Path | None,
    profile_path: Path,
    variant: str,
) -> None:
    """Boot the ISO under QEMU and prove a scenario: by default the install (menu, unattended
    install, the installed disk's first boot, its checks).

    \b
    Example:
      buildiso boot-test out/EMAIL_490_190.iso --matrix --junit out/boot-test.xml
      buildiso boot-test out/EMAIL_490_190.iso --matrix --shard 2/3 --artifacts out/shard2
      buildiso boot-test out/EMAIL_490_190.iso --scenario appendix-a --disk-cache ~/disks
      buildiso boot-test out/EMAIL_490_190.iso --scenario upgrade --from out/EMAIL_480_150.iso
      buildiso boot-test out/EMAIL_490_190.iso --scenario my-check.toml
      buildiso boot-test --list-steps
    """
    if list_steps:
        from buildiso.boottest.vocabulary import describe

        click.echo(describe(), nl=False)
        return
    if iso is None:
        raise click.UsageError("Missing argument 'ISO' (or give --list-steps).")
    from buildiso.boottest.command import BootTestRequest, boot_test_command
    from buildiso.boottest.shard import parse_shard

    request = BootTestRequest(
        iso=iso,
        scenario=scenario,
        firmware=Firmware(firmware),
        media=Media(media),
        matrix=matrix,
        cell_names=tuple(n.strip() for n in cell_list.split(",") if n.strip()),
        shard=None if shard_text is None else parse_shard(shard_text),
        jobs=jobs,
        accel=Accel(accel),
        artifacts=artifacts,
        junit=junit,
        wait_local_timeout=wait_local_timeout,
        profile_path=profile_path,
        variant=Variant(variant),
        frame_every_s=frame_every_s,
        timeout_scale=timeout_scale,
        server_base=server_base,
        from_iso=from_iso,
        from_profile=from_profile,
        password_file=password_file,
        timings_from=timings_from, disk_cache=disk_cache, online_tree=online_tree,
    )  # fmt: skip
    boot_test_command(request, server_base_default=_sample_base_iso)


def _sample_base_iso() -> Path:
    """The default RHEL 6.10 DVD for a scenario's server, as build's default base: the
    sample's (only cli and build may use the sample; boottest is given this)."""
    from buildiso.sample.base import build_sample_base

    return build_sample_base(paths.DEFAULT_SAMPLE_BASE).iso


@cli.command()
@click.argument("results", nargs=-1, required=True, type=_EXISTING)
@click.option("--out", "out_dir", type=_PATH, required=True, help="Report folder (replaced).")
@click.option(
    "--manifest",
    type=_EXISTING,
    default=None,
    help="The build's *.manifest.json: summarised in the report.",
)
@click.option(
    "--previous",
    type=_EXISTING,
    default=None,
    help="The last nightly's manifest: the report shows `buildiso diff` against it.",
)
def report(
    results: tuple[Path, ...], out_dir: Path, manifest: Path | None, previous: Path | None
) -> None:
    """Merge boot-test shard results into one JUnit file and a static HTML report.

    \b
    Example:
      buildiso report out/shard1 out/shard2 --out out/report \\
          --manifest out/EMAIL_490_190.manifest.json --previous last/EMAIL_490_190.manifest.json
    """
    from buildiso.report import command as report_mod

    report_mod.report_command(
        results=list(results), out=out_dir, manifest=manifest, previous=previous
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 failed build, 2 bad input, 128 + N when
    signal N stopped it: every verb handles SIGTERM and SIGHUP as Ctrl-C)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        with interrupts.terminate_as_interrupt():
            cli.main(args=args, prog_name="buildiso", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt) as exc:  # click says Abort for KeyboardInterrupt
        cause = exc.__cause__ if isinstance(exc, click.Abort) and exc.__cause__ else exc
        name = interrupts.signal_of(cause).name
        click.echo(f"buildiso: interrupted ({name}); partial outputs were removed", err=True)
        return interrupts.exit_code(cause)
    except click.ClickException as exc:
        exc.show()
        return 2
    except ValidationFailed as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        click.echo(f"buildiso: {exc.message}", err=True)
        return exc.exit_code
    except BuildisoError as exc:
        if debug:  # the traceback, and still the exit code scripts rely on
            traceback.print_exc()
        click.echo(f"buildiso: error: {exc}", err=True)
        return exc.exit_code
    return 0


def entry_point() -> None:
    """The ``buildiso`` program: the password variable leaves the environment first."""
    secretenv.reexec_without_password()
    sys.exit(main())
