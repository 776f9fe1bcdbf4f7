"""The registry of facility kinds: names, input words, map glyphs, colours and groups.

``kinds.yaml`` (beside ``standards.yaml`` and ``policy.yaml``) says once, per kind, what it is
called in Chinese and English, which words in a facility list mean it, how the map draws it,
where new sites of it may go, and which groups (beds, community services …) count it. Every
other module takes these facts from here; the older module-level names
(:data:`elder_coverage.schema.FACILITY_KINDS`, :data:`~elder_coverage.schema.KIND_LABELS`,
:data:`elder_coverage.labels.KIND_COLOURS`, :data:`elder_coverage.aggregate.BED_KINDS` …) are
values derived from it.

>>> kind("dining_hall").label("en")
'Elder dining hall'
>>> kind_from_word(" 老年食堂 ").code
'dining_hall'
>>> kinds_with_role("community")
('dining_hall', 'rural_courtyard', 'day_care')

Service standards (minutes, radius) stay in ``standards.yaml`` under the same codes, because a
scenario may override them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from elder_coverage._errors import DataError, SettingsError

# Languages every label and glyph is given in: those of elder_coverage.labels.LANGS, which
# cannot be imported here (labels reads this module).
_LANGS: tuple[str, ...] = ("zh", "en")
#: Groups of kinds the registry's ``roles`` section defines (see kinds.yaml).
ROLES: tuple[str, ...] = ("beds", "community", "community_land", "close_merge")
#: Places a new site of a kind may be proposed at: township seats, villages, or villages that
#: are not urban communities.
NEW_SITE_PLACES: tuple[str, ...] = ("seats", "villages", "rural_villages")

_TOP_KEYS = ("kinds", "roles")
_KIND_KEYS = ("label", "glyph", "colour", "words", "new_site")
# Codes become column names (``dining_hall_covered``) and scenario keys.
_CODE = re.compile(r"[a-z][a-z0-9_]*")
_COLOUR = re.compile(r"#[0-9a-f]{6}")


class KindRegistryError(SettingsError):
    """``kinds.yaml`` is malformed; the message names the file and key."""


class UnknownKindError(DataError):
    """A code or word names no facility kind; the message lists the accepted ones."""


def word_key(text: Any) -> str:
    """Form in which input words are compared: no spaces, ``_`` or ``-``, lower case.

    >>> word_key(" Day-Care Centre ")
    'daycarecentre'
    """
    return re.sub(r"[\s_\-]+", "", str(text)).lower()


@dataclass(frozen=True)
class FacilityKind:
    """One facility kind of the registry.

    Attributes
    ----------
    code : str
        Identifier used in tables and scenario files (``"dining_hall"``).
    label_zh, label_en : str
        Display names; a Chinese label may list alternatives separated by ``/``.
    glyph_zh, glyph_en : str
        One or two characters drawn inside the map marker.
    colour : str
        Marker and service-area colour, ``#rrggbb``.
    roles : tuple of str
        Groups of :data:`ROLES` that count this kind, e.g. ``("beds", "community")``.
    new_site : tuple of str
        Places of :data:`NEW_SITE_PLACES` new sites of this kind may be proposed at; empty when
        the tool proposes none.
    extra_words : tuple of str
        Words for the kind besides its code and labels, as written in ``kinds.yaml``.
    """

    code: str
    label_zh: str
    label_en: str
    glyph_zh: str
    glyph_en: str
    colour: str
    roles: tuple[str, ...]
    new_site: tuple[str, ...]
    extra_words: tuple[str, ...]

    def label(self, lang: str = "zh") -> str:
        """Display name in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.label_en if _lang(lang) == "en" else self.label_zh

    def glyph(self, lang: str = "zh") -> str:
        """Marker glyph in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.glyph_en if _lang(lang) == "en" else self.glyph_zh

    @property
    def words(self) -> tuple[str, ...]:
        """Every word a facility list may use for this kind: the code, both labels, each
        ``/``-part of the Chinese label and the extra words, without repeats."""
        out = [self.code, self.label_en, self.label_zh, *self.label_zh.split("/"),
               *self.extra_words]
        return tuple(dict.fromkeys(w for w in out if w))

    @property
    def zh_words(self) -> tuple[str, ...]:
        """The Chinese words of :attr:`words` (label parts first), for messages."""
        return tuple(dict.fromkeys([*self.label_zh.split("/"), *self.extra_words]))

    @property
    def can_be_new_site(self) -> bool:
        """Whether ``analyses.new_sites.kind`` may name this kind."""
        return bool(self.new_site)


def _lang(lang: str) -> str:
    if lang not in _LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {_LANGS}")
    return lang


@dataclass(frozen=True)
class KindRegistry:
    """All facility kinds, in the order tables, legends and layer lists use.

    Attributes
    ----------
    kinds : tuple of FacilityKind
        In registry order.
    roles : mapping of str to tuple of str
        Each role of :data:`ROLES` → its member codes, in the order notes name them.
    lookup : mapping of str to str
        :func:`word_key` of every accepted word → kind code.
    """

    kinds: tuple[FacilityKind, ...]
    roles: Mapping[str, tuple[str, ...]]
    lookup: Mapping[str, str]

    @property
    def codes(self) -> tuple[str, ...]:
        """Kind codes in registry order."""
        return tuple(k.code for k in self.kinds)

    def kind(self, code: str) -> FacilityKind:
        """The kind of ``code``; :class:`UnknownKindError` when there is none."""
        for k in self.kinds:
            if k.code == code:
                return k
        raise UnknownKindError(f"unknown kind {code!r}; allowed kinds: {self.allowed_text()}")

    def match(self, word: Any) -> FacilityKind | None:
        """The kind a word from a facility list means, or None."""
        code = self.lookup.get(word_key(word))
        return None if code is None else self.kind(code)

    def from_word(self, word: Any) -> FacilityKind:
        """Like :meth:`match`, but an unknown word raises :class:`UnknownKindError`."""
        found = self.match(word)
        if found is None:
            raise UnknownKindError(f"unknown kind {word!r}; allowed kinds: "
                                   f"{self.allowed_text()}")
        return found

    def allowed_text(self) -> str:
        """Each code with the Chinese words and English label accepted for it, for messages."""
        return "; ".join(f"{k.code} ({'/'.join(k.zh_words)}, {k.label_en})" for k in self.kinds)


def default_path() -> Path:
    """The packaged ``kinds.yaml``."""
    return Path(str(resources.files("elder_coverage").joinpath("kinds.yaml")))


def _fail(where: str, message: str) -> KindRegistryError:
    return KindRegistryError(f"{where}: {message}")


def _pair(raw: Any, where: str) -> tuple[str, str]:
    if not isinstance(raw, Mapping) or set(raw) != set(_LANGS):
        raise _fail(where, f"expected {{zh: …, en: …}}, got {raw!r}")
    out = []
    for lang in _LANGS:
        v = raw[lang]
        if not isinstance(v, str) or not v.strip():
            raise _fail(f"{where}.{lang}", f"expected a non-empty text, got {v!r}")
        out.append(v)
    return out[0], out[1]


def _texts(raw: Any, where: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise _fail(where, f"expected a list of non-empty texts, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise _fail(where, "lists a value twice")
    if allowed is not None:
        bad = [v for v in raw if v not in allowed]
        if bad:
            raise _fail(where, f"{bad[0]!r} is not one of {allowed}")
    return tuple(raw)


def parse_kinds(raw: Any, *, where: str = "kinds.yaml") -> KindRegistry:
    """Validate a parsed ``kinds.yaml`` and build the registry.

    Raises
    ------
    KindRegistryError
        A key is missing or unknown, a code malformed, a colour, glyph or label used by two
        kinds, a word accepted for two kinds, or a role naming an unknown kind.
    """
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected a mapping with keys " + ", ".join(_TOP_KEYS))
    unknown = set(raw) - set(_TOP_KEYS)
    if unknown:
        raise _fail(f"{where}: {sorted(unknown)[0]}",
                    f"unknown top-level key; expected {_TOP_KEYS}")
    kinds_raw, roles_raw = raw.get("kinds"), raw.get("roles")
    if not isinstance(kinds_raw, Mapping) or not kinds_raw:
        raise _fail(f"{where}: kinds", "must map each kind code to its entry")
    if not isinstance(roles_raw, Mapping) or set(roles_raw) != set(ROLES):
        raise _fail(f"{where}: roles", f"must define exactly {ROLES}")

    roles: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        members = _texts(roles_raw[role], f"{where}: roles.{role}")
        bad = [c for c in members if c not in kinds_raw]
        if bad:
            raise _fail(f"{where}: roles.{role}", f"unknown kind {bad[0]!r}")
        roles[role] = members

    kinds: list[FacilityKind] = []
    for code, spec in kinds_raw.items():
        at = f"{where}: kinds.{code}"
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise _fail(at, "a code is lower-case letters, digits and _ (it names columns)")
        if not isinstance(spec, Mapping):
            raise _fail(at, f"expected a mapping of {_KIND_KEYS}")
        bad_keys = set(spec) - set(_KIND_KEYS)
        if bad_keys:
            raise _fail(f"{at}.{sorted(bad_keys)[0]}", f"unknown key; expected {_KIND_KEYS}")
        colour = spec.get("colour")
        if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
            raise _fail(f"{at}.colour", f"expected #rrggbb in lower case, got {colour!r}")
        label = _pair(spec.get("label"), f"{at}.label")
        glyph = _pair(spec.get("glyph"), f"{at}.glyph")
        kinds.append(FacilityKind(
            code=code, label_zh=label[0], label_en=label[1], glyph_zh=glyph[0],
            glyph_en=glyph[1], colour=colour,
            roles=tuple(r for r in ROLES if code in roles[r]),
            new_site=_texts(spec.get("new_site"), f"{at}.new_site", NEW_SITE_PLACES),
            extra_words=_texts(spec.get("words"), f"{at}.words")))

    # A marker, legend entry or label that two kinds share could not tell them apart.
    for what, value_of in (("colour", lambda k: k.colour),
                           ("glyph.zh", lambda k: k.glyph_zh), ("glyph.en", lambda k: k.glyph_en),
                           ("label.zh", lambda k: k.label_zh), ("label.en", lambda k: k.label_en)):
        seen: dict[str, str] = {}
        for k in kinds:
            v = value_of(k)
            if v in seen:
                raise _fail(f"{where}: kinds.{k.code}.{what}", f"{v!r} is also {seen[v]}'s")
            seen[v] = k.code

    lookup: dict[str, str] = {}
    for k in kinds:
        implied = {word_key(w) for w in (k.code, k.label_en, k.label_zh, *k.label_zh.split("/"))}
        for w in k.extra_words:
            if word_key(w) in implied:
                raise _fail(f"{where}: kinds.{k.code}.words",
                            f"{w!r} is already accepted (code or label); list only other words")
        for w in k.words:
            other = lookup.setdefault(word_key(w), k.code)
            if other != k.code:
                raise _fail(f"{where}: kinds.{k.code}", f"word {w!r} also names {other}")
    return KindRegistry(kinds=tuple(kinds), roles=MappingProxyType(roles),
                        lookup=MappingProxyType(lookup))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> KindRegistry:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KindRegistryError(f"{path}: not valid YAML ({exc})") from None
    return parse_kinds(raw, where=path)


def load_kinds(path: str | Path | None = None) -> KindRegistry:
    """Read and validate the kind registry.

    Parameters
    ----------
    path : path-like, optional
        A registry file; defaults to the packaged ``kinds.yaml``.

    Returns
    -------
    KindRegistry
    """
    return _load_cached(str(Path(path) if path is not None else default_path()))


def facility_kinds() -> tuple[FacilityKind, ...]:
    """Every kind of the packaged registry, in registry order."""
    return load_kinds().kinds


def kind_codes() -> tuple[str, ...]:
    """Codes of :func:`facility_kinds`."""
    return load_kinds().codes


def kind(code: str) -> FacilityKind:
    """The kind of ``code``; :class:`UnknownKindError` when there is none."""
    return load_kinds().kind(code)


def match_kind(word: Any) -> FacilityKind | None:
    """The kind a Chinese or English word means (``"老年食堂"`` → dining_hall), or None."""
    return load_kinds().match(word)


def kind_from_word(word: Any) -> FacilityKind:
    """Like :func:`match_kind`; an unknown word raises :class:`UnknownKindError` listing the
    accepted kinds and words."""
    return load_kinds().from_word(word)


def kinds_with_role(role: str) -> tuple[str, ...]:
    """Codes of the kinds in ``role`` (one of :data:`ROLES`), in the registry's role order."""
    roles = load_kinds().roles
    if role not in roles:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    return roles[role]


def new_site_kinds() -> tuple[str, ...]:
    """Codes of the kinds new sites may be proposed for, in registry order."""
    return tuple(k.code for k in facility_kinds() if k.can_be_new_site)


def allowed_kinds_text() -> str:
    """``code (中文词/…, English label); …`` for every kind: what an error message offers."""
    return load_kinds().allowed_text()
