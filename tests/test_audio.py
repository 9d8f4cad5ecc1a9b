"""Read-aloud with the real Open JTalk engine: WAV out, cached per sentence on disk, one
sentence for every text it cannot read."""
from __future__ import annotations

import io
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from core import audio
from core.audio import AudioError, sentence_wav

ROOT = Path(__file__).resolve().parent.parent


def wav_info(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes() / w.getframerate()


def test_a_sentence_becomes_16_bit_mono_wav():
    data = sentence_wav("部長は部下に報告を促した。")
    channels, width, rate, seconds = wav_info(data)
    assert (channels, width, rate) == (1, 2, audio.RATE)
    assert 1.5 < seconds < 5  # about 2.7 s of speech


def test_a_second_play_reads_the_cached_file(isolated_data, monkeypatch):
    first = sentence_wav("状況を把握した。")
    cached = list((isolated_data / "audio").glob("*.wav"))
    assert len(cached) == 1 and cached[0].read_bytes() == first
    monkeypatch.setattr(audio, "synthesize", lambda text: pytest.fail("synthesised again"))
    assert sentence_wav("  状況を把握した。\n") == first  # the same sentence, as clean() leaves it
    assert audio.cached("状況を把握した。") == first and audio.cached("未だ読まれていない。") is None


def test_the_cache_is_keyed_by_engine_version(monkeypatch):
    before = audio.cache_path("把握")
    monkeypatch.setattr(audio, "engine_version", lambda: "pyopenjtalk-plus 9.9, wav 1")
    assert audio.cache_path("把握") != before and audio.cache_path("把握").parent == before.parent


def test_a_damaged_cache_file_is_read_again():
    data = sentence_wav("和やかな会議。")
    audio.cache_path("和やかな会議。").write_bytes(b"not a wav")
    assert sentence_wav("和やかな会議。") == data


@pytest.mark.parametrize("text, message", [
    ("", "There is no text to read aloud."),
    ("  \n\t", "There is no text to read aloud."),
    ("。「」", "There is nothing to read aloud in this sentence."),
    ("😀", "There is nothing to read aloud in this sentence."),
    ("あ" * (audio.MAX_CHARS + 1), f"This sentence is too long to read aloud ({audio.MAX_CHARS + 1} characters; "
                                   f"at most {audio.MAX_CHARS})."),
])
def test_text_it_cannot_read_is_one_sentence(text, message, isolated_data):
    with pytest.raises(AudioError) as err:
        sentence_wav(text)
    assert str(err.value) == message
    assert not list((isolated_data / "audio").glob("*.wav"))


def test_control_characters_and_markup_are_read_as_text():
    assert wav_info(sentence_wav("\x00把握<script>"))[3] > 0.5


def test_an_engine_failure_is_one_sentence(monkeypatch):
    def broken(text):
        raise RuntimeError("HTS engine crashed")

    monkeypatch.setattr(audio._engine(), "run_frontend", broken)
    with pytest.raises(AudioError, match=r"^This sentence could not be read aloud \(RuntimeError\)\.$"):
        sentence_wav("把握した。")


def test_sentences_join_with_a_pause_between():
    a, b = sentence_wav("把握した。"), sentence_wav("促した。")
    joined = audio.join_wavs([a, b])
    assert audio.duration(joined) == pytest.approx(audio.duration(a) + audio.duration(b) + audio.PAUSE_S, abs=0.01)
    with pytest.raises(AudioError):
        audio.join_wavs([])
    with pytest.raises(AudioError, match="not a readable WAV"):
        audio.join_wavs([b"RIFF junk"])


def test_importing_the_engine_prints_nothing():
    # pyopenjtalk-plus prints an ONNX Runtime notice on import; it must not reach the app's log.
    out = subprocess.run([sys.executable, "-c", "from core import audio; audio._engine()"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
