"""Which spellings write the same word, from JMdict (the `jamdict-data` package's SQLite copy).

UniDic's lemma joins true spelling variants (活かす and 生かす, 温かい and 暖かい) but also
different words that share a reading (持つ is the lemma of 以て, 刷る of 擦る). JMdict keeps
one entry per word with all of its kanji spellings, so it says which joins are real. Used
only while a vocabulary index is built (the result is cached with it), never per token.
"""
from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from core.kana import hira, is_katakana


class JMdictMissing(RuntimeError):
    """The JMdict database is not installed."""


@functools.cache
def _db_path() -> str:
    try:
        import jamdict_data
    except ImportError as exc:  # a broken install, not something a user can cause
        raise JMdictMissing("JMdict is missing: run `make test` or `pip install -r requirements.txt`") from exc
    return jamdict_data.JAMDICT_DB_PATH


@contextmanager
def _database() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(f"file:{_db_path()}?mode=ro", uri=True)
    try:
        yield con
    finally:
        con.close()


def variants(words: Iterable[tuple[tuple[str, ...], str]]) -> list[frozenset[str]]:
    """For each (spellings, reading) pair: every kanji spelling, and every katakana spelling,
    of the JMdict entries that have one of `spellings` and (when given) `reading`. An empty set
    means JMdict does not know the word."""
    with _database() as con:
        return [_variants(con, spellings, hira(reading)) for spellings, reading in words]


def rare_readings(pairs: Iterable[tuple[str, str, bool]]) -> set[tuple[str, str]]:
    """The (kanji spelling, reading) pairs whose spelling is also a common other word, read
    otherwise: 歩 read ふ (a shogi pawn; 歩 is mostly ほ, a step), 実 read じつ (also み, a
    fruit), 心中 read しんじゅう (also しんちゅう, one's heart). MeCab picks between such
    readings from little context and is often wrong. JMdict marks common words (ichi1, news1,
    spec1...) per spelling. Each pair comes with `bare`: the spelling is the word's kanji
    without its okurigana (傍 of 傍ら), which is not how the word itself is usually written;
    then the other word need only be common in some spelling (傍 is also そば, mostly written 側)."""
    with _database() as con:
        return {(spelling, reading) for spelling, reading, bare in pairs if _rare(con, spelling, hira(reading), bare)}


def _rare(con: sqlite3.Connection, spelling: str, reading: str, bare: bool) -> bool:
    for (idseq,) in con.execute("SELECT DISTINCT idseq FROM Kanji WHERE text = ?", (spelling,)):
        kana = {hira(t) for (t,) in con.execute("SELECT text FROM Kana WHERE idseq = ?", (idseq,))}
        if reading in kana:
            continue
        # common in this very spelling (和やか is なごやか; にこやか is common only in kana)
        common = con.execute("SELECT 1 FROM Kanji k JOIN KJP p ON p.kid = k.ID WHERE k.idseq = ? AND k.text = ?",
                             (idseq, spelling)).fetchone() is not None
        if not common and bare:
            common = con.execute("SELECT 1 FROM Kanji k JOIN KJP p ON p.kid = k.ID WHERE k.idseq = ? UNION ALL "
                                 "SELECT 1 FROM Kana k JOIN KNP p ON p.kid = k.ID WHERE k.idseq = ?",
                                 (idseq, idseq)).fetchone() is not None
        if common:
            return True
    return False


def _variants(con: sqlite3.Connection, spellings: tuple[str, ...], reading: str) -> frozenset[str]:
    out: set[str] = set()
    for spelling in spellings:
        for (idseq,) in con.execute("SELECT idseq FROM Kanji WHERE text = ? UNION SELECT idseq FROM Kana WHERE text = ?",
                                    (spelling, spelling)):
            kana = [t for (t,) in con.execute("SELECT text FROM Kana WHERE idseq = ?", (idseq,))]
            if reading and reading not in {hira(k) for k in kana}:
                continue  # the same spelling read otherwise is another word (一日 ついたち / いちにち)
            out.update(t for (t,) in con.execute("SELECT text FROM Kanji WHERE idseq = ?", (idseq,)))
            out.update(k for k in kana if is_katakana(k))
    return frozenset(out)
