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
from core.audio import AudioError, sentence_wav
from core.i18n import _
from core.quotes import quote
from core.render import card_sentence, text_field

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
        raise DeckError(_("Open a profile to build its deck."))
    first: dict[str, DeckCard] = {}
    for card in cards:
        if card.word.strip():
            first.setdefault(card.word, card)
    unique = list(first.values())
    if not unique:
        raise DeckError(_("Choose at least one word for the deck."))
    deck = genanki.Deck(deck_id(profile), f"NoneStory::{profile}",
                        description=_("Words from your NoneStory stories."))
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
            raise DeckError(_("The deck could not be written ({error}).").format(error=exc.strerror or exc)) from exc


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
    q = quote(db, profile, word)
    wav = None
    if audio and q.sentence:
        try:
            wav = sentence_wav(q.sentence)
        except AudioError:
            pass  # a card without sound beats no card (a quote of symbols, an over-long one)
    source = {"story": f"story #{q.story_id}", "example": "example sentence"}.get(q.source, "")
    return DeckCard(word, q.reading, q.meanings, card_sentence(q.sentence, q.start, q.end),
                    card_sentence(q.sentence, q.start, q.end, q.ruby, furigana=True) if q.sentence else "",
                    wav, source)
