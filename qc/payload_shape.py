"""Payload shapes: what a labeler could tell control tasks and real tasks apart by, without
looking at the picture. Pure; no ORM.

A payload's *shape* is, for every key path in it (``metadata.camera``, ``metadata.tags[]`` for
the elements of a list, ``metadata.boxes[].x`` inside them):

* that the key is there;
* the JSON type of its value: ``null``, ``boolean``, ``integer``, ``number`` (a JSON number
  with a fraction or an exponent), ``string``, ``array``, ``object``;
* for a string, its *URL shape* (``url_shape``), or ``text`` when it is not a URL or a path.

A URL shape keeps what stays the same across the photos of one source and drops what differs
from photo to photo:

* the scheme and the host (lower case, with the port; user info dropped);
* the directories, each kept as it is except that a run of digits becomes one ``#`` per digit
  (``2024/06`` → ``####/##``) and an opaque identifier (eight or more hex digits and dashes,
  with at least one digit) becomes ``<hex:N>`` with its length;
* the file name as the runs it is made of: a run of digits is one ``#`` per digit, any other
  run is ``*`` (``DSC_0042`` → ``*####``; ``0042`` → ``####``) — so the count and lengths of the
  digit runs matter, the letters do not; an opaque identifier is ``<hex:N>``;
* the extension, as written (``jpg`` and ``JPG`` differ);
* the names of the query parameters, sorted (their values are dropped).

``https://cdn.example.com/north/0042.jpg`` has the shape ``https://cdn.example.com/north/####.jpg``
and ``https://cdn.example.com/poles/042.jpg`` the shape ``https://cdn.example.com/poles/###.jpg``:
different. A string is a URL when it starts with ``scheme://``; it is a path when it has no
white space and either starts with ``/`` or has a ``/`` and a file name with an extension
(``images/0001.jpg``). Every other string is ``text``: its words are not compared.

``compare`` checks control payloads against a sample of real ones, set by set:

* a key every real payload has and the control lacks is *missing*; a key no real payload has
  is *extra* (only the outermost of nested missing or extra keys is named);
* a value type no real payload has at that key is a *type* difference;
* a URL shape (or ``text``) no real payload has at that key is a *URL shape* difference.

The work is bounded: a payload is walked to ``MAX_DEPTH`` levels and ``MAX_NODES`` values, and
a report names at most ``MAX_DIFFERENCES`` differences (the most common first) with at most
``MAX_EXAMPLES`` examples each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_DEPTH = 16
MAX_NODES = 2_000
MAX_DIFFERENCES = 50
MAX_EXAMPLES = 5

MISSING_KEY = "missing_key"
EXTRA_KEY = "extra_key"
TYPE = "type"
URL_SHAPE = "url_shape"
KINDS = (MISSING_KEY, EXTRA_KEY, TYPE, URL_SHAPE)

TEXT = "text"
_ITEM = "[]"  # the path element of a list's items

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_DIGITS_RE = re.compile(r"\d+")
_RUN_RE = re.compile(r"\d+|\D+")
_HEX_ID_RE = re.compile(r"[0-9A-Fa-f-]{8,}")
_EXTENSION_RE = re.compile(r"[A-Za-z0-9]{1,8}")
_SPACE_RE = re.compile(r"\s")
_PLAIN_KEY_RE = re.compile(r"[^.\[\]\"]+")

Path = tuple[str, ...]


def json_type(value: Any) -> str:
    """The JSON type of a decoded JSON value (``integer`` and ``number`` apart: ``1`` and
    ``1.0`` read differently)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _hex_id(token: str) -> str | None:
    if _HEX_ID_RE.fullmatch(token) and any(c.isdigit() for c in token):
        return f"<hex:{len(token)}>"
    return None


def _directory(segment: str) -> str:
    return _hex_id(segment) or _DIGITS_RE.sub(lambda m: "#" * len(m.group()), segment)


def _file_name(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or not _EXTENSION_RE.fullmatch(extension):
        stem, extension = name, ""
    hex_id = _hex_id(stem)
    if hex_id:
        pattern = hex_id
    else:
        pattern = "".join(
            "#" * len(run) if run[0].isdigit() else "*" for run in _RUN_RE.findall(stem)
        )
    return f"{pattern}.{extension}" if extension else pattern


def _path_shape(path: str) -> str:
    *directories, name = path.split("/")
    return "/".join([*(_directory(d) for d in directories), _file_name(name)])


def _is_path(value: str) -> bool:
    if not value or _SPACE_RE.search(value) or "/" not in value:
        return False
    if value.startswith("/"):
        return True
    name = value.rsplit("/", 1)[1]
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem and _EXTENSION_RE.fullmatch(extension))


