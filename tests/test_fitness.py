"""Fitness tests: the written rules of docs/design.md ("Floors"), checked on the code itself.

Next to tests/test_lint.py, which guards run.py, tmpdirs.py and sourcedate.py the same way.
Imports are read with ``ast`` (module level, function level, ``from . import x``), so a rule
holds for every import the interpreter could execute, not only the ones at the top.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "buildiso"
GUEST = PACKAGE / "sample" / "installer" / "guest"  # runs inside the VM, never imported here

# The floors, lowest first (docs/design.md, "Floors"). A module imports only from its own
# floor or a lower one. Keys are a top-level module or a stage package of buildiso/.
FLOORS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "ground",
        frozenset(
            {"__init__", "atomicfile", "boundedjson", "config", "errors", "interrupts", "log",
             "outdir", "paths", "run", "secretenv", "sourcedate", "tmpdirs"}
        ),
    ),  # fmt: skip
    ("render", frozenset({"render"})),
    ("compose", frozenset({"compose"})),
    ("master", frozenset({"master"})),
    ("sample", frozenset({"sample"})),
    (
        "build-io",
        frozenset(
            {"buildinputs", "fingerprint", "inputidentity", "manifest", "manifesttypes", "publish"}
        ),
    ),
    ("boottest", frozenset({"boottest"})),
    ("report", frozenset({"report"})),
    ("entry", frozenset({"build", "cli", "__main__"})),
)
# The stand-in RHEL 6.10 base is not product code: only these build it (docs/design.md).
SAMPLE_USERS = frozenset({"build", "cli"})

# Imports that break a rule while their module is being rewritten. Each entry names who
# removes it; the last test fails once an entry is no longer needed, so none lingers.
_PENDING: set[tuple[str, str]] = set()


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if GUEST not in p.parents]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(dotted: str) -> bool:
    """True when ``dotted`` (buildiso.x.y) is a module or a package of the source tree."""
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(source: str, *, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, buildiso module) for every import in ``source``, wherever it stands.

    ``from buildiso.render import validate`` names the module ``buildiso.render.validate``
    (a submodule), ``from buildiso.render import Profile`` the package ``buildiso.render``;
    relative imports are resolved against ``module``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "buildiso" or alias.name.startswith("buildiso."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target != "buildiso" and not target.startswith("buildiso."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if _exists(sub) else target


def floor_of(module: str) -> int:
    """The floor's index of ``buildiso.<key>...``; KeyError for a module with no floor."""
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    for index, (_, keys) in enumerate(FLOORS):
        if key in keys:
            return index
    raise KeyError(module)


def _all_imports() -> Iterator[tuple[str, int, str]]:
    for path in _modules():
        name = _module_name(path)
        for line, target in imports_of(
            path.read_text(), module=name, is_package=path.name == "__init__.py"
        ):
            yield name, line, target


def _upward(name: str, target: str) -> bool:
    return floor_of(target) > floor_of(name)


def _sample_outsider(name: str, target: str) -> bool:
    inside = name.split(".")[1] if "." in name else ""
    return target.startswith("buildiso.sample") and inside not in SAMPLE_USERS | {"sample"}


# --- the checker itself ---------------------------------------------------------------------


def test_imports_are_found_wherever_they_stand() -> None:
    source = (
        "import buildiso.render.profile\n"
        "from buildiso import paths, __version__\n"
        "from . import shard\n"
        "from ..master.basetree import open_base\n"
        "def late():\n"
        "    from buildiso.sample.base import build_sample_base\n"
        "    if True:\n"
        "        import buildiso.report.pages as pages\n"
        "class K:\n"
        "    from .. import compose\n"
        "import json\n"
        "from pathlib import Path\n"
    )
    found = sorted(imports_of(source, module="buildiso.boottest.matrix"))
    assert found == [
        (1, "buildiso.render.profile"),
        (2, "buildiso"),  # __version__ is a name, not a module
        (2, "buildiso.paths"),
        (3, "buildiso.boottest.shard"),
        (4, "buildiso.master.basetree"),
        (6, "buildiso.sample.base"),  # inside a function
        (8, "buildiso.report.pages"),  # nested deeper
        (10, "buildiso.compose"),  # in a class body, relative
    ]
    # a package's own relative imports start at the package itself
    assert list(imports_of("from . import filmstrip\n", module="buildiso.boottest",
                           is_package=True)) == [(1, "buildiso.boottest.filmstrip")]  # fmt: skip


def test_the_checker_sees_each_kind_of_violation() -> None:
    assert _upward("buildiso.render.validate", "buildiso.compose.mediacheck")
    assert _upward("buildiso.compose.mediacheck", "buildiso.master.basetree")
    assert not _upward("buildiso.master.mediacheck", "buildiso.compose.repo")
    assert _upward("buildiso.run", "buildiso.render")  # the ground floor imports no stage
    assert _sample_outsider("buildiso.boottest.scenarios", "buildiso.sample.base")
    assert not _sample_outsider("buildiso.cli", "buildiso.sample")
    assert not _sample_outsider("buildiso.sample.tree", "buildiso.sample")
    with pytest.raises(KeyError):
        floor_of("buildiso.newthing")


# --- the rules ------------------------------------------------------------------------------


