"""Reader: paste or upload Japanese text; JLPT words marked by level, score card, word table."""
from __future__ import annotations

import streamlit as st

from core import store
from core.textio import TextFileError, decode_text
from core.analysis import Analysis
from core.i18n import N_, _
from core.render import DEFAULT_LEVELS, READ_ALL
from core.vocab import LEVELS
from core.wordlists import typed_words
from views.common import cached_analyze, database, profile
from views.listen import listen_panel
from views.panels import show_analysis

# Who gets furigana when it is on: the highlighted words (the old behaviour), or every word with
# kanji above a level the student reads without help, highlighted or not.
READINGS_FOR = {"marked": N_("highlighted words"), READ_ALL: N_("every word with kanji")}


def _readings_for(option: str) -> str:
    """An option of "Readings for" as the picker shows it."""
    return _(READINGS_FOR[option]) if option in READINGS_FOR else _("words above {level}").format(level=option)


def _custom_lists(names: list[str]) -> tuple:
    db = database()
    if db is None or not names:
        return ()
    return tuple((n, tuple(store.load_word_list(db, n))) for n in names)


def _input_text() -> str:
    upload = st.file_uploader(_("…or upload a .txt file"), type=["txt"], key="reader_file")
    if upload is not None:
        try:
            return decode_text(upload.getvalue(), upload.name)
        except TextFileError as exc:
            st.error(str(exc))
            return ""
    return st.session_state.get("reader_text", "")


def _controls() -> tuple[list[str], list[str], list[str], bool | str]:
    db = database()
    available = [r["name"] for r in store.word_lists(db, profile())] if db else []
    c1, c2 = st.columns([3, 2])
    # N5/N4 words (する, こと, ある) would colour half of every line; learners opt in to them.
    levels = c1.multiselect(_("Highlight levels"), list(reversed(LEVELS)), default=list(DEFAULT_LEVELS),
                            key="reader_levels", placeholder=_("Choose…"))
    lists = c2.multiselect(_("Custom word lists"), available, key="reader_lists",
                           disabled=not available, help=_("Import lists on the Word lists page."), placeholder=_("Choose…"))
    c3, c4 = st.columns([3, 2])
    targets = c3.text_input(_("Target words (comma-separated)"), key="reader_targets",
                            placeholder="把握, 促す, 和やか")
    furigana = c4.toggle(_("Furigana"), key="reader_furigana")
    scope = c4.selectbox(_("Readings for"), [*READINGS_FOR, *LEVELS], format_func=_readings_for,
                         key="reader_furigana_for", disabled=not furigana,
                         help=_("Above a level: every word with kanji that is harder, highlighted or not; a word "
                                "on no JLPT list (老舗) counts as above every level. Numbers and names get none."))
    return levels, lists, typed_words(targets), furigana and (True if scope == "marked" else scope)


def save_button(a: Analysis, targets: list[str]) -> None:
    """Keep the text in the profile's Library (the original project lost everything on reload)."""
    if not profile():
        st.caption(_("Open your profile in the sidebar to keep texts in your Library."))
        return
    if not st.button(_("Save to my library"), key="reader_save"):
        return
    db = database()
    if db is None:
        return
    already = store.saved_copy(db, profile(), a.text)
    if already is not None:
        st.info(_("This text is already in your library as story #{id}.").format(id=already))
        return
    title = next((line.strip() for line in a.text.splitlines() if line.strip()), "")[:60]
    story_id = store.save_story(db, a, store.Story(profile=profile(), source="pasted", title=title,
                                                   targets=tuple(targets)))
    st.success(_("Saved as story #{id} in {name}'s library.").format(id=story_id, name=profile()))


_KEPT = "_reader_text_kept"  # the pasted text, kept while the text area is off screen


def _keep_text() -> None:
    st.session_state[_KEPT] = st.session_state.get("reader_text", "")


def main() -> None:
    st.title(_("Reader"))
    # Streamlit forgets a widget's value once a run does not draw it (a visit to another page);
    # the text is kept under a plain key and handed back to the text area on return.
    if "reader_text" not in st.session_state and st.session_state.get(_KEPT):
        st.session_state["reader_text"] = st.session_state[_KEPT]
    st.text_area(_("Japanese text"), key="reader_text", height=180, on_change=_keep_text,
                 placeholder="ここに文章を貼り付けてください。")
    text = _input_text()
    levels, lists, targets, furigana = _controls()
    st.button(_("Analyse"), key="reader_go", type="primary")
    if not text.strip():
        st.info(_("Paste a Japanese text (or upload a .txt file) to see its JLPT words and N1 score."))
        st.stop()
    try:
        a = cached_analyze(text, _custom_lists(lists), tuple(targets))
    except store.StoreError as exc:
        st.error(str(exc))
        st.stop()
    show_analysis(a, levels, furigana)  # furigana: True, or a level / READ_ALL (see core.render)
    listen_panel(a.text)
    save_button(a, targets)


main()
