"""The Word lists page's "Take your words to Anki" part, for a student with an open profile:
choose words (the ones being learnt, plus any known ones), with or without sentence audio,
build the deck, download it. Importing a later deck updates the same cards in Anki."""
from __future__ import annotations

import streamlit as st

from core import deck, i18n
from core.i18n import _, ngettext
from core.store import StoreError, known
from views.common import database, profile

_BUILT = "_deck_built"  # (profile, apkg bytes, counts for _summary) of the last deck built in this session


def deck_panel() -> None:
    db = database()
    name = profile()
    if db is None or not name:
        return
    st.subheader(_("Take your words to Anki"))
    states = known.word_states(db, name)
    learning = sorted(w for w, s in states.items() if s == "learning")
    knowns = sorted(w for w, s in states.items() if s == "known")
    st.caption(_("A card per word: its reading and meanings, a sentence from your own stories (or the word "
                 "list's example) with furigana on the back, and that sentence read aloud. Importing a later "
                 "deck updates these cards instead of adding copies."))
    words = st.multiselect(_("Words I am learning"), learning, default=learning, key="deck_words",
                           placeholder=_("No words marked as learning yet") if not learning else _("Choose words"))
    if knowns and st.toggle(_("Add words I know"), key="deck_add_known"):
        words += st.multiselect(_("Words I know"), knowns, key="deck_known_words", placeholder=_("Choose…"))
    audio = st.toggle(_("Include sentence audio"), value=True, key="deck_audio")
    if st.button(_("Build Anki deck"), key="deck_build", type="primary"):
        _build(db, name, words, audio)
    built = st.session_state.get(_BUILT)
    if built and built[0] == name:  # another profile opened in this browser never gets this deck
        st.success(_summary(*built[2]))
        st.download_button(_("Download {file}").format(file=deck.file_name(name)), built[1], file_name=deck.file_name(name),
                           mime="application/octet-stream", key="deck_download")


def _build(db, name: str, words: list[str], audio: bool) -> None:
    st.session_state.pop(_BUILT, None)
    if not words:
        st.info(_("Choose at least one word for the deck."))
        return
    bar = st.progress(0.0, text=_("Making cards…"))
    try:
        cards = deck.cards_for(db, name, words, audio=audio, progress=lambda done, total: bar.progress(
            done / total, text=_("Making cards… {done} of {total}").format(done=i18n.number(done),
                                                                          total=i18n.number(total))))
        data = deck.build_deck(name, cards)
    except (deck.DeckError, StoreError) as exc:
        st.error(str(exc))
        return
    finally:
        bar.empty()
    sounds = sum(1 for c in cards if c.audio)
    from_stories = sum(1 for c in cards if c.source.startswith("story"))
    st.session_state[_BUILT] = (name, data, (len(cards), from_stories, sounds if audio else None))


def _summary(cards: int, from_stories: int, sounds: int | None) -> str:
    """'3 cards: 2 with a sentence from your stories, 3 with audio.' (no audio: no audio count)."""
    if sounds is None:
        message = ngettext("{count} card: {stories} with a sentence from your stories.",
                           "{count} cards: {stories} with a sentence from your stories.", cards)
    else:
        message = ngettext("{count} card: {stories} with a sentence from your stories, {sounds} with audio.",
                           "{count} cards: {stories} with a sentence from your stories, {sounds} with audio.", cards)
    return message.format(count=i18n.number(cards), stories=i18n.number(from_stories),
                          sounds=i18n.number(sounds or 0))
