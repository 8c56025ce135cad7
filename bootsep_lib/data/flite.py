"""CMU flite through its command-line binary: an optional engine (``apt-get install flite``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .speech import CorpusError, Speaker, register_engine

__all__ = ["FliteEngine"]

# flite's built-in voices (awb_time is a talking clock; kal is kal16 at 8 kHz).
_FLITE_VOICES = {"male": ("kal16", "awb", "rms"), "female": ("slt",)}
_DEFAULT_WPM = 175


@register_engine("flite", id_prefix="fl")
class FliteEngine:
    """CMU flite through its command-line binary (``apt-get install flite``).

    Voices ``kal16``, ``awb``, ``rms`` (male) and ``slt`` (female).  The rate maps to flite's
    ``duration_stretch`` (175 wpm = 1), the pitch to ``int_f0_target_mean`` (an octave either side
    of 110 Hz for male, 180 Hz for female voices; ``rms`` ignores it) and the range to
    ``int_f0_target_stddev`` (up to 30 % of the mean).
    """

    name = "flite"
    native_rate = 16000

    def __init__(self) -> None:
        binary = shutil.which("flite")
        if binary is None:
            raise CorpusError(
                "the flite engine needs the flite binary on PATH: apt-get install flite "
                "(or use the default engine, 'espeak')"
            )
        self.binary = binary

    def voices(self) -> dict[str, tuple[str, ...]]:
        """Voice names by gender."""
        return dict(_FLITE_VOICES)

    def synthesize_native(self, text: str, speaker: Speaker) -> tuple[np.ndarray, int]:
        """Run ``flite -voice NAME -t TEXT -o tmp.wav`` with rate and pitch settings.

        Returns
        -------
        wav : np.ndarray, shape (samples,), float32
        rate : int
            The file's rate (16 kHz for these voices).
        """
        base = 180.0 if speaker.voice in _FLITE_VOICES["female"] else 110.0
        f0 = base * 2.0 ** ((speaker.pitch - 50) / 50)
        settings = {
            "duration_stretch": _DEFAULT_WPM / speaker.rate,
            "int_f0_target_mean": f0,
            "int_f0_target_stddev": f0 * 0.3 * speaker.pitch_range / 99,
        }
        with tempfile.TemporaryDirectory(prefix="bootsep_flite_") as tmp:
            out = Path(tmp) / "utt.wav"
            cmd = [self.binary, "-voice", speaker.voice]
            for key, value in settings.items():
                cmd += ["--setf", f"{key}={value:.4f}"]
            cmd += ["-t", text, "-o", str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not out.is_file():
                raise CorpusError(f"flite failed for {speaker}: {done.stderr.strip()}")
            wav, rate = sf.read(out, dtype="float32", always_2d=True)
        return np.ascontiguousarray(wav[:, 0]), int(rate)
