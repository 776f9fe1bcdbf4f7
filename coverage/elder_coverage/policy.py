"""The policy registry: indicators, their targets and the documents they come from.

``policy.yaml`` (beside ``standards.yaml``) names, for every indicator, the numerator,
denominator and unit it measures and, for every target, the document number (文号), clause,
scope (province / city) and year. :func:`load_policy` reads and validates it;
:mod:`elder_coverage.indicators` computes the values, the report shows the source of each
figure and :func:`readme_table` writes README's indicator table::

    python -m elder_coverage.policy --readme README.md

The assumptions the documents leave open (the high-need village criteria, the closure
criteria, how a city-wide target meets a smaller study area) live in the same file.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Units an indicator may have: shares are 0-1.
UNITS: dict[str, dict[str, str]] = {
    "share": {"zh": "%", "en": "%"},
    "beds": {"zh": "张", "en": "beds"},
    "beds/1000": {"zh": "张/千名老人", "en": "beds per 1,000 elders"},
    "m2/person": {"zh": "平方米/人", "en": "m² per person"},
}
SCOPES: tuple[str, ...] = ("province", "city")

#: README markers between which :func:`readme_table` is written.
README_BEGIN = "<!-- indicator-table:begin (generated from coverage/elder_coverage/policy.yaml) -->"
README_END = "<!-- indicator-table:end -->"

_TOP_KEYS = ("documents", "scopes", "assumptions", "indicators")
_IND_KEYS = ("label", "numerator", "denominator", "unit", "spatial", "targets", "reference")
_TARGET_KEYS = ("value", "year", "scope", "document", "clause")


class PolicyError(ValueError):
    """The policy registry is malformed; the message names the file and key."""


@dataclass(frozen=True)
class Target:
    """One target of an indicator, as a document states it.

    Attributes
    ----------
    value : float
        Target value in the indicator's unit (shares 0-1).
    year : int or None
        Year by whose end the target is to be met (None: a standard without a date).
    scope : {"province", "city"}
        Area the target is set for.
    number, clause : str
        Document number (文号) and clause, e.g. ``吉民发〔2025〕20号``, ``第2条``.
    """

    value: float
    year: int | None
    scope: str
    number: str
    clause: str

    @property
    def source(self) -> str:
        """``文号 clause``, the citation shown next to every figure."""
        return f"{self.number} {self.clause}".strip()


@dataclass(frozen=True)
class Indicator:
    """One registry entry (see ``policy.yaml``).

    Attributes
    ----------
    key : str
    label, numerator, denominator : dict
        ``{"zh": ..., "en": ...}`` texts.
    unit : str
        One of :data:`UNITS`.
    spatial : bool
        True when the value depends on travel to facilities (service standards).
    targets : tuple of Target
        Empty for a descriptive figure.
    reference : str
        Citation of a descriptive figure's document ("" when none).
    """

    key: str
    label: dict[str, str]
    numerator: dict[str, str]
    denominator: dict[str, str]
    unit: str
    spatial: bool
    targets: tuple[Target, ...]
    reference: str = ""


@dataclass(frozen=True)
class Policy:
    """The whole registry: documents, scopes, assumptions and indicators (in file order)."""

    documents: dict[str, dict[str, Any]]
    scopes: dict[str, dict[str, Any]]
    assumptions: dict[str, dict[str, Any]]
    indicators: dict[str, Indicator]


def default_policy_path() -> Path:
    """Path of the packaged ``policy.yaml``."""
    return Path(str(resources.files("elder_coverage").joinpath("policy.yaml")))


def _need(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise PolicyError(f"{where}: missing key {key!r}")
    return d[key]


def _bilingual(v: Any, where: str) -> dict[str, str]:
    if not isinstance(v, Mapping) or not {"zh", "en"} <= set(v):
        raise PolicyError(f"{where}: expected {{zh: ..., en: ...}}, got {v!r}")
    return {"zh": str(v["zh"]), "en": str(v["en"])}


def _unknown(d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    extra = sorted(set(d) - set(allowed))
    if extra:
        raise PolicyError(f"{where}: unknown key {extra[0]!r}; expected {list(allowed)}")


def parse_policy(raw: Mapping[str, Any], *, where: str = "policy.yaml") -> Policy:
    """Validate a registry given as a dict (the YAML layout).

    Raises
    ------
    PolicyError
        Unknown or missing key, a target citing an undeclared document, an unknown scope or
        unit, a non-numeric value or year; the message names the key.
    """
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected a mapping at the top level")
    _unknown(raw, _TOP_KEYS, where)
    docs = dict(_need(raw, "documents", where))
    for key, doc in docs.items():
        _need(doc, "number", f"{where}: documents.{key}")
        if _need(doc, "scope", f"{where}: documents.{key}") not in SCOPES:
            raise PolicyError(f"{where}: documents.{key}.scope must be one of {SCOPES}")
    scopes = dict(_need(raw, "scopes", where))
    for s in SCOPES:
        _bilingual(_need(scopes, s, f"{where}: scopes"), f"{where}: scopes.{s}")
    inds: dict[str, Indicator] = {}
    for key, entry in dict(_need(raw, "indicators", where)).items():
        w = f"{where}: indicators.{key}"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{w}: expected a mapping")
        _unknown(entry, _IND_KEYS, w)
        unit = _need(entry, "unit", w)
        if unit not in UNITS:
            raise PolicyError(f"{w}.unit: {unit!r} is not one of {sorted(UNITS)}")
        targets = []
        for i, t in enumerate(_need(entry, "targets", w) or []):
            tw = f"{w}.targets[{i}]"
            _unknown(t, _TARGET_KEYS, tw)
            doc = _need(t, "document", tw)
            if doc not in docs:
                raise PolicyError(f"{tw}.document: {doc!r} is not declared under documents")
            scope = _need(t, "scope", tw)
            if scope not in SCOPES:
                raise PolicyError(f"{tw}.scope: {scope!r} is not one of {SCOPES}")
            value, year = _need(t, "value", tw), _need(t, "year", tw)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(f"{tw}.value: expected a number, got {value!r}")
            if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
                raise PolicyError(f"{tw}.year: expected a year or null, got {year!r}")
            targets.append(Target(float(value), year, scope, str(docs[doc]["number"]),
                                  str(_need(t, "clause", tw))))
        ref = entry.get("reference")
        reference = ""
        if ref is not None:
            doc = _need(ref, "document", f"{w}.reference")
            if doc not in docs:
                raise PolicyError(f"{w}.reference.document: {doc!r} is not declared")
            reference = f"{docs[doc]['number']} {_need(ref, 'clause', f'{w}.reference')}"
        spatial = _need(entry, "spatial", w)
        if not isinstance(spatial, bool):
            raise PolicyError(f"{w}.spatial: expected true or false")
        inds[key] = Indicator(
            key=key, label=_bilingual(_need(entry, "label", w), f"{w}.label"),
            numerator=_bilingual(_need(entry, "numerator", w), f"{w}.numerator"),
            denominator=_bilingual(_need(entry, "denominator", w), f"{w}.denominator"),
            unit=unit, spatial=spatial, targets=tuple(targets), reference=reference)
    return Policy(documents=docs, scopes=scopes,
                  assumptions={k: dict(v) for k, v in dict(raw.get("assumptions") or {}).items()},
                  indicators=inds)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> Policy:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML ({exc})") from None
    return parse_policy(raw, where=path)


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate the policy registry.

    Parameters
    ----------
    path : path-like, optional
        A registry file; defaults to the packaged ``policy.yaml``.

    Returns
    -------
    Policy

    Raises
    ------
    PolicyError
        Malformed registry (the message names the file and key).
    """
    return _load_cached(str(Path(path) if path is not None else default_policy_path()))


