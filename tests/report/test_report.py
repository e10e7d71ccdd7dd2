"""buildiso report: shard results (written by the real boot-test writers against scripted
guests) merged into one JUnit file and a static HTML report, read back by Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bootfakes import Script, good_report, install_script, quick, run_shard
from PIL import Image, ImageChops, ImageStat

from buildiso.boottest.scenarioreader import load_scenario
from buildiso.boottest.screendump import png_size
from buildiso.boottest.shard import Shard
from buildiso.cli import main
from buildiso.errors import InputError
from buildiso.manifest import write_manifest
from buildiso.render.profile import Profile
from buildiso.report.command import report_command

# Every guest's screen: a real UEFI text console (tests/data/screens/README.md).
CONSOLE = Path(__file__).resolve().parents[1] / "data" / "screens" / "uefi-console.png"
ALL_CELLS = load_scenario("install").matrix
# A guest prints what it likes: markup in the serial log must stay text in the report.
HOSTILE = "<script>document.title='pwned'</script></pre><b id=\"injected\">bold</b> & done"


def _broken(profile: Profile) -> Script:
    good = install_script(report=good_report(profile))
    broken = [
        item
        for item in good
        if "INSTALL-RESULT" not in item[3] and "name=post status=ok" not in item[3]
    ]
    broken.append(("key1", 13.0, "console", HOSTILE + "\r\n"))
    broken.append(
        ("key1", 14.0, "protocol",
         'INSTALL-RESULT status=failed class=post reason="%post <exited> with 1"\n')
    )  # fmt: skip
    return broken


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> list[Path]:
    """Two shards of the four-cell matrix; uefi-dvd fails in %post with a hostile log."""
    tmp = tmp_path_factory.mktemp("shards")
    good = quick(install_script(report=good_report(profile)))
    scripts = {c.name: good for c in ALL_CELLS}
    scripts["uefi-dvd"] = quick(_broken(profile))
    folders = []
    for k in (1, 2):
        folder = tmp / f"shard{k}"
        run_shard(tmp, artifacts=folder, scripts=scripts, shard=Shard(k, 2), frame_every_s=0.2,
                  screen=CONSOLE)  # fmt: skip
        folders.append(folder)
    return folders


def _manifest(tmp_path: Path, name: str, cs_email: str, sha: str) -> Path:
    path = tmp_path / name
    write_manifest(
        path,
        {
            "schema": 1,
            "buildiso_version": "0.1.0",
            "product": {"name": "Secure Email Gateway", "version": "4.9.0", "build": 190},
            "iso": {"name": "EMAIL_490_190.iso", "volume_label": "EMAIL_490_190",
                    "size": 67108864, "sha256": sha, "implanted_md5": "0" * 32},
            "inputs": {
                "base": {"label": "RHEL-6.10 Server.x86_64", "sha256": "b" * 64},
                "gateway_packages": [
                    {"nevra": f"cs-email-{cs_email}.x86_64", "name": "cs-email",
                     "arch": "x86_64", "evr": cs_email, "sha256": sha}
                ],
                "signing": {"key_id": "5522142c", "allow_unsigned": False},
                "profile": {"variant": "test"},
                "source_date_epoch": 1700000000,
            },
            "install_set": [],
            "rendered": {},
            "staged": {},
            "tools": {},
        },
    )  # fmt: skip
    return path


def test_merged_junit_has_every_cell_once(shards: list[Path], tmp_path: Path) -> None:
    results = report_command(results=shards, out=tmp_path / "r", manifest=None, previous=None)
    assert [c.name for c in results.cells] == [c.name for c in ALL_CELLS]
    assert results.counts == {"passed": 3, "failed": 1, "missing": 0}
    suite = ET.parse(tmp_path / "r" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    main_cases = [c for c in cases if c.get("name") == "install-and-first-boot"]
    assert sorted(c.get("classname", "") for c in main_cases) == sorted(
        f"boot-test.{c.name}" for c in ALL_CELLS
    )
    shard_cases = sum(
        len(ET.parse(s / "junit.xml").getroot().findall(".//testcase")) for s in shards
    )
    assert len(cases) == shard_cases == int(suite.get("tests", "0"))
    failed = [c.get("classname") for c in main_cases if c.find("failure") is not None]
    assert failed == ["boot-test.uefi-dvd"]
    assert int(suite.get("failures", "0")) == 1


def test_a_missing_shard_shows_its_cells_as_not_run(shards: list[Path], tmp_path: Path) -> None:
    results = report_command(results=shards[:1], out=tmp_path / "r", manifest=None, previous=None)
    missing = [c.name for c in results.cells if c.status == "missing"]
    ran = json.loads((shards[1] / "summary.json").read_text())["cells"]
    assert sorted(missing) == sorted(c["cell"] for c in ran)
    root = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    not_run = [f for f in root.iter("failure") if f.get("type") == "not-run"]
    assert len(not_run) == len(missing)
    assert "NOT RUN" in (tmp_path / "r" / "index.html").read_text()


def test_bad_inputs_are_one_line_errors(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="is in two results"):
        report_command(results=[shards[0], shards[0]], out=tmp_path / "r", manifest=None,
                       previous=None)  # fmt: skip
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no summary.json here" in err[0]
    other = tmp_path / "precious"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and not a buildiso report"):
        report_command(results=shards, out=other, manifest=None, previous=None)
    assert (other / "keep.txt").read_text() == "mine"
    evil = tmp_path / "evil"
    shutil.copytree(shards[0], evil)
    summary = json.loads((evil / "summary.json").read_text())
    summary["cells"][0]["cell"] = "../../etc"
    (evil / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(InputError, match=r"cells\[0\]\.cell: '\.\./\.\./etc' is not allowed"):
        report_command(results=[evil], out=tmp_path / "r", manifest=None, previous=None)
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_report_pages_escape_the_serial_log_and_show_the_diff(
    shards: list[Path], tmp_path: Path
) -> None:
    old = _manifest(tmp_path, "old.manifest.json", "4.9.0-189", "1" * 64)
    new = _manifest(tmp_path, "new.manifest.json", "4.9.0-190", "2" * 64)
    out = tmp_path / "report"
    report_command(results=shards, out=out, manifest=new, previous=old)
    index = (out / "index.html").read_text()
    assert "upgraded:   cs-email.x86_64  4.9.0-189 -&gt; 4.9.0-190" in index
    assert "5522142c" in index and "3 of 4 cells passed, 1 failed" in index
    page = (out / "cells" / "uefi-dvd" / "index.html").read_text()
    assert HOSTILE not in page and "<b id=" not in page
    assert html.escape(HOSTILE) in page
    assert "%post &lt;exited&gt; with 1" in page
    # the filmstrip: every frame the run recorded, copied and shown
    ran_in = next(s for s in shards if (s / "uefi-dvd").is_dir())
    frames = json.loads((ran_in / "uefi-dvd" / "filmstrip" / "index.json").read_text())["frames"]
    assert frames
    cell = out / "cells" / "uefi-dvd"
    for frame in frames:
        assert f'src="filmstrip/{frame["file"]}"' in page
        assert png_size(cell / "filmstrip" / frame["file"]) == (640, 400)
        # each thumbnail links to the guest's screen at full size
        assert f'<a href="filmstrip/{frame["full"]}" title="full size"><img src="filmstrip/' \
               f'{frame["file"]}"' in page  # fmt: skip
        assert png_size(cell / "filmstrip" / frame["full"]) == (1280, 800)
    # rerun replaces the old report in place
    report_command(results=shards, out=out, manifest=new, previous=None)
    assert "no previous manifest given" in (out / "index.html").read_text()


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run ./setup.sh")
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _visible_text(dom: str) -> str:
    text = re.sub(r"<script.*?</script>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


@pytest.mark.integration
def test_chromium_renders_the_report(shards: list[Path], tmp_path: Path) -> None:
    """A real browser opens the report from disk: the matrix, a cell page, nothing injected."""
    new = _manifest(tmp_path, "new.manifest.json", "4.9.0-190", "2" * 64)
    out = tmp_path / "report"
    report_command(results=shards, out=out, manifest=new, previous=None)
    started = time.monotonic()
    index_url = (out / "index.html").as_uri()
    shot = tmp_path / "index.png"
    proc = _chromium(f"--screenshot={shot}", "--window-size=1400,900", index_url)
    assert shot.is_file(), proc.stderr[-2000:]
    assert png_size(shot) == (1400, 900)
    dom = _chromium("--dump-dom", index_url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = _visible_text(dom.stdout)
    rows = re.findall(r'<tr class="(passed|failed|missing)" id="cell-([^"]+)"', dom.stdout)
    assert sorted(rows) == sorted(
        [("passed", c.name) for c in ALL_CELLS if c.name != "uefi-dvd"] + [("failed", "uefi-dvd")]
    )
    assert "3 of 4 cells passed, 1 failed" in text
    assert "FAIL post" in text and "Secure Email Gateway 4.9.0 build 190" in text
    cell_url = (out / "cells" / "uefi-dvd" / "index.html").as_uri()
    cell = _chromium("--dump-dom", cell_url)
    assert cell.returncode == 0, cell.stderr[-2000:]
    assert "<title>uefi-dvd: FAIL</title>" in cell.stdout  # the guest's script did not run
    assert '<b id="injected"' not in cell.stdout  # no element made from the log
    assert HOSTILE in _visible_text(cell.stdout)
    # the filter box is shown because scripts ran; the log lines are there as text
    assert re.search(r'<p id="filterbar">', cell.stdout)
    assert len(re.findall(r'<span class="l" id="C\d+">', cell.stdout)) > 10
    assert len(re.findall(r'<figure class="frame', cell.stdout)) >= 5
    cell_shot = tmp_path / "cell.png"
    _chromium(f"--screenshot={cell_shot}", "--window-size=1400,1600", cell_url)
    assert png_size(cell_shot) == (1400, 1600)
    keep = Path(__file__).resolve().parents[2] / "out" / "report-test"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep / "index.png")
    shutil.copyfile(cell_shot, keep / "cell.png")
    print(f"\nchromium: 4 page loads in {time.monotonic() - started:.1f} s; shots in {keep}")


def _best_match(screen: Image.Image, want: Image.Image, xs: range, ys: range) -> tuple[int, int]:
    def distance(x: int, y: int) -> float:
        crop = screen.crop((x, y, x + want.width, y + want.height))
        return float(ImageStat.Stat(ImageChops.difference(crop, want)).mean[0])

    return min(((x, y) for x in xs for y in ys), key=lambda xy: distance(*xy))


def _shown_frame(page: Path, shot: Path, *, thumbnail: Path) -> Image.Image:
    """A filmstrip frame as Chromium draws it on ``page`` on a 2x display (the 640-pixel
    thumbnail in its 320 CSS pixels): the part of the screenshot that best matches the
    thumbnail, found on an 8x smaller copy first, then to the pixel."""
    proc = _chromium(f"--screenshot={shot}", "--force-device-scale-factor=2",
                     "--window-size=1000,1300", page.as_uri())  # fmt: skip
    assert shot.is_file(), proc.stderr[-2000:]
    with Image.open(shot) as image, Image.open(thumbnail) as thumb:
        screen, want = image.convert("L"), thumb.convert("L")
    small = (screen.reduce(8), want.reduce(8))
    x, y = _best_match(*small, range(small[0].width - small[1].width),
                       range(small[0].height - small[1].height))  # fmt: skip
    x, y = _best_match(screen, want, range(x * 8 - 8, x * 8 + 9), range(y * 8 - 8, y * 8 + 9))
    return screen.crop((x, y, x + want.width, y + want.height))


def _glyphs_lost(shown: Image.Image) -> tuple[int, int]:
    """(vanished, confused): the console's glyphs (8x16 cells of CONSOLE) as ``shown``.

    Vanished: a cell with a glyph whose shown block keeps under a quarter of its
    brightness. Confused: a distinct glyph whose shown block is also another glyph's, so
    the eye cannot tell them apart (OCR-free legibility).
    """
    with Image.open(CONSOLE) as image:
        console = image.convert("L")
    cw, ch = 8 * shown.width // console.width, 16 * shown.height // console.height
    glyphs_of: dict[bytes, set[bytes]] = {}
    vanished = 0
    for row in range(console.height // 16):
        for col in range(console.width // 8):
            glyph = console.crop((col * 8, row * 16, col * 8 + 8, row * 16 + 16))
            ink = glyph.getextrema()[1]
            if ink < 64:
                continue  # a blank cell
            block = shown.crop((col * cw, row * ch, col * cw + cw, row * ch + ch))
            vanished += block.getextrema()[1] < ink // 4
            glyphs_of.setdefault(block.tobytes(), set()).add(glyph.tobytes())
    confused = {g for glyphs in glyphs_of.values() if len(glyphs) > 1 for g in glyphs}
    return vanished, len(confused)


@pytest.mark.integration
def test_chromium_shows_a_text_console_frame_legibly(shards: list[Path], tmp_path: Path) -> None:
    """A UEFI text console in the filmstrip, as a browser on a 2x display shows it: every
    glyph visible and told apart from the others, the full-size screen one click away.
    The same report with thumbnails made by nearest-pixel sampling (the former way) fails."""
    ours = tmp_path / "ours"
    report_command(results=shards, out=ours, manifest=None, previous=None)
    nearest_shards = []
    for shard in shards:
        copy = tmp_path / "nearest-shards" / shard.name
        shutil.copytree(shard, copy)
        for thumb in copy.glob("*/filmstrip/*.png"):
            with Image.open(thumb.parent / "full" / thumb.name) as full:
                full.resize(png_size(thumb), Image.Resampling.NEAREST).save(thumb)
        nearest_shards.append(copy)
    nearest = tmp_path / "nearest"
    report_command(results=nearest_shards, out=nearest, manifest=None, previous=None)
    lost = {}
    for name, report in (("ours", ours), ("nearest", nearest)):
        page = report / "cells" / "bios-dvd" / "index.html"
        frame = page.parent / "filmstrip" / "0000-firmware.png"
        shown = _shown_frame(page, tmp_path / f"{name}.png", thumbnail=frame)
        assert shown.size == png_size(frame) == (640, 400)
        lost[name] = _glyphs_lost(shown)
    print(f"\nglyphs (vanished, confused) as Chromium shows them: {lost}")
    assert lost["ours"] == (0, 0)
    assert lost["nearest"][1] >= 5  # the check sees dots: glyphs no longer told apart
    dom = _chromium("--dump-dom", (ours / "cells" / "bios-dvd" / "index.html").as_uri()).stdout
    link = re.search(r'id="frame-0"><a href="([^"]+)" title="full size">', dom)
    assert link is not None and link.group(1) == "filmstrip/full/0000-firmware.png"
    assert png_size(ours / "cells" / "bios-dvd" / link.group(1)) == (1280, 800)


def test_a_scenarios_other_machines_logs_are_on_its_page(
    shards: list[Path], tmp_path: Path
) -> None:
    shard = tmp_path / "shard"
    shutil.copytree(shards[0], shard)
    cell = next(p for p in shard.iterdir() if (p / "result.json").is_file())
    (cell / "server-install").mkdir()
    (cell / "server-install" / "console.log").write_text("minimal server <install>\n")
    (cell / "Not A Machine").mkdir()
    (cell / "Not A Machine" / "console.log").write_text("never shown\n")
    report_command(results=[shard], out=tmp_path / "r", manifest=None, previous=None)
    page = (tmp_path / "r" / "cells" / cell.name / "index.html").read_text()
    assert 'id="server-install-C">server-install: Console (ttyS0)' in page
    assert "minimal server &lt;install&gt;" in page and "never shown" not in page
    assert (tmp_path / "r" / "cells" / cell.name / "server-install-console.log.txt").is_file()