def url_shape(value: str) -> str:
    """The URL shape of a string (module docstring), or ``"text"`` when it is neither a URL nor
    a path. ``url_shape("https://Cdn.x/a/2024/img_0042.JPG?sig=1&v=2")`` is
    ``"https://cdn.x/a/####/*####.JPG?sig&v"``."""
    if _SCHEME_RE.match(value) and not _SPACE_RE.search(value):
        try:
            parts = urlsplit(value)
            host = (parts.hostname or "").lower()
            port = parts.port
        except ValueError:
            return TEXT
        if port is not None:
            host = f"{host}:{port}"
        shape = f"{parts.scheme.lower()}://{host}{_path_shape(parts.path) if parts.path else ''}"
    else:
        path, _, query = value.partition("?")
        if not _is_path(path):
            return TEXT
        shape = _path_shape(path)
        parts = urlsplit("?" + query)
    query = parts.query
    if query:
        names = sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)})
        shape += "?" + "&".join(names)
    return shape


def render_path(path: Path) -> str:
    """``("metadata", "boxes", "[]", "x")`` → ``metadata.boxes[].x``; a key holding dots,
    brackets or quotes, or an empty key, is written ``["…"]``."""
    out = ""
    for part in path:
        if part == _ITEM:
            out += _ITEM
        elif _PLAIN_KEY_RE.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(payload)"


@dataclass(frozen=True)
class PayloadShape:
    """The shape of one payload: its key paths, and per path the value types and (strings) URL
    shapes found there. The root has the path ``()``."""

    keys: frozenset[Path]
    types: Mapping[Path, frozenset[str]]
    urls: Mapping[Path, frozenset[str]]


def shape_of(payload: Any) -> PayloadShape:
    """The shape of a decoded JSON value, walked without recursion to ``MAX_DEPTH`` levels and
    ``MAX_NODES`` values (what lies beyond is left out, the same way for every payload)."""
    keys: set[Path] = set()
    types: dict[Path, set[str]] = {}
    urls: dict[Path, set[str]] = {}
    stack: list[tuple[Path, Any]] = [((), payload)]
    budget = MAX_NODES - 1  # values that may still be queued
    while stack:
        path, value = stack.pop()
        kind = json_type(value)
        types.setdefault(path, set()).add(kind)
        if kind == "string":
            urls.setdefault(path, set()).add(url_shape(value))
        if len(path) >= MAX_DEPTH or kind not in ("object", "array"):
            continue
        children = (
            (((*path, str(k)), v) for k, v in value.items())
            if kind == "object"
            else (((*path, _ITEM), v) for v in value)
        )
        for child in children:
            if budget <= 0:
                break
            budget -= 1
            keys.add(child[0])
            stack.append(child)
    return PayloadShape(
        keys=frozenset(keys),
        types={p: frozenset(t) for p, t in types.items()},
        urls={p: frozenset(u) for p, u in urls.items()},
    )


@dataclass
class Profile:
    """What a sample of real payloads looks like, set by set (``add`` one at a time)."""

    count: int = 0
    always: set[Path] = field(default_factory=set)  # key paths every payload has
    seen: set[Path] = field(default_factory=set)  # key paths some payload has
    types: dict[Path, set[str]] = field(default_factory=dict)
    urls: dict[Path, set[str]] = field(default_factory=dict)

    def add(self, payload: Any) -> None:
        shape = shape_of(payload)
        self.always = set(shape.keys) if self.count == 0 else self.always & shape.keys
        self.count += 1
        self.seen |= shape.keys
        for path, kinds in shape.types.items():
            self.types.setdefault(path, set()).update(kinds)
        for path, shapes in shape.urls.items():
            self.urls.setdefault(path, set()).update(shapes)


def profile_of(payloads: Iterable[Any]) -> Profile:
    profile = Profile()
    for payload in payloads:
        profile.add(payload)
    return profile


_KIND_WORDS = {
    MISSING_KEY: "missing key",
    EXTRA_KEY: "extra key",
    TYPE: "value type",
    URL_SHAPE: "URL shape",
}


