"""Inside the `hibari` environment: Kokoro-82M through hibari-tts (see bench/serve.py)."""

from __future__ import annotations

import hashlib
import os

from bench.engine_api import MissingWeights, write_wav


class Engine:
    def __init__(self, config: dict):
        import hibari
        from hibari import Hibari

        opts = config["options"]
        model = os.path.join(os.path.dirname(hibari.__file__), "assets", "hibari.onnx")
        with open(model, "rb") as f:
            found = hashlib.file_digest(f, "sha256").hexdigest()
        if found != opts["sha256"]:
            raise MissingWeights(f"{model}: SHA-256 {found}, expected {opts['sha256']}")
        self.tts = Hibari(voice=opts["voice"], threads=opts["threads"])
        self.speed = float(opts["speed"])
        self.seed = int(config["seed"])
        self.info = {"model": model, "sha256": found}

    def generate(self, sample: dict, out_dir: str) -> dict:
        # hibari's own seed makes the noise component bit-identical across calls
        wav = self.tts(sample["text"], speed=self.speed, seed=self.seed)
        path = write_wav(os.path.join(out_dir, "audio.wav"), wav, self.tts.sample_rate)
        return {"audio": path, "meta": {"sample_rate": self.tts.sample_rate}}


def load(config: dict) -> Engine:
    return Engine(config)