def test_every_module_has_a_floor() -> None:
    homeless = []
    for path in _modules():
        try:
            floor_of(_module_name(path))
        except KeyError:
            homeless.append(str(path.relative_to(ROOT)))
    assert homeless == [], f"add these to FLOORS and docs/design.md ('Floors'): {homeless}"


def test_no_module_imports_a_later_floor() -> None:
    names = [n for n, _ in FLOORS]
    offenders = [
        f"{name}:{line} imports {target} ({names[floor_of(name)]} → {names[floor_of(target)]})"
        for name, line, target in _all_imports()
        if _upward(name, target) and (name, target) not in _PENDING
    ]
    assert offenders == [], "a stage imports a later one:\n" + "\n".join(offenders)


def test_only_build_and_cli_import_the_sample() -> None:
    offenders = [
        f"{name}:{line} imports {target}"
        for name, line, target in _all_imports()
        if _sample_outsider(name, target) and (name, target) not in _PENDING
    ]
    assert offenders == [], "the sample is built by build.py and cli.py only:\n" + "\n".join(
        offenders
    )


def test_pending_entries_are_still_needed() -> None:
    seen = {(name, target) for name, _, target in _all_imports()}
    gone = _PENDING - seen
    assert not gone, f"no longer imported, remove from _PENDING: {gone}"


def test_logger_names_come_from_the_module_name() -> None:
    """``logging.getLogger(__name__)``: a record's name says which module wrote it, and
    ``--debug`` (``%(name)s``) points there. log.py names the tree's root, "buildiso"."""
    offenders = []
    for path in _modules():
        if path == PACKAGE / "log.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called != "getLogger":
                continue
            arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if not (isinstance(arg, ast.Name) and arg.id == "__name__"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == [], "use logging.getLogger(__name__):\n" + "\n".join(offenders)


# Modules that may rename files. Everything else writes through buildiso/atomicfile.py.
RENAMERS = {
    "atomicfile.py": "the one atomic writer",
    "tmpdirs.py": "reveals a private folder only once its lock is held (not a writer)",
}


def _renames(tree: ast.AST) -> Iterator[ast.Call]:
    """``os.replace/rename/renames``, ``shutil.move``, ``Path.rename(x)``, ``Path.replace(x)``."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr, owner = node.func.attr, node.func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else ""
        if owner_name == "os" and attr in ("replace", "rename", "renames"):
            yield node
        elif owner_name == "shutil" and attr == "move":
            yield node
        elif owner_name not in ("os", "shutil", "dataclasses") and attr in ("rename", "replace"):
            # str.replace takes two arguments; Path.rename/replace one
            if len(node.args) == 1 and not node.keywords:
                yield node


def test_the_rename_finder_sees_every_form() -> None:
    source = (
        "os.replace(a, b)\nos.rename(a, b)\nshutil.move(a, b)\ntmp.replace(dest)\n"
        "p.rename(q)\ntext.replace('a', 'b')\ndataclasses.replace(x, y=1)\n"
    )
    assert [n.lineno for n in _renames(ast.parse(source))] == [1, 2, 3, 4, 5]


def test_files_are_put_in_place_by_the_one_atomic_writer() -> None:
    offenders = []
    for path in _modules():
        rel = path.relative_to(PACKAGE)
        if str(rel) in RENAMERS:
            continue
        for node in _renames(ast.parse(path.read_text())):
            offenders.append(f"buildiso/{rel}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == [], (
        "write with buildiso.atomicfile (write_*_atomic, replace_file, replace_dir):\n"
        + "\n".join(offenders)
    )


# --- product facts are cited from the repository ---------------------------------------------

FACTS = ROOT / "docs" / "product-facts.md"
_CITED_FILES = ("buildiso", "tests", "vm-tests", "bench", "docs", "kickstart", "isolinux",
                "profiles", "ci", "README.md")  # fmt: skip


def _texts() -> Iterator[tuple[Path, str]]:
    for top in _CITED_FILES:
        base = ROOT / top
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            if path.is_file() and path.suffix not in (".png", ".rpm", ".iso", ".img", ".gz"):
                yield path, path.read_text(encoding="utf-8", errors="replace")


def test_product_facts_are_cited_from_docs_not_from_outside_the_repository() -> None:
    """The facts the code relies on are in docs/product-facts.md, in our words; a file
    outside the repository (the shared notes they came from) is no citation."""
    outside = "PRODUCT" + "-FACTS"  # spelled apart so this file does not find itself
    offenders = [str(p.relative_to(ROOT)) for p, text in _texts() if outside in text]
    assert offenders == [], f"cite docs/product-facts.md instead in: {offenders}"


def test_cited_product_fact_sections_exist() -> None:
    sections = {
        line.removeprefix("## ").strip()
        for line in FACTS.read_text().splitlines()
        if line.startswith("## ")
    }
    cited = {
        (str(p.relative_to(ROOT)), m.group(1))
        for p, text in _texts()
        for m in re.finditer(r'docs/product-facts\.md,\s+#?\s*"([^"]+)"', text)
    }
    assert cited, "nothing cites docs/product-facts.md by section"
    missing = sorted((where, name) for where, name in cited if name not in sections)
    assert missing == [], f"no such section in docs/product-facts.md: {missing}"
