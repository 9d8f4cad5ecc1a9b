"""The shared sidebar: a student's profile (name and optional passphrase), and sign-in for
teachers and admins, who can also reset a student's forgotten passphrase.

`require_role` is the per-page guard: app.py hides pages by role, but a page reached by its
URL must still refuse on its own, so every teacher/admin page calls it first.
"""
from __future__ import annotations

import streamlit as st

from core import i18n, store
from core.auth import WRONG, Role, accounts, authenticate, role_allows
from core.i18n import LANGUAGES, _
from core.store import students, study
from views import LANGUAGE
from views.common import database, flash

_FAILED = "_signin_failed"  # set by the sign-in callback, shown (once) by the form


def current_role() -> Role:
    """The signed-in role, or STUDENT. A session whose account was since removed from the
    settings, or whose role changed, falls back to what the settings say now."""
    user, role = st.session_state.get("user"), st.session_state.get("role")
    if not user or role not in {r.value for r in Role}:
        return Role.STUDENT
    account = accounts().get(user)
    if account is None or account.role.value != role:
        return Role.STUDENT
    return account.role


def require_role(needed: Role) -> None:
    """Stops the page (after a warning) unless the session's role allows `needed`."""
    if role_allows(current_role(), needed):
        return
    st.warning(_("This page is for admins. Sign in from the sidebar.") if needed is Role.ADMIN
               else _("This page is for teachers. Sign in from the sidebar."))
    st.stop()


def _sign_in() -> None:
    # A callback runs before the next script run, so the form can still clear its own
    # password widget here (setting it after the widget is drawn would raise).
    state = st.session_state
    account = authenticate(state.get("signin_name", ""), state.get("signin_password", ""))
    state["signin_password"] = ""
    if account is None:
        state[_FAILED] = True
        return
    state["role"], state["user"] = account.role.value, account.name
    state.pop(_FAILED, None)
    db = database()
    if db is not None:  # stays signed in across a reload or a typed URL (see _reopen_from_cookies)
        token = students.new_token(db, account=account.name)
        state["_staff_token"], state.setdefault(_COOKIE_JS, {})[_STAFF_COOKIE] = token, token


def _sign_out() -> None:
    db = database()
    if db is not None:
        students.drop_token(db, st.session_state.get("_staff_token", ""))
    for key in ("role", "user", _FAILED, "_staff_token"):
        st.session_state.pop(key, None)
    st.session_state.setdefault(_COOKIE_JS, {})[_STAFF_COOKIE] = ""


def _signin_form() -> None:
    with st.expander(_("Teacher / admin sign-in")):
        if not accounts():
            st.caption(_("No teacher or admin accounts yet. Run `python -m core auth hash` and paste "
                         "what it shows into `.streamlit/secrets.toml`, then reload."))
            return
        # A form, so Enter in the password field signs in and typing does not rerun the page.
        with st.form("signin", border=False):
            st.text_input(_("Name"), key="signin_name", autocomplete="username")
            st.text_input(_("Password"), key="signin_password", type="password",
                          autocomplete="current-password")
            st.form_submit_button(_("Sign in"), key="signin_go", on_click=_sign_in)
        if st.session_state.pop(_FAILED, False):
            st.error(_(WRONG))  # the same words for an unknown name, so names cannot be probed


# Reopen tokens (core.store.students) in session cookies; never a name, passphrase or password.
_COOKIE, _STAFF_COOKIE = "nonestory_profile", "nonestory_staff"
_COOKIE_JS = "_cookie_js"  # cookie name -> token to write ('' clears it), drawn once by _write_cookies


