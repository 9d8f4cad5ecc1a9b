"""Study: a student's learning words, due ones first, one at a time as a cloze — a sentence from
their own stories with the word hidden. Reveal shows the word, its reading and meanings, the
sentence with the word marked and its audio; Again / Hard / Good / Easy grades the card (FSRS,
core.store.study) and the next due word follows."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import streamlit as st

from core import audio, i18n, store
from core.auth import Role, role_allows
from core.i18n import _, ngettext
from core.quotes import Quote, quote
from core.store import known, study
from views.common import database, flash, profile
from views.sidebar import current_role

GAP = "＿＿＿"
_REVEALED = "study_revealed"  # the word whose answer is showing
_SHOWN = "study_shown"  # (word, time.monotonic() it was first shown): how long the review took
_NOTICE = "study_notice"  # ("caption" | "error", line) left by a callback for the next run
LONGEST_REVIEW_MS = 3_600_000  # a card left open longer was left, not studied
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def _md(text: str) -> str:
    """Text for st.markdown, shown as typed (no emphasis, links or :colour[...] from it)."""
    return _MARKDOWN.sub(r"\\\1", text)


def _source(card: Quote) -> str:
    if card.source == "story":
        return _("from your story “{title}”").format(
            title=card.title or _("story #{number}").format(number=card.story_id))
    return _("example from the word list") if card.source == "example" else ""


# --- callbacks: they run before the page, so it draws the next card at once ---

def _reveal(word: str) -> None:
    st.session_state[_REVEALED] = word


def _duration(word: str) -> int | None:
    shown = st.session_state.get(_SHOWN)
    if not shown or shown[0] != word:
        return None
    return min(LONGEST_REVIEW_MS, int((time.monotonic() - shown[1]) * 1000))


def _when(due: datetime) -> str:
    """'in 10 min', 'in 3 days', 'now'."""
    left = due - datetime.now()
    if left < timedelta(minutes=1):
        return _("now")
    if left < timedelta(hours=1):
        return _("in {count} min").format(count=round(left.total_seconds() / 60))
    if left < timedelta(days=1):
        return _("in {count} h").format(count=round(left.total_seconds() / 3600))
    days = round(left.total_seconds() / 86400)
    return ngettext("in {count} day", "in {count} days", days).format(count=i18n.number(days))


def _act(word: str, change) -> None:
    """Run `change(db, name)` on this card (a grade, or "I know it now"); its line, or the
    store's one sentence, is shown next, and the next card starts unrevealed."""
    db, name = database(), profile()
    if db is None or not name:
        return
    try:
        st.session_state[_NOTICE] = ("caption", change(db, name))
    except store.StoreError as exc:
        st.session_state[_NOTICE] = ("error", str(exc))
        return
    for key in (_REVEALED, _SHOWN):
        st.session_state.pop(key, None)


def _grade(word: str, rating: int) -> None:
    def change(db: store.Database, name: str) -> str:
        due = study.grade(db, name, word, rating, duration_ms=_duration(word))
        return _("{word}: {rating} — next review {when}.").format(
            word=word, rating=_(study.RATINGS[rating]), when=_when(due))
    _act(word, change)


def _mark_known(word: str) -> None:
    def change(db: store.Database, name: str) -> str:
        known.set_states(db, name, [word], "known", "study")
        return _("{word} is known now: it leaves your reviews.").format(word=word)
    _act(word, change)


# --- drawing ---

def _question(card: Quote) -> None:
    if card.sentence:
        st.markdown(f"### {_md(card.sentence[:card.start])}{GAP}{_md(card.sentence[card.end:])}")
        st.caption(_("Which word fits the gap?"))
        if card.meanings:
            with st.expander(_("Hint")):
                st.markdown(_md("; ".join(card.meanings[:4])))
    else:
        meanings = "; ".join(card.meanings[:4]) or _("(no meaning on file)")
        st.markdown(f"### {_md(meanings)}")
        st.caption(_("Which word is this? None of your stories uses it yet."))


def _audio(sentence: str) -> None:
    """The sentence read aloud, or one line saying why it cannot be."""
    try:
        data = audio.sentence_wav(sentence)
    except audio.AudioError as exc:  # one sentence, e.g. "This sentence is too long to read aloud"
        st.caption(str(exc))
        return
    st.audio(data, format="audio/wav")


def _answer(word: str, card: Quote) -> None:
    st.markdown(f"## {_md(word)}" + (f" 【{_md(card.reading)}】" if card.reading else ""))
    if card.meanings:
        st.markdown(_md("; ".join(card.meanings[:4])))
    if card.sentence:
        marked = f"{_md(card.sentence[:card.start])}**{_md(card.sentence[card.start:card.end])}**" \
                 f"{_md(card.sentence[card.end:])}"
        st.markdown(marked)
        if card.translation:
            st.caption(card.translation)
        st.caption(_source(card))
        _audio(card.sentence)


def _grade_buttons(db: store.Database, name: str, word: str) -> None:
    preview = study.preview(db, name, word)
    for col, (rating, label) in zip(st.columns(4), study.RATINGS.items()):
        when = f" · {_when(preview[rating])}" if rating in preview else ""
        col.button(f"{_(label)}{when}", key=f"study_rate_{rating}", on_click=_grade, args=(word, rating),
                   width="stretch", type="primary" if rating == 3 else "secondary", shortcut=str(rating))
    st.button(_("I know this word now"), key="study_known", on_click=_mark_known, args=(word,),
              help=_("Marks it as known: it leaves your reviews (its review history is kept)."))


def _nothing_due(db: store.Database, name: str) -> None:
    learning = known.state_counts(db, name)["learning"]
    if not learning:
        st.info(_("Nothing to review: no words are learning yet."))
    else:
        upcoming = study.next_due(db, name)
        if upcoming:
            message = ngettext("Nothing is due. {count} word is learning; the next is due {when} ({date}).",
                               "Nothing is due. {count} words are learning; the next is due {when} ({date}).",
                               learning)
        else:
            message = ngettext("Nothing is due. {count} word is learning.",
                               "Nothing is due. {count} words are learning.", learning)
        st.info(message.format(count=i18n.number(learning), when=_when(upcoming) if upcoming else "",
                               date=i18n.moment(upcoming) if upcoming else ""))
        st.button(_("Check again"), key="study_refresh")  # a rerun: the page does not poll the clock
    st.caption(_("Words enter learning from the Reader's word table or from Generate → from my words."))


def _review(db: store.Database, name: str, word: str, due: int) -> None:
    card = quote(db, name, word)
    if st.session_state.get(_SHOWN, ("",))[0] != word:
        st.session_state[_SHOWN] = (word, time.monotonic())
    st.caption(_("{count} due").format(count=i18n.number(due)))
    _question(card)
    if st.session_state.get(_REVEALED) != word:
        st.button(_("Reveal"), key="study_reveal", on_click=_reveal, args=(word,), type="primary",
                  shortcut="Space")
        return
    st.divider()
    _answer(word, card)
    _grade_buttons(db, name, word)


def main() -> None:
    st.title(_("Study"))
    db = database()
    if db is None:
        st.stop()
    name = profile()
    if not name:
        if role_allows(current_role(), Role.TEACHER):
            st.info(_("Study reviews a student's own learning words; teachers and admins have none here."))
        else:
            st.info(_("Open your profile in the sidebar to review the words you are learning."))
        st.stop()
    flash(_NOTICE)
    words = study.due_words(db, name, limit=1)
    if not words:
        _nothing_due(db, name)
        return
    _review(db, name, words[0], study.due_count(db, name))


main()
