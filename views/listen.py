"""The Reader's "Listen" part: the text's sentences read aloud, offline (core.audio).

Nothing is synthesised until a button asks for it, and a sentence once read is a file read
after that. The part is a fragment: Play and Next rerun only it, not the highlighted text, the
score card and the word table above it."""
from __future__ import annotations

import hashlib

import streamlit as st

from core import i18n
from core.audio import MAX_CHARS, AudioError, cached, join_wavs, sentence_wav
from core.i18n import _, ngettext
from core.sentences import Sentence, sentences

SCAN_LIMIT = 100_000  # characters looked at, as the Reader marks up (views.panels.RENDER_LIMIT)
MAX_SENTENCES = 500  # offered one by one; a longer text's later sentences are not listed
WHOLE_LIMIT = 3_000  # characters read as one recording (a 1,500-character story fits twice)
_NOW = "_listen_now"  # what the player holds: "one" (the picked sentence) or a whole text's digest
_AUTOPLAY = "_listen_autoplay"  # set by a button for the one run that starts the audio


def _label(sents: list[Sentence], i: int) -> str:
    text = sents[i].text
    return f"{i + 1}. {text if len(text) <= 40 else text[:39] + '…'}"


def _next(count: int) -> None:
    st.session_state["listen_pick"] = min(st.session_state.get("listen_pick", 0) + 1, count - 1)
    st.session_state[_NOW], st.session_state[_AUTOPLAY] = "one", True


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@st.fragment
def listen_panel(text: str) -> None:
    """Pick a sentence and play it (Next plays the one after), or play the whole text."""
    # Only the part the Reader marks up is listed: splitting megabytes into sentences on every
    # rerun would slow the page for a part nobody may open.
    sents = sentences(text[:SCAN_LIMIT])
    if len(text) > SCAN_LIMIT:
        sents = sents[:-1]  # the last one may be cut off
    if not sents:
        return
    with st.expander(_("Listen"), icon=":material/volume_up:", expanded=bool(st.session_state.get(_NOW))):
        shown = sents[:MAX_SENTENCES]
        if st.session_state.get("listen_pick", 0) >= len(shown):
            st.session_state["listen_pick"] = 0  # a shorter text than the last one
        pick = st.selectbox(_("Sentence"), range(len(shown)), format_func=lambda i: _label(shown, i),
                            key="listen_pick")
        if len(sents) > len(shown):
            st.caption(_("The first {shown} of {total} sentences are listed.").format(
                shown=i18n.number(len(shown)), total=i18n.number(len(sents))))
        c1, c2, c3 = st.columns(3)
        if c1.button(_("Play"), key="listen_play", icon=":material/play_arrow:", type="primary", width="stretch"):
            st.session_state[_NOW], st.session_state[_AUTOPLAY] = "one", True
        c2.button(_("Next"), key="listen_next", icon=":material/skip_next:", on_click=_next, args=(len(shown),),
                  disabled=pick >= len(shown) - 1, width="stretch")
        if c3.button(_("Whole text"), key="listen_all", icon=":material/playlist_play:", width="stretch"):
            st.session_state[_NOW], st.session_state[_AUTOPLAY] = _digest(text), True
        _play(shown[pick].text, text, sents)


def _play(picked: str, text: str, sents: list[Sentence]) -> None:
    """The player for what was asked last: the picked sentence, or this whole text (a player
    for another text, after a new paste, is not shown)."""
    now, autoplay = st.session_state.get(_NOW), bool(st.session_state.pop(_AUTOPLAY, False))
    try:
        if now == "one":  # picking another sentence shows its player only once it was read
            data = sentence_wav(picked) if autoplay else cached(picked)
            if data is not None:
                st.audio(data, format="audio/wav", autoplay=autoplay)
        elif now == _digest(text):
            _play_whole(text, sents, autoplay)
    except AudioError as exc:
        st.error(str(exc))


def _play_whole(text: str, sents: list[Sentence], autoplay: bool) -> None:
    if len(text) > WHOLE_LIMIT:
        st.info(_("The whole text is too long to read in one go ({count} characters; at most {limit}): play it "
                  "sentence by sentence.").format(count=i18n.number(len(text)), limit=i18n.number(WHOLE_LIMIT)))
        return
    parts, skipped = [], 0
    bar = st.progress(0.0, text=_("Reading the text aloud…")) if autoplay else None
    for i, s in enumerate(sents):
        try:
            parts.append(sentence_wav(s.text))
        except AudioError:  # a line of symbols, or a paragraph without 。 over MAX_CHARS
            skipped += 1
        if bar is not None:
            bar.progress((i + 1) / len(sents), text=_("Reading the text aloud… {done} of {total}").format(
                done=i18n.number(i + 1), total=i18n.number(len(sents))))
    if bar is not None:
        bar.empty()
    if not parts:
        raise AudioError(_("There is nothing to read aloud in this text."))
    st.audio(join_wavs(parts), format="audio/wav", autoplay=autoplay)
    if skipped:
        st.caption(ngettext("{count} sentence left out: nothing to read aloud, or over {limit} characters.",
                            "{count} sentences left out: nothing to read aloud, or over {limit} characters.",
                            skipped).format(count=i18n.number(skipped), limit=i18n.number(MAX_CHARS)))
