"""The shared sidebar: a student's profile name, and sign-in for teachers and admins.

`require_role` is the per-page guard: app.py hides pages by role, but a page reached by its
URL must still refuse on its own, so every teacher/admin page calls it first.
"""
from __future__ import annotations

import streamlit as st

from core import store

from core.auth import WRONG, Role, accounts, authenticate, role_allows

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
    who = "admins" if needed is Role.ADMIN else "teachers"
    st.warning(f"This page is for {who}. Sign in from the sidebar.")
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


def _sign_out() -> None:
    for key in ("role", "user", _FAILED):
        st.session_state.pop(key, None)


def _signin_form() -> None:
    with st.expander("Teacher / admin sign-in"):
        if not accounts():
            st.caption("No teacher or admin accounts yet. Run `python -m core auth hash` and paste "
                       "what it shows into `.streamlit/secrets.toml`, then reload.")
            return
        # A form, so Enter in the password field signs in and typing does not rerun the page.
        with st.form("signin", border=False):
            st.text_input("Name", key="signin_name", autocomplete="username")
            st.text_input("Password", key="signin_password", type="password",
                          autocomplete="current-password")
            st.form_submit_button("Sign in", key="signin_go", on_click=_sign_in)
        if st.session_state.pop(_FAILED, False):
            st.error(WRONG)  # the same words for an unknown name, so names cannot be probed


def _known_profiles() -> list[str]:
    from views.common import database  # the database is only needed for the picker

    db = database()
    try:
        return [p for p in store.profiles(db) if p] if db is not None else []
    except store.StoreError:
        return []


def _pick_profile() -> None:
    """Copy a picked name into the text field (a widget's value can only change before it is drawn)."""
    picked = st.session_state.get("profile_pick")
    if picked:
        st.session_state["profile"] = picked


def sidebar() -> Role:
    """Draws the sidebar (call inside `with st.sidebar:`) and returns the current role."""
    st.text_input("Profile name", key="profile", placeholder="e.g. hana",
                  help="Students pick any name; your stories and words are kept under it.")
    known = _known_profiles()
    if known:
        st.selectbox("…or pick a profile", known, index=None, key="profile_pick", on_change=_pick_profile,
                     placeholder="Profiles with stories")
    role = current_role()
    if role is Role.STUDENT:
        _signin_form()
    else:
        st.caption(f"Signed in as {st.session_state['user']} ({role.value})")
        st.button("Sign out", key="signout", on_click=_sign_out)
    return role
