"""The score card of a text: N1 density, unique N1 words, N1 per 1,000 characters, counts
per level, target coverage, and jReadability (Lee & Hasebe). The formulas are in the README
and shown in the UI (FORMULAS)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from core.tokens import Token

CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞"})
NOT_CONTENT_POS2 = frozenset({"固有名詞", "数詞", "助動詞語幹"})
# UniDic tags many verbs 非自立可能 ("may be auxiliary"); only these few are grammar words.
DEPENDENT_VERBS = frozenset({"為る", "有る", "居る", "成る"})
SENTENCE_END = frozenset({"。", "？", "！", "．"})  # as jreadability splits sentences
LEVELS = ("N5", "N4", "N3", "N2", "N1")

# jReadability bands (Lee & Hasebe): lower scores are harder.
# The published bands span 0.5-6.5; scores outside fold into the nearest band.
BANDS = ((1.5, "上級後半 upper-advanced"), (2.5, "上級前半 lower-advanced"),
         (3.5, "中級後半 upper-intermediate"), (4.5, "中級前半 lower-intermediate"),
         (5.5, "初級後半 upper-elementary"), (float("inf"), "初級前半 lower-elementary"))

FORMULAS = {
    "N1 density": "100 × N1 content words ÷ content words (content = nouns, verbs, i-/na-adjectives, "
                  "adverbs; not numbers, proper nouns, symbols, formal nouns (こと・ため) or する・ある・いる・なる; "
                  "a multi-morpheme entry such as 案の定 counts once)",
    "Unique N1": "number of different N1 headwords in the text",
    "N1 per 1,000 chars": "1000 × N1 word occurrences ÷ characters (whitespace not counted)",
    "Per level": "occurrences of listed words per level (each word at its easiest level); "
                 "outside = content words on no JLPT list",
    "Target coverage": "target words used ÷ target words given",
    "jReadability": "−0.056 × mean words per sentence − 0.126 × %kango − 0.042 × %wago − 0.145 × %verbs "
                    "− 0.044 × %particles + 11.724 (Lee & Hasebe; lower is harder)",
}


def is_content(t: Token) -> bool:
    """Nouns, verbs, adjectives (i- and na-), adverbs; not numbers, proper nouns, the dependent
    words (する, こと, いる) that only carry grammar, or unknown non-Japanese strings."""
    if t.pos1 not in CONTENT_POS or t.pos2 in NOT_CONTENT_POS2 or not (t.lform or t.kana):
        return False
    if t.pos2 == "非自立可能":  # formal nouns (こと, ため) and する/ある/いる/なる
        return t.pos1 == "動詞" and t.lemma not in DEPENDENT_VERBS or t.pos1 in ("形容詞", "副詞")
    return True


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


def score(text: str, tokens: Sequence[Token], matches: Sequence, targets: Sequence[str] = ()) -> Score:
    covered = {i for m in matches for i in range(m.start, m.end)}
    outside = sum(1 for t in tokens if is_content(t) and t.start not in covered)
    content = outside + sum(1 for m in matches if m.content)
    jlpt = [m for m in matches if m.level in LEVELS]
    n1 = [m for m in jlpt if m.level == "N1"]
    n1_content = sum(1 for m in n1 if m.content)
    chars = sum(1 for c in text if not c.isspace())
    counts = Counter(m.level for m in jlpt)
    level_counts = {lv: counts.get(lv, 0) for lv in LEVELS} | {"outside": outside}
    used = {w for m in matches for w in m.targets}
    value = readability(tokens)
    return Score(
        chars=chars, content_words=content, n1_content=n1_content,
        n1_density=round(100 * n1_content / content, 2) if content else 0.0,
        unique_n1=len({m.word for m in n1}),
        n1_per_1000_chars=round(1000 * len(n1) / chars, 2) if chars else 0.0,
        level_counts=level_counts, readability=value, readability_band=band(value),
        targets_used=tuple(t for t in targets if t in used),
        targets_missed=tuple(t for t in targets if t not in used),
        target_coverage=round(len(used & set(targets)) / len(targets), 4) if targets else None,
        n1_words=tuple(dict.fromkeys(m.word for m in n1)),
    )


def readability(tokens: Sequence[Token]) -> float | None:
    """jreadability's formula over our own tokens, so the text is tokenized once;
    tests check it equals `jreadability.compute_readability`. None for empty text,
    where the library would divide by zero."""
    n = len(tokens)
    if not n:
        return None
    ends = sum(1 for t in tokens if t.surface in SENTENCE_END)
    sentences = ends + (0 if tokens[-1].surface in SENTENCE_END else 1)
    kango = sum(1 for t in tokens if t.goshu == "漢")
    wago = sum(1 for t in tokens if t.goshu == "和")
    verbs = sum(1 for t in tokens if t.pos1 == "動詞" and t.pos2 != "非自立可能")
    particles = sum(1 for t in tokens if t.pos1 == "助詞")
    value = (n / sentences * -0.056 + 100 * kango / n * -0.126 + 100 * wago / n * -0.042
             + 100 * verbs / n * -0.145 + 100 * particles / n * -0.044 + 11.724)
    return round(value, 4)


def band(value: float | None) -> str:
    if value is None:
        return "n/a (no text)"
    return next(label for upper, label in BANDS if value < upper)
