"""Analysis -> HTML. Every piece of text is escaped here before it becomes markup; no other
module builds HTML. Tooltips are CSS-only (:hover and :focus), so a tap on a phone shows the
meaning without any script."""
from __future__ import annotations

from collections.abc import Iterable
from html import escape

from core.analysis import Analysis, Match
from core.kana import has_kanji, hira, is_kana
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
.ns-tip b{font-size:1rem}.ns-tip i{opacity:.85}
rt{font-size:.6em;font-weight:400}
.ns-legend{font-size:.85rem;margin:0 0 .4rem;color:#495057}
.ns-key{display:inline-block;border-radius:.25rem;padding:0 .4rem;margin:0 .15rem .2rem 0;cursor:default}
""" + "".join(f".ns-{k or 'none'}{{background:{bg};color:{fg}}}" for k, (bg, fg) in COLOURS.items()) + "</style>"


def render_text(analysis: Analysis, levels: Iterable[str] = LEVELS, furigana: bool = False) -> str:
    """The text with the chosen levels (and every custom list and target) marked."""
    show = set(levels)
    parts, pos, text = [], 0, analysis.text
    for m in analysis.matches:
        if not shown(m, show):
            continue
        parts.append(escape(text[pos:m.start]))
        parts.append(_word(m, furigana))
        pos = m.end
    parts.append(escape(text[pos:]))
    return f'<div class="ns-text" lang="ja">{"".join(parts)}</div>'


def legend(levels: Iterable[str], analysis: Analysis | None = None) -> str:
    """The colour key for a marked text: the chosen levels, easiest first, then a custom list
    and target words when the text has any."""
    show = sorted((lv for lv in LEVELS if lv in set(levels)), key=lambda lv: -int(lv[1]))  # N5 .. N1
    chips = [(f"ns-{lv}", lv) for lv in show]
    matches = analysis.matches if analysis is not None else ()
    if any(on_lists(m) for m in matches):
        chips.append(("ns-list", "custom list"))
    if any("target" in m.lists for m in matches):
        chips.append(("ns-none ns-target", "target word"))
    body = " ".join(f'<span class="ns-key {cls}">{escape(text)}</span>' for cls, text in chips)
    return f'<div class="ns-legend" aria-label="Colour key">Colour key: {body}</div>' if chips else ""


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
    return " · ".join(parts) or "target word"


def _word(m: Match, furigana: bool) -> str:
    # A teacher's list is the more specific choice: its words wear the list colour even when
    # they are also JLPT words (the tooltip says both).
    kind = "list" if on_lists(m) else m.level if m.level in LEVELS else ""
    classes = f"ns-w ns-{kind or 'none'}" + (" ns-target" if "target" in m.lists else "")
    body = ruby(m.surface, m.ruby) if furigana else escape(m.surface)
    return (f'<span class="{classes}" tabindex="0" data-level="{escape(m.level)}" '
            f'data-word="{escape(m.word)}">{body}{tooltip(m)}</span>')


def tooltip(m: Match) -> str:
    head = f"<b>{escape(m.word)}</b>"
    if m.reading and m.reading != hira(m.word):
        head += f"【{escape(m.reading)}】"
    lines = [f"{head} · {escape(label(m))}"]
    if m.meanings:
        lines.append(escape("; ".join(m.meanings[:4])))
    if m.entry.examples:
        ja, en = m.entry.examples[0]
        lines.append(f"<i>{escape(ja)}</i><br>{escape(en)}")
    return f'<span class="ns-tip" role="tooltip">{"<br>".join(lines)}</span>'


def ruby(surface: str, reading: str) -> str:
    """<ruby> over the kanji part only: okurigana and leading kana stay outside
    (促し/うながし -> 促<rt>うなが</rt>し)."""
    if not reading or not has_kanji(surface) or hira(surface) == reading:
        return escape(surface)
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


def page(analysis: Analysis, levels: Iterable[str] = LEVELS, furigana: bool = False, title: str = "") -> str:
    """A standalone HTML document (the CLI's --html)."""
    return (f'<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title or 'NoneStory')}</title>{STYLE}</head><body>"
            f"{render_text(analysis, levels, furigana)}</body></html>")