def _reopen_from_cookies() -> None:
    """Once per browser session: a live token in a cookie reopens its profile, or signs its
    teacher/admin back in, after a reload or a typed URL (a new Streamlit session), so nothing
    secret goes into the URL. A staff account since removed from the settings stays out."""
    state = st.session_state
    state.setdefault(_COOKIE_JS, {})
    if state.get("_cookie_checked"):
        return
    state["_cookie_checked"] = True
    cookies = st.context.cookies or {}
    profile_token, staff_token = cookies.get(_COOKIE, ""), cookies.get(_STAFF_COOKIE, "")
    db = database() if profile_token or staff_token else None
    if db is None:
        return
    name = students.profile_for_token(db, profile_token) if not state.get("profile") else ""
    if name:
        state["profile"], state["_profile_token"] = name, profile_token
        _adopt_language(db, name)
    account = accounts().get(students.account_for_token(db, staff_token)) if not state.get("user") else None
    if account is not None:
        state["role"], state["user"], state["_staff_token"] = account.role.value, account.name, staff_token


def _open_profile() -> None:
    state = st.session_state
    name, passphrase = state.get("profile_name", ""), state.get("profile_passphrase", "")
    state["profile_passphrase"] = ""
    db = database()
    if db is None:
        return
    try:
        students.open_profile(db, name, passphrase)
        token = students.new_token(db, name.strip())
    except store.StoreError as exc:
        state[_PROFILE_ERROR] = str(exc)
        return
    state["profile"], state["_profile_token"] = name.strip(), token
    state.setdefault(_COOKIE_JS, {})[_COOKIE] = token
    state["profile_name"] = ""
    _adopt_language(db, name.strip())


def _close_profile() -> None:
    state = st.session_state
    db = database()
    if db is not None:
        students.drop_token(db, state.get("_profile_token", ""))
    for key in ("profile", "_profile_token"):
        state.pop(key, None)
    state.setdefault(_COOKIE_JS, {})[_COOKIE] = ""  # clears the browser's cookie


def _write_cookies() -> None:
    """Writes (or clears) the reopen cookies in the browser: session cookies, gone when the
    browser closes; SameSite=Strict so no other site's page sends them."""
    pending = st.session_state.get(_COOKIE_JS) or {}
    if not pending:
        return
    script = "".join(f"document.cookie = '{name}={token}; path=/; SameSite=Strict"
                     f"{'' if token else '; expires=Thu, 01 Jan 1970 00:00:00 GMT'}';"
                     for name, token in pending.items())
    st.session_state[_COOKIE_JS] = {}
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


_PROFILE_ERROR = "_profile_error"
def use_language() -> str:
    """The session's interface language, chosen now where it is not yet: the open profile's,
    else the browser's preferred language where NoneStory speaks it, else English. Every
    message of the session follows it (views/__init__.py)."""
    state = st.session_state
    if state.get(LANGUAGE) not in LANGUAGES:
        db, name = database(), state.get("profile", "")
        kept = students.language_of(db, name) if db is not None and name else ""
        state[LANGUAGE] = kept or i18n.normalize(st.context.locale) or i18n.DEFAULT
    return state[LANGUAGE]


def _adopt_language(db: store.Database, name: str) -> None:
    """A profile that was opened brings the language it chose (none: the session's stays)."""
    kept = students.language_of(db, name)
    if kept:
        st.session_state[LANGUAGE] = kept


def _keep_language() -> None:
    """The picker's callback: keep the language with the open profile."""
    code = st.session_state[LANGUAGE]
    db, name = database(), st.session_state.get("profile", "")
    if db is not None and name:
        students.set_language(db, name, code)


_HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans", "zh_Hant": "zh-Hant", "ja": "ja"}


def _mark_page_language() -> None:
    """Tell the browser the page's language (<html lang>), so the fallback fonts after Streamlit's
    Source Sans are the language's own: simplified or traditional Chinese, or Japanese, glyph
    forms of the same characters. A story keeps lang="ja" on its own element (core.render)."""
    tag = _HTML_LANG.get(st.session_state.get(LANGUAGE, ""), "en")
    st.html(f"<script>document.documentElement.lang = '{tag}';</script>", unsafe_allow_javascript=True)


