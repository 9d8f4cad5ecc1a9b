"""The Word lists page's "Take your words to Anki" part, for a student with an open profile:
choose words (the ones being learnt, plus any known ones), with or without sentence audio,
build the deck, download it. Importing a later deck updates the same cards in Anki."""
from __future__ import annotations

import streamlit as st

from core import deck
from core.store import StoreError, known
from views.common import database, profile

_BUILT = "_deck_built"  # (profile, apkg bytes, summary) of the last deck built in this session


def deck_panel() -> None:
    db = database()
    name = profile()
    if db is None or not name:
        return
    st.subheader("Take your words to Anki")
    states = known.word_states(db, name)
    learning = sorted(w for w, s in states.items() if s == "learning")
    knowns = sorted(w for w, s in states.items() if s == "known")
    st.caption("A card per word: its reading and meanings, a sentence from your own stories (or the word "
               "list's example) with furigana on the back, and that sentence read aloud. Importing a later "
               "deck updates these cards instead of adding copies.")
    words = st.multiselect("Words I am learning", learning, default=learning, key="deck_words",
                           placeholder="No words marked as learning yet" if not learning else "Choose words")
    if knowns and st.toggle("Add words I know", key="deck_add_known"):
        words += st.multiselect("Words I know", knowns, key="deck_known_words")
    audio = st.toggle("Include sentence audio", value=True, key="deck_audio")
    if st.button("Build Anki deck", key="deck_build", type="primary"):
        _build(db, name, words, audio)
    built = st.session_state.get(_BUILT)
    if built and built[0] == name:  # another profile opened in this browser never gets this deck
        st.success(built[2])
        st.download_button(f"Download {deck.file_name(name)}", built[1], file_name=deck.file_name(name),
                           mime="application/octet-stream", key="deck_download")


def _build(db, name: str, words: list[str], audio: bool) -> None:
    st.session_state.pop(_BUILT, None)
    if not words:
        st.info("Choose at least one word for the deck.")
        return
    bar = st.progress(0.0, text="Making cards…")
    try:
        cards = deck.cards_for(db, name, words, audio=audio, progress=lambda done, total: bar.progress(
            done / total, text=f"Making cards… {done} of {total}"))
        data = deck.build_deck(name, cards)
    except (deck.DeckError, StoreError) as exc:
        st.error(str(exc))
        return
    finally:
        bar.empty()
    sounds = sum(1 for c in cards if c.audio)
    from_stories = sum(1 for c in cards if c.source.startswith("story"))
    summary = (f"{len(cards)} card{'s' if len(cards) != 1 else ''}: {from_stories} with a sentence from your "
               f"stories" + (f", {sounds} with audio." if audio else "."))
    st.session_state[_BUILT] = (name, data, summary)