@dataclass(frozen=True)
class Difference:
    """One way some control payloads differ: ``kind`` (one of ``KINDS``), the key ``path``,
    what the controls have there (``control``: a type or a URL shape; empty for keys), what
    the real payloads have (``real``, at most ``MAX_EXAMPLES``), how many control ``items``
    differ so, and the ids of a few of them (``examples``)."""

    kind: str
    path: str
    control: str
    real: tuple[str, ...]
    items: int
    examples: tuple[str, ...]

    @property
    def signature(self) -> str:
        """What this difference is, without how many items show it: an override accepts
        signatures, so more items differing the same way do not invalidate it."""
        return f"{self.kind}|{self.path}|{self.control}"

    def message(self, controls: int) -> str:
        share = f"{self.items} of {controls} control items"
        real = ", ".join(self.real) or "nothing"
        if self.kind == MISSING_KEY:
            return f"{self.path}: missing in {share} (every real task has it)."
        if self.kind == EXTRA_KEY:
            return f"{self.path}: present in {share}; no real task has it."
        if self.kind == TYPE:
            return f"{self.path}: {self.control} in {share}; real tasks have {real}."
        return f"{self.path}: {self.control} in {share}; real tasks have {real}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "control": self.control,
            "real": list(self.real),
            "items": self.items,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class ShapeReport:
    """Control payloads compared with real ones. ``differences`` are the most common first, at
    most ``MAX_DIFFERENCES`` (``more`` counts the rest). With no real payload to compare with,
    nothing can differ: ``compared`` is false."""

    real_sampled: int
    controls_checked: int
    controls_differing: int
    differences: tuple[Difference, ...]
    more: int = 0

    @property
    def compared(self) -> bool:
        return self.real_sampled > 0 and self.controls_checked > 0

    @property
    def ok(self) -> bool:
        return not self.differences

    def signatures(self) -> frozenset[str]:
        return frozenset(d.signature for d in self.differences)

    def field_messages(self) -> dict[str, list[str]]:
        """The differences as an error's ``fields``: kind → messages."""
        fields: dict[str, list[str]] = {}
        for d in self.differences:
            fields.setdefault(d.kind, []).append(d.message(self.controls_checked))
        if self.more:
            fields.setdefault("more", []).append(f"{self.more} more differences not listed.")
        return fields

    def summary(self) -> str:
        if not self.compared:
            return "Nothing to compare yet (no real tasks or no control items)."
        if self.ok:
            return (
                f"The {self.controls_checked} control items have the shape of the "
                f"{self.real_sampled} real tasks sampled."
            )
        counts = {k: sum(1 for d in self.differences if d.kind == k) for k in KINDS}
        listed = ", ".join(
            f"{n} {_KIND_WORDS[k]}{'s' if n != 1 else ''}" for k, n in counts.items() if n
        )
        return (
            f"{self.controls_differing} of {self.controls_checked} control items differ from "
            f"the {self.real_sampled} real tasks sampled: {listed}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "ok": self.ok,
            "summary": self.summary(),
            "real_sampled": self.real_sampled,
            "controls_checked": self.controls_checked,
            "controls_differing": self.controls_differing,
            "differences": [d.to_dict() for d in self.differences],
            "more": self.more,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShapeReport:
        return cls(
            real_sampled=data["real_sampled"],
            controls_checked=data["controls_checked"],
            controls_differing=data["controls_differing"],
            differences=tuple(
                Difference(
                    kind=d["kind"],
                    path=d["path"],
                    control=d["control"],
                    real=tuple(d["real"]),
                    items=d["items"],
                    examples=tuple(d["examples"]),
                )
                for d in data["differences"]
            ),
            more=data.get("more", 0),
        )


def _outermost(paths: set[Path]) -> set[Path]:
    return {p for p in paths if not any(p[:i] in paths for i in range(1, len(p)))}


def compare(profile: Profile, controls: Iterable[tuple[str, Any]]) -> ShapeReport:
    """Compare control payloads (``(id, payload)`` pairs) with the real ``profile`` (module
    docstring for the rules). With an empty profile nothing is compared."""
    found: dict[tuple[str, Path, str], list[str]] = {}
    checked = differing = 0
    for item_id, payload in controls:
        checked += 1
        if not profile.count:
            continue
        shape = shape_of(payload)
        keys: list[tuple[str, Path, str]] = []
        keys += [(MISSING_KEY, p, "") for p in _outermost(profile.always - shape.keys)]
        keys += [(EXTRA_KEY, p, "") for p in _outermost(set(shape.keys) - profile.seen)]
        for path, kinds in shape.types.items():
            real = profile.types.get(path)
            if real is None:
                continue  # an extra key, named above
            keys += [(TYPE, path, k) for k in kinds - real]
            real_urls = profile.urls.get(path)
            if real_urls is not None and path in shape.urls:
                keys += [(URL_SHAPE, path, u) for u in shape.urls[path] - real_urls]
        if keys:
            differing += 1
        for key in keys:
            found.setdefault(key, []).append(str(item_id))

    def real_of(kind: str, path: Path) -> tuple[str, ...]:
        if kind == TYPE:
            values = profile.types.get(path, set())
        elif kind == URL_SHAPE:
            values = profile.urls.get(path, set())
        else:
            return ()
        return tuple(sorted(values)[:MAX_EXAMPLES])

    ordered = sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0][0], kv[0][1], kv[0][2]))
    differences = tuple(
        Difference(
            kind=kind,
            path=render_path(path),
            control=control,
            real=real_of(kind, path),
            items=len(ids),
            examples=tuple(ids[:MAX_EXAMPLES]),
        )
        for (kind, path, control), ids in ordered[:MAX_DIFFERENCES]
    )
    return ShapeReport(
        real_sampled=profile.count,
        controls_checked=checked,
        controls_differing=differing,
        differences=differences,
        more=max(0, len(ordered) - MAX_DIFFERENCES),
    )