def _language_picker() -> None:
    # Each language's name in itself, so a reader finds theirs whatever language the page is in.
    st.selectbox(":material/translate: " + _("Language"), list(LANGUAGES), format_func=LANGUAGES.get,
                 key=LANGUAGE, on_change=_keep_language)


def _profile_form() -> None:
    with st.form("profile_open", border=False):
        st.text_input(_("Profile name"), key="profile_name", placeholder=_("e.g. hana"),
                      help=_("Your stories and words are kept under this name."))
        st.text_input(_("Passphrase"), key="profile_passphrase", type="password",
                      help=_("Needed if your profile has one. For a new profile, type one to protect it "
                             "(at least {count} characters) or leave it empty.").format(count=students.MIN_PASSPHRASE))
        st.form_submit_button(_("Open profile"), key="profile_go", on_click=_open_profile)
    error = st.session_state.pop(_PROFILE_ERROR, None)
    if error:
        st.error(error)


def _change_passphrase() -> None:
    state = st.session_state
    db = database()
    current, new = state.get("pp_current", ""), state.get("pp_new", "")
    state["pp_current"] = state["pp_new"] = ""
    if db is None:
        return
    try:
        students.change_passphrase(db, state.get("profile", ""), current, new)
    except store.StoreError as exc:
        state["_pp_msg"] = ("error", str(exc))
        return
    state["_pp_msg"] = ("success", _("Passphrase saved: you will need it to open this profile."))


def _open_profile_panel(name: str) -> None:
    st.markdown(_("Profile: **{name}**").format(name=name))
    db = database()
    due = study.due_count(db, name) if db is not None else 0
    if due:
        st.caption(_("Study: {count} due").format(count=i18n.number(due)))
    protected = db is not None and students.has_passphrase(db, name)
    with st.expander(_("Change passphrase") if protected else _("Protect with a passphrase")):
        with st.form("profile_passphrase_form", border=False):
            if protected:
                st.text_input(_("Current passphrase"), key="pp_current", type="password")
            st.text_input(_("New passphrase"), key="pp_new", type="password")
            st.form_submit_button(_("Save passphrase"), key="pp_go", on_click=_change_passphrase)
        flash("_pp_msg")
    st.button(_("Close profile"), key="profile_close", on_click=_close_profile)


def _reset_student_passphrase() -> None:
    state = st.session_state
    db = database()
    if db is None or not role_allows(current_role(), Role.TEACHER):
        return
    try:
        students.reset_passphrase(db, state.get("reset_name", ""))
    except store.StoreError as exc:
        state["_reset_msg"] = ("error", str(exc))
        return
    state["_reset_msg"] = ("success", _("{name} can open their profile without a passphrase now, and set a "
                                        "new one.").format(name=state["reset_name"].strip()))
    state["reset_name"] = ""


def _reset_form() -> None:
    with st.expander(_("Reset a student's passphrase")):
        with st.form("passphrase_reset", border=False):
            st.text_input(_("Student's profile name"), key="reset_name")
            st.form_submit_button(_("Reset passphrase"), key="reset_go", on_click=_reset_student_passphrase)
        flash("_reset_msg")


def sidebar() -> Role:
    """Draws the sidebar (call inside `with st.sidebar:`) and returns the current role. No
    other student's profile is ever listed: a profile opens by its name and passphrase."""
    _reopen_from_cookies()
    use_language()
    name = st.session_state.get("profile", "")
    if name:
        _open_profile_panel(name)
    else:
        _profile_form()
    role = current_role()
    if role is Role.STUDENT:
        _signin_form()
    else:
        st.caption((_("Signed in as {user} (teacher)") if role is Role.TEACHER
                    else _("Signed in as {user} (admin)")).format(user=st.session_state["user"]))
        st.button(_("Sign out"), key="signout", on_click=_sign_out)
        _reset_form()
    _language_picker()
    _mark_page_language()
    _write_cookies()
    return role
