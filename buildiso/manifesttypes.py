"""A manifest read back (``buildiso diff``, the rebuild check, the build summary) as typed
objects: every key the readers rely on is checked for presence and type, and a wrong one is
refused naming the key (``install_set[2]: must be an object, not int``) instead of a
traceback or, worse, a diff that silently says "no changes".

Keys this module does not know (newer sections, e.g. solver details) are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from buildiso.errors import InputError

Scalar = str | int | bool | None

# dotted key -> (accepted types, required). bool is checked apart (it is an int in Python).
SCALARS: dict[str, tuple[tuple[type, ...], bool]] = {
    "product.version": ((str,), True),
    "product.build": ((str, int), True),
    "iso.name": ((str,), True),
    "iso.volume_label": ((str,), True),
    "iso.sha256": ((str,), True),
    "inputs.base.label": ((str,), True),
    "inputs.base.sha256": ((str,), True),
    "inputs.signing.key_id": ((str,), True),
    "inputs.signing.allow_unsigned": ((bool,), True),
    "inputs.depsolve.allow_unresolved": ((bool,), False),
    "inputs.profile.variant": ((str,), True),
    "inputs.gateway_comps.sha256": ((str,), False),
}
_PACKAGE_KEYS = ("name", "arch", "evr", "nevra")
_HINT = (
    "use the *.manifest.json that `buildiso build` wrote beside the ISO "
    "(this one is damaged or edited)"
)
_MISSING = object()


@dataclass(frozen=True)
class Package:
    name: str
    arch: str
    evr: str
    nevra: str
    sha256: str | None

    @property
    def key(self) -> str:
        return f"{self.name}.{self.arch}"


@dataclass(frozen=True)
class RenderedFile:
    sha256: str
    text: str | None


@dataclass(frozen=True)
class ParsedManifest:
    values: Mapping[str, Scalar]  # SCALARS' keys
    gateway_packages: Mapping[str, Package]  # name.arch -> package
    install_set: Mapping[str, Package]
    rendered: Mapping[str, RenderedFile]
    staged: Mapping[str, str]
    tools: Mapping[str, str]


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


class _Reader:
    def __init__(self, data: object, source: str) -> None:
        self.data, self.source = data, source

    def bad(self, key: str, message: str) -> InputError:
        return InputError(f"{self.source}: manifest key {key}: {message}", hint=_HINT)

    def get(self, dotted: str, *, required: bool = True) -> Any:
        value: Any = self.data
        walked = ""
        for part in dotted.split("."):
            if not isinstance(value, dict):
                raise self.bad(walked or "(top)", f"must be an object, not {_kind(value)}")
            walked = f"{walked}.{part}" if walked else part
            value = value.get(part, _MISSING)
            if value is _MISSING:
                if required:
                    raise self.bad(dotted, "missing")
                return None
        return value

    def typed(self, key: str, value: object, types: tuple[type, ...], what: str) -> Any:
        ok = isinstance(value, types) and (bool in types or not isinstance(value, bool))
        if not ok:
            raise self.bad(key, f"must be {what}, not {_kind(value)}")
        return value

    def obj(self, key: str, value: object) -> dict[str, Any]:
        return dict(self.typed(key, value, (dict,), "an object"))

    def packages(self, dotted: str) -> dict[str, Package]:
        entries = self.typed(dotted, self.get(dotted), (list,), "a list of packages")
        packages: dict[str, Package] = {}
        for i, entry in enumerate(entries):
            where = f"{dotted}[{i}]"
            fields = self.obj(where, entry)
            for name in _PACKAGE_KEYS:
                if name not in fields:
                    raise self.bad(f"{where}.{name}", "missing")
                self.typed(f"{where}.{name}", fields[name], (str,), "a string")
            sha = fields.get("sha256")
            if sha is not None:
                self.typed(f"{where}.sha256", sha, (str,), "a string")
            pkg = Package(
                name=fields["name"], arch=fields["arch"], evr=fields["evr"],
                nevra=fields["nevra"], sha256=sha,
            )  # fmt: skip
            packages[pkg.key] = pkg
        return packages

    def rendered(self) -> dict[str, RenderedFile]:
        section = self.obj("rendered", self.get("rendered"))
        files = {}
        for rel, entry in section.items():
            fields = self.obj(f"rendered.{rel}", entry)
            sha = self.typed(f"rendered.{rel}.sha256", fields.get("sha256"), (str,), "a string")
            text = fields.get("text")
            if text is not None:
                self.typed(f"rendered.{rel}.text", text, (str,), "a string")
            files[rel] = RenderedFile(sha256=sha, text=text)
        return files

    def strings(self, key: str) -> dict[str, str]:
        value = self.get(key, required=False)
        section = self.obj(key, {} if value is None else value)
        for name, item in section.items():
            self.typed(f"{key}.{name}", item, (str,), "a string")
        return section


def parse_manifest(data: object, *, source: str) -> ParsedManifest:
    """``data`` (a loaded manifest) as typed objects; InputError naming the first bad key."""
    reader = _Reader(data, source)
    values: dict[str, Scalar] = {}
    for key, (types, required) in SCALARS.items():
        value = reader.get(key, required=required)
        if value is not None or required:
            what = " or ".join(
                {str: "a string", int: "a number", bool: "true/false"}[t] for t in types
            )
            values[key] = reader.typed(key, value, types, what)
        else:
            values[key] = None
    return ParsedManifest(
        values=values,
        gateway_packages=reader.packages("inputs.gateway_packages"),
        install_set=reader.packages("install_set"),
        rendered=reader.rendered(),
        staged=reader.strings("staged"),
        tools=reader.strings("tools"),
    )
