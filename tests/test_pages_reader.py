"""Reader and Word lists pages through Streamlit's AppTest, on a real DuckDB file."""
from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from core import settings, store
from core.auth import hash_password
from core.wordlists import ListWord
from views.common import _database

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def html_of(at: AppTest) -> str:
    return "".join(h.proto.body for h in at.get("html"))


def test_reader_empty_shows_how_to_start(app):
    assert any("Paste a Japanese text" in i.value for i in app.info)


def test_reader_highlights_and_scores_pasted_text(app):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。<script>alert(1)</script>")
    app.button(key="reader_go").click().run()
    assert not app.exception
    html = html_of(app)
    assert 'data-word="促す"' in html and "ns-N1" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Unique N1 words"] == "2"
    words = app.dataframe[-1].value
    assert {"促す", "部下"} <= set(words["word"])
    assert list(words["level"])[:2] == ["N1", "N1"]  # N1 first
    assert "部長" not in set(words["word"])  # N4: not highlighted by default


def test_reader_furigana_and_level_choice_change_rendering(app):
    app.text_area(key="reader_text").input("状況を把握した部長")
    app.toggle(key="reader_furigana").set_value(True)
    app.multiselect(key="reader_levels").set_value(["N1"])
    app.run()
    html = html_of(app)
    assert "<rt>はあく</rt>" in html and 'class="ns-w ns-N4"' not in html


def test_reader_target_coverage_shown(app):
    app.text_area(key="reader_text").input("部下に報告を促した。")
    app.text_input(key="reader_targets").input("促す, 把握")
    app.run()
    text = " ".join(m.value for m in app.markdown)
    assert "Target coverage" in text and "missed: 把握" in text


def test_reader_upload_txt_in_shift_jis(app):
    app.file_uploader(key="reader_file").set_value(("story.txt", "状況を把握した。".encode("cp932"), "text/plain"))
    app.run()
    assert 'data-word="把握"' in html_of(app)


def test_reader_bad_upload_is_one_error_line(app):
    app.file_uploader(key="reader_file").set_value(("x.txt", b"\x00\x01\x02binary", "text/plain"))
    app.run()
    assert not app.exception
    assert any("binary" in e.value for e in app.error)


def test_reader_uses_custom_list(app):
    db = store.Database(settings.paths().db)
    store.save_word_list(db, "class-a", [ListWord("再開", ("再開",), "さいかい", ("resume",), 2)])
    db.close()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_area(key="reader_text").input("会議を再開した。")
    at.multiselect(key="reader_lists").set_value(["class-a"])
    at.run()
    assert not at.exception
    assert 'data-word="再開"' in html_of(at) and "class-a" in html_of(at)


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["常用表达", "注音/原文", "中文意思", "備註"])
    sheet.append(["ロマンチック／ロマンティック", "", "浪漫", ""])
    sheet.append(["〜薬", "やく", "药", ""])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def staff_app(role: str = "teacher") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["role"], at.session_state["user"] = role, role
    return at


def student_app(name: str | None = "hana") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if name:
        at.session_state["profile"] = name
    return at


