"""`espeak`: the espeak-ng formant synthesiser (Debian package `espeak-ng`, GPL-3), run as a
program. Real speech that needs no weights: a floor for the speech metrics. It does not clone a
voice (every sample gets the same synthetic voice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.envs import MissingEnvironmentError
from bench.errors import GeneratorError
from bench.generators import GenContext, Generated, Generator, Option, register_generator
from bench.sample import Sample


@register_generator
class ESpeak(Generator):
    name = "espeak"
    description = "espeak-ng formant TTS (real, offline; no voice cloning)"
    produces = frozenset({"audio"})
    needs = frozenset({"text"})
    options = {
        "voice": Option("en-us", "espeak-ng voice (espeak-ng --voices lists them)"),
        "speed": Option("175", "words per minute (espeak-ng's default)", int),
        "pitch": Option("50", "pitch 0-99 (espeak-ng's default)", int),
        "timeout": Option("120", "seconds one sample may take", int, affects_output=False),
    }

    def setup(self, ctx: GenContext) -> None:
        self._exe = shutil.which("espeak-ng")
        if self._exe is None:
            raise MissingEnvironmentError("espeak-ng is not installed (it is a system program): "
                                          "sudo apt-get install espeak-ng")

    def describe(self) -> dict:
        version = ""
        if exe := shutil.which("espeak-ng"):
            version = subprocess.run([exe, "--version"], capture_output=True,
                                     text=True).stdout.strip()
        return {**super().describe(), "program": version}

    def generate(self, sample: Sample, ctx: GenContext, workdir: Path) -> Generated:
        text = workdir / "text.txt"
        text.write_text(sample.text or "", encoding="utf-8")
        wav = workdir / "audio.wav"
        cmd = [self._exe, "-v", self.opts["voice"], "-s", str(self.opts["speed"]),
               "-p", str(self.opts["pitch"]), "-w", str(wav), "-f", str(text)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=self.opts["timeout"])
        except subprocess.TimeoutExpired:
            raise GeneratorError(f"espeak-ng took longer than {self.opts['timeout']} s") from None
        if done.returncode or not wav.is_file():
            raise GeneratorError(f"espeak-ng failed (exit {done.returncode})", done.stderr[-2000:])
        return Generated(None, wav, {"command": " ".join(cmd[:7])})
