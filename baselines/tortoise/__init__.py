"""`tortoise`: Tortoise TTS through the official `tortoise-tts` 3.0.0 package (Apache-2.0), in
its own managed environment `tortoise` (its transformers pin conflicts with coqui-tts). It
clones the voice profile; the default preset is `fast`, as in `tortoise/do_tts.py`."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.worker import WORKER_OPTIONS, WorkerGenerator

HF = "https://huggingface.co/Manmay/tortoise-tts/resolve/main/"
_FILES = {  # registry name -> (file, SHA-256, size)
    "tortoise-autoregressive": (
        "autoregressive.pth", "9c6651b9996df6cef6a1fc459738ae207ab60f902ec49b4d0623ca8ab6110d51",
        "1.72 GB"),
    "tortoise-diffusion": (
        "diffusion_decoder.pth",
        "ea776fc354eabb70cfae145777153483fad72e3e0c5ea345505ded2231a90ce1", "1,169,472,627 B"),
    "tortoise-clvp2": (
        "clvp2.pth", "6097e708cf692eb93bd770880660953935e87e8995eb864819bbe51b7d91342c",
        "975,620,731 B"),
    "tortoise-vocoder": ("vocoder.pth", weights.UNKNOWN, "391,384,715 B"),
}
for _name, (_file, _sha, _size) in _FILES.items():
    weights.register(weights.WeightsEntry(
        _name, _file, _sha, "Apache-2.0", f"tortoise ({_file}, {_size})", urls=(HF + _file,),
        notes="SHA-256 starts 16e8153e; pinned at import" if _sha == weights.UNKNOWN else ""))


@register_generator
class Tortoise(WorkerGenerator):
    name = "tortoise"
    description = "Tortoise TTS (official package): voice cloning from the voice profile"
    produces = frozenset({"audio"})
    needs = frozenset({"text", "voice_profile"})
    env_name = "tortoise"
    engine = Path(__file__).with_name("engine.py")
    weights = tuple(_FILES)
    options = {
        "preset": Option("fast", "tts_with_preset preset", choices=(
            "ultra_fast", "fast", "standard", "high_quality")),
        "max_mel_tokens": Option("500", "longest output in 1/20 s units (tts()'s default)",
                                 int),
        "batch": Option("1", "autoregressive batch size (memory, not output)", int,
                        affects_output=False),
        **WORKER_OPTIONS,
    }