def assumption(section: str, key: str, *, policy: Policy | None = None) -> Any:
    """One value from the registry's ``assumptions`` (e.g. ``("closure", "built_before")``)."""
    pol = policy or load_policy()
    try:
        return pol.assumptions[section][key]
    except KeyError:
        raise PolicyError(f"policy.yaml: assumptions.{section}.{key} is missing") from None


def scope_label(scope: Any, lang: str = "zh", *, policy: Policy | None = None) -> str:
    """Display name of a target scope (``city`` → 吉林市 / Jilin City); unknown shown as given."""
    from elder_coverage.labels import text

    pol = policy or load_policy()
    if scope in pol.scopes:
        return str(pol.scopes[scope][lang])
    if scope == "study_area":
        return text("scope_study_area", lang)
    return "" if scope is None or scope != scope else str(scope)


def format_target(value: float, unit: str) -> str:
    """A target as people write it: ``60 %``, ``35,000``, ``0.12``."""
    if unit == "share":
        return f"{value * 100:g} %"
    if unit == "beds":
        return f"{value:,.0f}"
    return f"{value:g}"


def readme_table(policy: Policy | None = None) -> str:
    """README's indicator table (Markdown), one line per indicator and target.

    Returns
    -------
    str
        The table between :data:`README_BEGIN` and :data:`README_END`, newline-terminated.
    """
    pol = policy or load_policy()
    lines = [README_BEGIN,
             "| indicator | 指标 | numerator / denominator | unit | target | year | scope | "
             "source (文号, clause) | spatial |",
             "|---|---|---|---|---|---|---|---|---|"]
    for ind in pol.indicators.values():
        nd = ind.numerator["en"] if ind.unit == "beds" else \
            f"{ind.numerator['en']} / {ind.denominator['en']}"
        rows = [(format_target(t.value, ind.unit), "" if t.year is None else str(t.year),
                 pol.scopes[t.scope]["en"], t.source) for t in ind.targets] or \
            [("— (descriptive)", "", "study area", ind.reference or "—")]
        for target, year, scope, source in rows:
            lines.append(f"| `{ind.key}` | {ind.label['zh']} | {nd} | {UNITS[ind.unit]['en']} "
                         f"| {target} | {year} | {scope} | {source} | "
                         f"{'yes' if ind.spatial else 'no'} |")
    lines.append(README_END)
    return "\n".join(lines) + "\n"


def write_readme_table(readme: str | Path, *, policy: Policy | None = None) -> bool:
    """Replace the generated table in ``readme`` (atomically); True when the file changed.

    Raises
    ------
    PolicyError
        The README lacks the begin/end markers.
    """
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise PolicyError(f"{path}: no {README_BEGIN!r} … {README_END!r} markers")
    new = text[:start] + readme_table(policy).rstrip("\n") + text[end + len(README_END):]
    if new == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m elder_coverage.policy --readme README.md``: regenerate README's table."""
    ap = argparse.ArgumentParser(prog="python -m elder_coverage.policy",
                                 description="Print or write the indicator table of policy.yaml")
    ap.add_argument("--readme", help="README to update between the indicator-table markers")
    args = ap.parse_args(argv)
    if args.readme:
        changed = write_readme_table(args.readme)
        print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    else:
        print(readme_table(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
