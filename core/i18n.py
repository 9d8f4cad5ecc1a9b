"""The one translation layer: every message a person reads goes through `_` (or `ngettext`),
looked up in the gettext catalogue of the language in use (`locales/<lang>/LC_MESSAGES/
nonestory.po`, compiled to .mo by `make`), and numbers and dates are written by Babel in that
language's way.

The language in use is the one a context set (the command line, from NONESTORY_LANG or the
system's locale; a test's `with language(...)`), else what the app's resolver says: the
browser session's choice (kept per profile, else the browser's own language). A message with no translation, or a language whose catalogue is not
compiled, falls back to the English text itself, which is also the message id.

This module imports neither streamlit nor the store, so core, the command line and tests use it.
"""
from __future__ import annotations

import contextvars
import functools
import gettext
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

DOMAIN = "nonestory"
LOCALES = Path(__file__).resolve().parent.parent / "locales"
# Language code -> the language's own name, as the picker shows it. The codes are Babel's
# (and gettext's folder names): script subtags keep simplified and traditional Chinese apart
# whatever the region.
LANGUAGES = {"en": "English", "zh_Hans": "简体中文", "zh_Hant": "繁體中文", "ja": "日本語"}
DEFAULT = "en"
# Traditional characters are written in these regions unless the tag says otherwise.
_HANT_REGIONS = {"TW", "HK", "MO"}

# The language set for this context (a test's block, the command line); None = ask the resolver.
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("nonestory_language", default=None)
_resolver: Callable[[], str | None] | None = None


def normalize(tag: str | None) -> str | None:
    """A known language code for a browser or system tag ("zh-TW", "zh_Hant_HK", "ja-JP",
    "en-GB", "zh-CN.UTF-8"); None for a language NoneStory does not speak."""
    if not tag:
        return None
    parts = tag.split(".")[0].replace("-", "_").split("_")
    lang, rest = parts[0].lower(), [p for p in parts[1:] if p]
    if lang == "zh":
        scripts = {p.title() for p in rest if len(p) == 4}
        if scripts & {"Hant", "Hans"}:
            return "zh_Hant" if "Hant" in scripts else "zh_Hans"
        return "zh_Hant" if any(p.upper() in _HANT_REGIONS for p in rest) else "zh_Hans"
    return lang if lang in LANGUAGES else None


def use_resolver(resolver: Callable[[], str | None] | None) -> None:
    """Where the language comes from when no context set one: the app registers a function
    reading the browser session's choice, so every message of a session's script run, its
    widget callbacks and fragments included, is in that session's language, while other
    sessions and background threads are not affected."""
    global _resolver
    _resolver = resolver


def current() -> str:
    code = _current.get()
    if code is None and _resolver is not None:
        code = normalize(_resolver())
    return code or DEFAULT


def set_language(code: str | None) -> str:
    """Use `code` (any tag normalize understands) from now on in this context (the command
    line, a worker); English for an unknown one. Returns the code in use."""
    code = normalize(code) or DEFAULT
    _current.set(code)
    return code


@contextmanager
def language(code: str | None) -> Iterator[str]:
    """Use `code` inside the block only (a test, a message written for another reader)."""
    token = _current.set(normalize(code) or DEFAULT)
    try:
        yield current()
    finally:
        _current.reset(token)


def from_environment() -> str:
    """The command line's language: NONESTORY_LANG, else the system's (LC_ALL, LC_MESSAGES,
    LANG), else English."""
    for name in ("NONESTORY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        code = normalize(os.environ.get(name))
        if code:
            return code
    return DEFAULT


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalogue of `code`; the English text itself where there is none."""
    if code == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[code], fallback=True)


def _(message: str) -> str:
    """`message` in the language in use. Placeholders are named ({count}, {name}) and filled
    after translation with .format, so a translator can move them. An empty message stays
    empty (gettext would give the catalogue's header)."""
    return translations(current()).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a constant, a table of labels)
    and translated where it is shown, with `_`."""
    return message


# -- numbers and dates, in the language's way ----------------------------------------------------

def babel_locale(code: str | None = None) -> str:
    """The Babel locale for a language code: zh_Hans_CN, zh_Hant_TW, ja_JP, en_US."""
    return {"en": "en_US", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW", "ja": "ja_JP"}[code or current()]


def number(value: float | int, decimals: int | None = None) -> str:
    """12,345 / 12,345.6 with the language's separators; `decimals` fixes the digits shown."""
    from babel.numbers import format_decimal

    if decimals is None:
        return format_decimal(value, locale=babel_locale())
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


def percent(share: float, decimals: int = 1) -> str:
    """A share (0.123) as the language writes a percentage: 12.3%."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    return format_percent(share, format=pattern, locale=babel_locale())


def moment(value: datetime) -> str:
    """A date and time, short: Dec 1, 2026, 9:30 AM / 2026/12/01 9:30."""
    from babel.dates import format_datetime

    return format_datetime(value, format="short", locale=babel_locale())
