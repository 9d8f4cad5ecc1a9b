"""Student profiles in the whole app (AppTest, real DuckDB file): the sidebar never lists other
students, a profile with a passphrase opens only with it, student B cannot see or delete
student A's stories, and a teacher can reset a forgotten passphrase."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import settings, store
from core.analysis import analyze
from core.store import students
from tests.test_auth import write_secrets
from views.common import _database

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def hana_with_a_story():
    db = store.Database(settings.paths().db)
    students.open_profile(db, "hana", "sakura-7")
    story = store.save_story(db, analyze("部下に報告を促した。"), store.Story(profile="hana", title="hana's secret story"))
    db.close()
    return story


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def open_profile(at: AppTest, name: str, passphrase: str = "") -> AppTest:
    at.text_input(key="profile_name").input(name)
    at.text_input(key="profile_passphrase").input(passphrase)
    at.button(key="profile_go").click().run()
    assert not at.exception, at.exception
    return at


def everything(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("markdown", "caption", "info", "success", "error", "warning")
             for e in at.get(kind)]
    parts += [str(o) for box in at.selectbox for o in box.options]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def test_the_sidebar_lists_no_profiles(hana_with_a_story):
    at = app()
    assert not [s for s in at.selectbox if s.key == "profile_pick"]
    assert "hana" not in everything(at)


def test_student_b_cannot_open_student_as_library_without_the_passphrase(hana_with_a_story):
    at = open_profile(app(), "hana", "")
    assert [e.value for e in at.error] == [students.WRONG_PASSPHRASE]
    assert "profile" not in at.session_state
    at.switch_page("views/pages/library.py").run()
    assert "secret story" not in everything(at)
    assert not [b for b in at.button if b.key and b.key.startswith("lib_delete")]
    open_profile(at, "ken")  # B's own profile: a new one, without a passphrase
    at.switch_page("views/pages/library.py").run()
    assert at.session_state["profile"] == "ken" and "secret story" not in everything(at)
    assert store.get_story(_database(str(settings.paths().db)), hana_with_a_story)["deleted_at"] is None


def test_student_a_opens_with_the_passphrase_and_sees_the_story(hana_with_a_story):
    at = open_profile(app(), "hana", "sakura-7")
    assert at.session_state["profile"] == "hana"
    assert at.session_state["profile_passphrase"] == ""  # not kept in the session
    at.switch_page("views/pages/library.py").run()
    assert "secret story" in everything(at)
    at.button(key="profile_close").click().run()
    assert "profile" not in at.session_state


def test_a_new_profile_can_be_protected_and_then_needs_the_passphrase():
    at = open_profile(app(), "mei")
    at.text_input(key="pp_new").input("plum-blossom")
    at.button(key="pp_go").click().run()
    assert any("Passphrase saved" in s.value for s in at.success)
    other = open_profile(app(), "mei", "")
    assert [e.value for e in other.error] == [students.WRONG_PASSPHRASE]


def test_a_teacher_resets_a_forgotten_passphrase(hana_with_a_story):
    write_secrets({"sato": ("teacher", "pw1")})
    teacher = app()
    teacher.text_input(key="signin_name").input("sato")
    teacher.text_input(key="signin_password").input("pw1")
    teacher.button(key="signin_go").click().run()
    teacher.text_input(key="reset_name").input("hana")
    teacher.button(key="reset_go").click().run()
    assert any("without a passphrase" in s.value for s in teacher.success)
    student = open_profile(app(), "hana", "")
    assert student.session_state["profile"] == "hana"


def test_students_cannot_reach_the_reset_form():
    at = app()
    assert not [t for t in at.text_input if t.key == "reset_name"]
