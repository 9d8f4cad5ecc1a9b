"""The score card of a text: N1 density, unique N1 words, N1 per 1,000 characters, counts
per level, target coverage, and jReadability (Lee & Hasebe). The formulas are in the README
and shown in the UI (FORMULAS)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field

from core.i18n import N_
from core.tokens import MORPH, SURFACE, Morph, Token
from core.vocab import LEVELS

SENTENCE_END = frozenset({"。", "？", "！", "．"})  # as jreadability splits sentences

# jReadability bands (Lee & Hasebe): lower scores are harder.
# The published bands span 0.5-6.5; scores outside fold into the nearest band. The labels are
# stored with each story in English and translated where shown.
BANDS = ((1.5, N_("上級後半 upper-advanced")), (2.5, N_("上級前半 lower-advanced")),
         (3.5, N_("中級後半 upper-intermediate")), (4.5, N_("中級前半 lower-intermediate")),
         (5.5, N_("初級後半 upper-elementary")), (float("inf"), N_("初級前半 lower-elementary")))
NO_TEXT = N_("n/a (no text)")

# Name -> formula, both marked for the catalogue and translated where shown (the names are keys too).
FORMULAS = {
    N_("N1 density"): N_("100 × N1 content words ÷ content words (content = nouns, verbs, i-/na-adjectives, "
                         "adverbs; not numbers, proper nouns, symbols, formal nouns (こと・ため) or する・ある・いる・なる; "
                         "a multi-morpheme entry such as 案の定 counts once)"),
    N_("Unique N1"): N_("number of different N1 headwords in the text"),
    N_("N1 per 1,000 chars"): N_("1000 × N1 word occurrences ÷ characters (whitespace not counted)"),
    N_("Per level"): N_("occurrences of listed words per level (each word at its easiest level); "
                        "outside = content words on no JLPT list"),
    N_("Target coverage"): N_("target words used ÷ target words given"),
    N_("jReadability"): N_("−0.056 × mean words per sentence − 0.126 × %kango − 0.042 × %wago − 0.145 × %verbs "
                           "− 0.044 × %particles + 11.724 (Lee & Hasebe; lower is harder)"),
}


@dataclass(frozen=True)
class Score:
    chars: int
    content_words: int
    n1_content: int
    n1_density: float
    unique_n1: int
    n1_per_1000_chars: float
    level_counts: dict[str, int]
    readability: float | None
    readability_band: str
    targets_used: tuple[str, ...] = ()
    targets_missed: tuple[str, ...] = ()
    target_coverage: float | None = None
    n1_words: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        d = asdict(self)
        for k in ("targets_used", "targets_missed", "n1_words"):
            d[k] = list(d[k])
        return d


class TokenStats:
    """What scoring needs from the token stream, accumulated chunk by chunk so a long text
    never has to be held as one token list."""

    def __init__(self) -> None:
        self.per_morph: Counter = Counter()
        self.tokens = 0
        self.content_in_matches = 0
        self.last_surface = ""
        # For personal coverage: the content tokens that matches cover (by morpheme) and the
        # matches' own headwords; `heads` nets them out of the per-morpheme counts.
        self.covered: Counter = Counter()
        self.match_heads: Counter = Counter()

    def add(self, tokens: Sequence[Token], matches: Sequence) -> None:
        if not tokens:
            return
        self.per_morph.update(t[MORPH] for t in tokens)  # C-speed counting; one pass per morpheme later
        self.tokens += len(tokens)
        self.last_surface = tokens[-1][SURFACE]
        # Most matches are one token, whose morpheme says if it is content; comprehensions, as
        # this runs for every match of every text.
        content = [m for m in matches if m.content]
        covered = [tokens[m.first][MORPH] for m in content if m.last - m.first == 1]
        for m in matches:
            if m.last - m.first > 1:
                covered += [t[MORPH] for t in tokens[m.first:m.last] if t[MORPH].content]
        self.content_in_matches += len(covered)
        self.covered.update(covered)
        self.match_heads.update([m.sense.entry.word for m in content])

    def drop(self, match) -> None:
        """A match found to be a character's name after all (真理 as a name, not the N1 word):
        it counts as a content word outside any list for the score, and for coverage as a name,
        which is not a running word (its tokens stay covered, so they join no headword)."""
        self.content_in_matches -= match.content
        self.match_heads[match.sense.entry.word] -= match.content

    def heads(self, known_heads: dict, head: Callable[[Morph], str],
              names: Collection[str] = ()) -> tuple[dict[str, int], int]:
        """Running content words by headword, and the number of running words, in one pass.

        A matched word counts under its list headword (促した -> 促す), any other content word
        under `head` of its morpheme (remembered in `known_heads`). Running words are the tokens
        that are words: not symbols, punctuation or space, and not proper nouns (a reader is not
        expected to know a name; Hu & Nation count them as known), nor the words the analysis
        found to be a character's name in this text (`names`: 真理 in 真理は笑った)."""
        # plain dicts: a Counter's missing key is a Python-level call. Listed words first.
        out: dict[str, int] = {w: n for w, n in self.match_heads.items() if n > 0}
        covered = self.covered.get
        running = 0
        for m, count in self.per_morph.items():
            if not m.running:  # (every content word is a running word)
                continue
            if m.content:
                if names and m.surface in names:
                    continue
                rest = count - covered(m, 0)
                if rest > 0:
                    h = known_heads.get(m)
                    if h is None:
                        h = known_heads[m] = head(m)
                    out[h] = out.get(h, 0) + rest
            running += count
        return out, running


