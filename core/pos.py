"""Part-of-speech rules shared by matching and scoring (UniDic's categories)."""
from __future__ import annotations

# Never a vocabulary word on their own: particles, auxiliaries, punctuation, spaces.
FUNCTION_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})
AFFIX_POS = {"prefix": "接頭辞", "suffix": "接尾辞"}
NOUN_LIKE = frozenset({"名詞", "代名詞", "接尾辞"})

CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞"})
NOT_CONTENT_POS2 = frozenset({"固有名詞", "数詞", "助動詞語幹"})
# UniDic tags many verbs 非自立可能 ("may be auxiliary"); only these few are grammar words.
DEPENDENT_VERBS = frozenset({"為る", "有る", "居る", "成る"})


def is_content(pos1: str, pos2: str, lemma: str, known: bool) -> bool:
    """Nouns, verbs, adjectives (i- and na-), adverbs; not numbers, proper nouns, formal
    nouns (こと, ため), する/ある/いる/なる, or strings the dictionary does not know."""
    if pos1 not in CONTENT_POS or pos2 in NOT_CONTENT_POS2 or not known:
        return False
    if pos2 == "非自立可能":
        return pos1 in ("形容詞", "副詞") or (pos1 == "動詞" and lemma not in DEPENDENT_VERBS)
    return True
