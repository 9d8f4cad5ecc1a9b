"""Each rule that keeps a wrong word from being marked, on sentences of our own: the wrong mark
is gone and the right marks that look like it stay (real fugashi, real JMdict)."""
from __future__ import annotations

import pytest

from core.analysis import analyze


def marks(text: str, level: str = "N1") -> dict[str, str]:
    """surface -> headword of the marks at `level`."""
    return {m.surface: m.word for m in analyze(text, levels=(level,)).matches if m.level == level}


@pytest.mark.parametrize("text,surface,wrong", [
    # another word with the same reading, written with other kanji (UniDic's lemma joins them)
    ("美咲は急に自信を持って言った。", "持っ", "以て"),
    ("彼女は期待に応えようと努力した。", "応え", "答える"),
    ("風が頬を擦るように吹いた。", "擦る", "刷る"),
    ("群衆の中に彼の姿を見つけた。", "群衆", "群集"),
    # person names, and name-like katakana
    ("田中翔は窓の外を見ていた。", "翔", "症"),
    ("澤田健と再会した。", "健", "権"),
    ("エリは静かに笑った。", "エリ", "襟"),
    ("志優は一瞬驚いた表情を見せた。", "志", "志"),
    ("その瞬間、真理は彼の言葉に微笑んだ。", "真理", "真理"),  # a rare word that is a given name, as topic
    ("雫が声をかけてきた。", "雫", "雫"),
    # a potential form that UniDic gives the lemma of its verb
    ("想いを伝える勇気が持てなかった。", "持て", "持てる"),
    ("自信を持てるようになった。", "持てる", "持てる"),
    ("ある日、ひまりは図書館へ行った。", "まり", "鞠"),
    # reading glosses and split kana
    ("彼女の名は朔也（さくや）という。", "さく", "柵"),
    ("彼は道場のリーダーとなるべく努力した。", "なるべく", "成るべく"),
    # a bare kanji that is also a common word read otherwise (傍 of 傍ら is mostly そば)
    ("彼女は母の傍に寄り添った。", "傍", "傍ら"),
    # grammar, not the words it spells
    ("その言葉はそれによって意味を変えた。", "よって", "依って"),
    ("団地の先に小さな公園がある。", "先に", "先に"),
])
def test_wrong_marks_are_gone(text, surface, wrong):
    found = {m.surface: m.word for m in analyze(text).matches}
    assert found.get(surface) != wrong


@pytest.mark.parametrize("text,surface,word", [
    ("意欲をもって取り組んだ。", "もって", "以て"),
    ("技術の進歩は大きな変化をもたらした。", "もたらし", "齎らす"),
    ("彼はかつて教師だった。", "かつて", "嘗て"),
    ("経験を活かして働く。", "活かし", "生かす"),
    ("誤解を生むかもしれない。", "生む", "産む"),
    ("過去を断つ決意をした。", "断つ", "絶つ"),
    ("取り敢えず、話を聞こう。", "取り敢えず", "取りあえず"),
    ("多忙な状況にも関わらず、彼は来た。", "にも関わらず", "にも拘らず"),
    ("先に帰ります。", "先に", "先に"),
    ("彼は仕事の傍ら、絵を描いた。", "傍ら", "傍ら"),  # written whole, the word itself
    ("国連に対して声明を出した。", "国連", "国連"),
    ("我々は真理を探究する。", "真理", "真理"),  # not a clause-head topic: the word
    ("彼の話には一片の真理がある。", "真理", "真理"),
    ("彼女は直面する状況を必死に受け入れ、前を向いた。", "受け入れ", "受け入れる"),
])
def test_right_marks_in_other_spellings_stay(text, surface, word):
    assert marks(text).get(surface) == word


@pytest.mark.parametrize("text,surface,word,level", [
    ("彼の温かい視線を感じた。", "温かい", "暖かい", "N5"),
    ("そんなことをしてはダメだよ。", "ダメ", "だめ", "N4"),
    ("日本の多くの生徒が参加した。", "日本", "日本", "N3"),
])
def test_variants_at_other_levels_stay(text, surface, word, level):
    assert marks(text, level).get(surface) == word


def test_a_character_named_once_is_that_character_throughout_the_text():
    text = "その瞬間、真理は彼の言葉に微笑んだ。明は真理を見つめた。"
    assert "真理" not in marks(text)
    assert marks("明は真理を見つめた。") == {"真理": "真理"}  # alone, nothing says it is a name
    # the score counts the name as an ordinary content word, not an N1 one
    assert analyze(text).score.n1_content == 0
