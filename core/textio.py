"""Reading user-supplied text files: the encodings Japanese text actually arrives in."""
from __future__ import annotations


class TextFileError(ValueError):
    """One sentence the user can act on."""


MAX_TEXT_BYTES = 20 * 1024 * 1024


def decode_text(data: bytes, name: str = "the file") -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, or Shift_JIS/CP932; newlines normalised."""
    if len(data) > MAX_TEXT_BYTES:
        raise TextFileError(f"{name} is larger than {MAX_TEXT_BYTES // 2**20} MB; split it and try again.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _newlines(data.decode("utf-16"))
        except UnicodeDecodeError:
            raise TextFileError(f"{name} claims to be UTF-16 but is not; save it as UTF-8.") from None
    if b"\x00" in data[:8192]:
        raise TextFileError(f"{name} looks like a binary file, not text; choose a .txt file.")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return _newlines(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise TextFileError(f"{name} is neither UTF-8 nor Shift_JIS text; save it as UTF-8 and try again.")


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