def score(text: str, stats: TokenStats, matches: Sequence, targets: Sequence[str] = ()) -> Score:
    content_tokens = sum(n for m, n in stats.per_morph.items() if m.content)
    outside_all = content_tokens - stats.content_in_matches
    content = outside_all + sum(1 for m in matches if m.content)
    counts = Counter(m.sense.level for m in matches)
    n1 = [m for m in matches if m.sense.level == "N1"]
    n1_content = sum(1 for m in n1 if m.content)
    unlisted = sum(1 for m in matches if m.content and m.sense.level not in LEVELS)
    chars = len(text) - sum(text.count(c) for c in " \t\n\r\u3000\f\v")
    used = {w for m in matches for w in m.sense.targets}
    value = readability(stats)
    return Score(
        chars=chars, content_words=content, n1_content=n1_content,
        n1_density=round(100 * n1_content / content, 2) if content else 0.0,
        unique_n1=len({m.sense.entry.word for m in n1}),
        n1_per_1000_chars=round(1000 * len(n1) / chars, 2) if chars else 0.0,
        level_counts={lv: counts.get(lv, 0) for lv in LEVELS} | {"outside": outside_all + unlisted},
        readability=value, readability_band=band(value),
        targets_used=tuple(t for t in targets if t in used),
        targets_missed=tuple(t for t in targets if t not in used),
        target_coverage=round(len(used & set(targets)) / len(targets), 4) if targets else None,
        n1_words=tuple(dict.fromkeys(m.sense.entry.word for m in n1)),
    )


def readability(stats: TokenStats) -> float | None:
    """jreadability's formula over our own tokens, so the text is tokenized once;
    tests check it equals `jreadability.compute_readability`. None for empty text,
    where the library would divide by zero."""
    n = stats.tokens
    if not n:
        return None
    ends = sum(count for m, count in stats.per_morph.items() if m.orth_base in SENTENCE_END)
    sentences = ends + (0 if stats.last_surface in SENTENCE_END else 1)
    kango = wago = verbs = particles = 0
    for m, count in stats.per_morph.items():
        kango += count * (m.goshu == "漢")
        wago += count * (m.goshu == "和")
        verbs += count * (m.pos1 == "動詞" and m.pos2 != "非自立可能")
        particles += count * (m.pos1 == "助詞")
    value = (n / sentences * -0.056 + 100 * kango / n * -0.126 + 100 * wago / n * -0.042
             + 100 * verbs / n * -0.145 + 100 * particles / n * -0.044 + 11.724)
    return round(value, 4)


def band(value: float | None) -> str:
    if value is None:
        return NO_TEXT
    return next(label for upper, label in BANDS if value < upper)