def _upload(at: AppTest, data: bytes, name: str = "teacher.xlsx") -> AppTest:
    at.run()
    at.switch_page("views/pages/wordlists.py").run()
    at.file_uploader(key="wl_file").set_value((name, data, "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_wordlists_page_detects_columns_and_imports_a_class_list(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    app = _upload(staff_app(), _xlsx())
    assert app.selectbox(key="wl_word_col").options[0].startswith("0: 常用表达")
    # detected from the cells, whatever the header's language: word, reading, meaning
    assert (app.selectbox(key="wl_word_col").value, app.selectbox(key="wl_reading_col").value,
            app.selectbox(key="wl_meaning_col").value) == (0, 1, 2)
    app.text_input(key="wl_name").input("class-b")
    app.button(key="wl_import").click().run()
    assert any("Imported 2 words" in s.value for s in app.success)
    lists = app.dataframe[-1].value
    assert "class-b" in set(lists["list"])
    words = store.load_word_list(_database(str(settings.paths().db)), "class-b")
    assert (words[-1].reading, words[-1].meanings) == ("やく", ("药",))  # readings and meanings came along


def test_a_new_file_resets_the_column_choices(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    app = _upload(staff_app(), _xlsx())
    app.selectbox(key="wl_reading_col").set_value(None)
    app.selectbox(key="wl_meaning_col").set_value(None)
    app.run()
    second = "No,Word,Reading,Meaning\n1,把握,はあく,grasp\n2,促す,うながす,urge\n".encode()
    app.file_uploader(key="wl_file").set_value(("list2.csv", second, "text/csv"))
    app.run()
    assert (app.selectbox(key="wl_word_col").value, app.selectbox(key="wl_reading_col").value,
            app.selectbox(key="wl_meaning_col").value) == (1, 2, 3)


def _class_list(db, name: str = "class-c", heads=("曖昧", "把握")) -> None:
    store.save_word_list(db, name, [ListWord(h, (h,), "", ("m",), i + 2) for i, h in enumerate(heads)],
                         source_file="c.csv")


def test_a_student_cannot_replace_or_delete_a_class_list():
    db = _database(str(settings.paths().db))
    _class_list(db)
    student = _upload(student_app("hana"), _xlsx())
    assert any("personal list" in h.value for h in student.subheader)
    student.text_input(key="wl_name").input("class-c")
    student.button(key="wl_import").click().run()
    assert len(student.error) == 1 and "class list" in student.error[0].value
    assert not [b for b in student.button if b.key in ("wl_replace", "wl_delete")]
    assert [w.word for w in store.load_word_list(db, "class-c")] == ["曖昧", "把握"]
    student.text_input(key="wl_name").input("my-words")
    student.button(key="wl_import").click().run()
    assert any("Imported 2 words" in s.value for s in student.success)
    assert {r["name"]: r["owner"] for r in store.word_lists(db, "hana")} == {"class-c": "", "my-words": "hana"}
    other = student_app("ken")
    other.run()
    other.switch_page("views/pages/wordlists.py").run()
    assert "my-words" not in set(other.dataframe[-1].value["list"])  # personal: only hana sees it


def test_a_student_without_a_profile_imports_nothing():
    at = student_app(None)
    at.run()
    at.switch_page("views/pages/wordlists.py").run()
    assert not [u for u in at.get("file_uploader")]
    assert any("Open your profile" in i.value for i in at.info)


def test_replacing_a_list_asks_first_and_can_be_undone(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    db = _database(str(settings.paths().db))
    _class_list(db, "class-b", ("曖昧", "懸念", "把握"))
    teacher = _upload(staff_app(), _xlsx())
    teacher.text_input(key="wl_name").input("class-b")
    teacher.button(key="wl_import").click().run()
    warning = " ".join(w.value for w in teacher.warning)
    assert "adds 2 and removes 3 words (2 in all)" in warning  # ロマンチック, 〜薬 in; 曖昧, 懸念, 把握 out
    assert len(store.load_word_list(db, "class-b")) == 3  # nothing changed yet
    teacher.button(key="wl_replace").click().run()
    assert any('Replaced "class-b"' in s.value for s in teacher.success)
    assert len(store.load_word_list(db, "class-b")) == 2
    teacher.button(key="wl_restore").click().run()
    assert any('Restored "class-b" (3 words)' in s.value for s in teacher.success)
    assert [w.word for w in store.load_word_list(db, "class-b")] == ["曖昧", "懸念", "把握"]


def test_wordlists_delete_is_for_teachers_only_and_undoable(monkeypatch):
    monkeypatch.setenv("NONESTORY_TEACHER_PASSWORD_HASH", hash_password("pw", iterations=1000))
    db = _database(str(settings.paths().db))
    _class_list(db)
    student = student_app("hana")
    student.run()
    student.switch_page("views/pages/wordlists.py").run()
    assert not [b for b in student.button if b.key == "wl_delete"]
    assert any("changed by teachers and admins" in c.value for c in student.caption)
    teacher = staff_app()
    teacher.run()
    teacher.switch_page("views/pages/wordlists.py").run()
    teacher.selectbox(key="wl_delete_name").set_value("class-c")
    teacher.button(key="wl_delete").click().run()
    assert not teacher.exception
    assert "class-c" not in set(teacher.dataframe[-1].value["list"])
    assert "class-c" not in {r["name"] for r in store.word_lists(db)}
    teacher.button(key="wl_restore").click().run()
    assert "class-c" in {r["name"] for r in store.word_lists(db)}


def test_wordlists_page_bad_file_shows_one_error():
    app = _upload(student_app("hana"), b"\x89PNG\r\n\x1a\n" + bytes(200), "junk.csv")
    assert len(app.error) == 1 and "\n" not in app.error[0].value


def test_reader_saves_text_to_the_profiles_library():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["profile"] = " hana "
    at.run()
    at.text_area(key="reader_text").input("部長は部下に報告を促した。")
    at.run()
    at.button(key="reader_save").click().run()
    assert any("Saved as story #1" in s.value for s in at.success)
    from views.common import _database
    rows = store.list_stories(_database(str(settings.paths().db)), store.StoryFilter(profile="hana"))
    assert [r["source"] for r in rows] == ["pasted"] and rows[0]["unique_n1"] == 2
    at.button(key="reader_save").click().run()  # the same text again: not a second copy
    assert [i.value for i in at.info if "already" in i.value] == ["This text is already in your library as story #1."]
    assert store.count_stories(_database(str(settings.paths().db)), store.StoryFilter(profile="hana")) == 1


def test_the_pasted_text_survives_a_visit_to_another_page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["profile"] = "hana"
    at.run()
    at.text_area(key="reader_text").input("部長は部下に報告を促した。").run()
    at.switch_page("views/pages/library.py").run()
    at.switch_page("views/pages/reader.py").run()
    assert not at.exception
    assert at.text_area(key="reader_text").value == "部長は部下に報告を促した。"
    assert 'data-word="促す"' in html_of(at)


def test_reader_without_profile_offers_no_save(app):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。")
    app.run()
    assert not [b for b in app.button if b.key == "reader_save"]
    assert any("Open your profile" in c.value for c in app.caption)


def test_reader_furigana_for_every_word_above_a_level(app):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。老舗の店に転入した。")
    assert app.selectbox(key="reader_furigana_for").disabled  # until furigana is on
    app.toggle(key="reader_furigana").set_value(True).run()
    assert "<rt>しにせ</rt>" not in html_of(app)  # by default only the highlighted words
    app.selectbox(key="reader_furigana_for").set_value("N3").run()
    assert not app.exception
    html = html_of(app)
    # unmarked words on no list (老舗, 転入) and the N1 words get readings; N3 報告 and N4 部長 none
    for reading in ("<rt>しにせ</rt>", "<rt>てんにゅう</rt>", "<rt>ぶか</rt>", "<rt>うなが</rt>"):
        assert reading in html
    assert "<rt>ほうこく</rt>" not in html and "<rt>ぶちょう</rt>" not in html


# --- Listen: sentences read aloud ---------------------------------------------------------------

def audio_of(at: AppTest) -> list:
    return [a.proto for a in at.get("audio")]


def test_listen_plays_a_sentence_on_demand_and_next_plays_the_one_after(app, isolated_data):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。彼は状況を把握した。")
    app.button(key="reader_go").click().run()
    assert not audio_of(app) and not (isolated_data / "audio").exists()  # nothing read until asked
    labels = app.selectbox(key="listen_pick").options
    assert labels == ["1. 部長は部下に報告を促した。", "2. 彼は状況を把握した。"]
    app.button(key="listen_play").click().run()
    assert not app.exception
    (played,) = audio_of(app)
    assert played.autoplay and len(list((isolated_data / "audio").glob("*.wav"))) == 1
    app.button(key="listen_next").click().run()
    assert app.selectbox(key="listen_pick").value == 1
    (played,) = audio_of(app)
    assert played.autoplay and len(list((isolated_data / "audio").glob("*.wav"))) == 2
    assert app.button(key="listen_next").disabled  # the last sentence
    app.toggle(key="reader_furigana").set_value(True).run()  # any other rerun: the player stays, silent
    (played,) = audio_of(app)
    assert not played.autoplay


def test_listen_reads_the_whole_text(app, isolated_data):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。\n「」\n彼は状況を把握した。")
    app.run()
    app.button(key="listen_all").click().run()
    assert not app.exception and len(audio_of(app)) == 1
    assert len(list((isolated_data / "audio").glob("*.wav"))) == 2  # each sentence kept for its own play
    assert any("1 sentence left out" in c.value for c in app.caption)


def test_listen_says_in_one_line_what_it_cannot_read(app):
    app.text_area(key="reader_text").input("😀😀。")
    app.run()
    app.button(key="listen_play").click().run()
    assert not app.exception and not audio_of(app)
    assert [e.value for e in app.error] == ["There is nothing to read aloud in this sentence."]


def test_listen_reads_a_long_text_only_sentence_by_sentence(app, isolated_data):
    app.text_area(key="reader_text").input("部長は部下に報告を促した。" * 300)  # 3,900 characters
    app.run()
    app.button(key="listen_all").click().run()
    assert not app.exception and not audio_of(app) and not (isolated_data / "audio").exists()
    assert [i.value for i in app.info] == ["The whole text is too long to read in one go (3,900 characters; "
                                           "at most 3,000): play it sentence by sentence."]
