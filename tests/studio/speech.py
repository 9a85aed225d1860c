"""Synthetic speech for the studio's tests: espeak-ng phrases placed at known times in a 16 kHz
mono 16-bit WAV, silence between them — so a test knows where the speech is without a model."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

ESPEAK = "/usr/bin/espeak-ng"
RATE = 16_000


def phrase_samples(text: str, *, voice: str = "en", speed: int = 160) -> np.ndarray:
    """One phrase spoken by espeak-ng, resampled to 16 kHz, its leading/trailing silence cut."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "phrase.wav"
        subprocess.run([ESPEAK, "-v", voice, "-s", str(speed), "-w", str(out), text], check=True, capture_output=True)
        with wave.open(str(out), "rb") as reader:
            rate = reader.getframerate()
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float64)
    times = np.arange(0, len(samples) / rate, 1 / RATE)
    samples = np.interp(times, np.arange(len(samples)) / rate, samples)
    loud = np.flatnonzero(np.abs(samples) > np.abs(samples).max() * 0.02)
    return samples[loud[0] : loud[-1] + 1]


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def speech_wav(
    path: Path, phrases: list[str], *, lead_s: float = 0.5, gap_s: float = 2.5, tail_s: float = 1.0
) -> list[tuple[float, float, str]]:
    """Write ``phrases`` with ``gap_s`` of silence between them; their (start, end, text)."""
    parts = [np.zeros(round(lead_s * RATE))]
    placed = []
    at = lead_s
    for n, text in enumerate(phrases):
        samples = phrase_samples(text)
        placed.append((round(at, 3), round(at + len(samples) / RATE, 3), text))
        parts.append(samples)
        at += len(samples) / RATE
        silence = gap_s if n < len(phrases) - 1 else tail_s
        parts.append(np.zeros(round(silence * RATE)))
        at += round(silence * RATE) / RATE
    write_wav(path, np.concatenate(parts))
    return placed
