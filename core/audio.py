"""Sentences read aloud, offline: Open JTalk through pyopenjtalk-plus (its dictionary and voice
ship in the wheel), as 16-bit mono WAV.

A sentence takes about 0.1-0.2 s to synthesise, so each one is kept on disk under
`<data>/audio/<sha256 of engine version + text>.wav`; playing it again costs a file read. A
new engine version (or a change to the WAV made here) gives new file names, never stale audio.
The folder is derived data, safe to delete.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import io
import threading
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core import i18n, settings
from core.files import atomic_write
from core.i18n import _

MAX_CHARS = 300  # one sentence; more is a paragraph without 。 (and seconds of synthesis)
RATE = 24_000  # speech needs no more; half the voice's 48 kHz halves every file and deck
PAUSE_S = 0.35  # silence between sentences of a whole text
WAV_VERSION = 1  # bump when the WAV written below changes, so cached files are not reused
_CONTROL = dict.fromkeys([*range(32), 127], " ")


class AudioError(Exception):
    """A sentence that cannot be read aloud, said in one sentence."""


_import_lock = threading.Lock()


@functools.cache
def _engine():
    # pyopenjtalk-plus prints a notice about an optional ONNX model (the reading of 何) when it
    # is imported; it would land in the app's log on the first play. The lock keeps two
    # sessions from swapping sys.stdout at once (the second would restore the first's buffer).
    with _import_lock, contextlib.redirect_stdout(io.StringIO()):
        import pyopenjtalk
    return pyopenjtalk


def engine_version() -> str:
    return f"pyopenjtalk-plus {importlib.metadata.version('pyopenjtalk-plus')}, wav {WAV_VERSION}, {RATE} Hz"


def cache_path(text: str) -> Path:
    """Where the audio of `text` (as `clean` leaves it) is kept."""
    key = hashlib.sha256(f"{engine_version()}\n{text}".encode()).hexdigest()
    return settings.paths().data / "audio" / f"{key}.wav"


def clean(text: str) -> str:
    """The text as it is spoken: control characters (a NUL, a tab) become spaces, ends trimmed.
    Raises AudioError for an empty or too long text."""
    text = (text or "").translate(_CONTROL).strip()
    if not text:
        raise AudioError(_("There is no text to read aloud."))
    if len(text) > MAX_CHARS:
        raise AudioError(_("This sentence is too long to read aloud ({count} characters; at most {limit}).").format(
            count=i18n.number(len(text)), limit=MAX_CHARS))
    return text


def cached(text: str) -> bytes | None:
    """The WAV of a sentence read before, or None (never synthesises)."""
    try:
        data = cache_path(clean(text)).read_bytes()
    except (OSError, AudioError):
        return None
    return data if data[:4] == b"RIFF" else None  # a file truncated by hand is read again


def sentence_wav(text: str) -> bytes:
    """One sentence as WAV bytes, from the disk cache when it was read before."""
    text = clean(text)
    data = cached(text)
    if data is not None:
        return data
    data = synthesize(text)
    try:
        atomic_write(cache_path(text), data)
    except OSError:
        pass  # a read-only data folder costs a synthesis next time, not the audio
    return data


def synthesize(text: str) -> bytes:
    """`text` (already `clean`) read by Open JTalk, as WAV; no cache."""
    engine = _engine()
    try:
        # pyopenjtalk.tts in its three steps: text with nothing to pronounce (。, an emoji) stops
        # after the first, before the C label maker prints "No phoneme" to the log.
        features = engine.run_frontend(text)
        if not any(f.get("mora_size") for f in features):
            raise AudioError(_("There is nothing to read aloud in this sentence."))
        samples, rate = engine.synthesize(engine.make_label(features))
    except AudioError:
        raise
    except Exception as exc:  # the engine is C underneath: any failure is this sentence's
        raise AudioError(_("This sentence could not be read aloud ({error}).").format(
            error=type(exc).__name__)) from exc
    samples = np.asarray(samples, dtype=np.float64)
    if not samples.size or not np.abs(samples).max() > 1:
        raise AudioError(_("There is nothing to read aloud in this sentence."))
    samples, rate = _downsample(samples, int(rate))
    return _wav(np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes(), rate)


def _downsample(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """To RATE when the voice's rate is a multiple of it: a windowed-sinc low-pass below the new
    Nyquist frequency, then every n-th sample (no aliasing of the voice's high partials)."""
    factor = rate // RATE
    if factor < 2 or rate % RATE:
        return samples, rate
    taps = np.arange(-32, 33)
    cutoff = 0.9 / factor  # of the old Nyquist frequency
    kernel = cutoff * np.sinc(cutoff * taps) * np.hamming(taps.size)
    return np.convolve(samples, kernel / kernel.sum(), mode="same")[::factor], RATE


def _wav(frames: bytes, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def frames_of(data: bytes) -> tuple[bytes, int]:
    """The 16-bit mono frames and rate of a WAV this module wrote."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise AudioError(_("This audio is not 16-bit mono WAV."))
            return w.readframes(w.getnframes()), w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise AudioError(_("This audio is not a readable WAV file.")) from exc


def join_wavs(parts: Sequence[bytes], pause_s: float = PAUSE_S) -> bytes:
    """Several sentences' WAVs as one, with a short silence between them."""
    if not parts:
        raise AudioError(_("There is no text to read aloud."))
    decoded = [frames_of(p) for p in parts]
    rate = decoded[0][1]
    if any(r != rate for __, r in decoded):
        raise AudioError(_("These sentences' audio have different sample rates."))
    gap = b"\0\0" * int(rate * pause_s)
    return _wav(gap.join(frames for frames, __ in decoded), rate)


def duration(data: bytes) -> float:
    """Seconds of audio in a WAV."""
    frames, rate = frames_of(data)
    return len(frames) / 2 / rate
