"""A test engine (run by bench/serve.py under bench's own interpreter) that misbehaves on
purpose, per sample, as the plan file (JSON: sample id -> behaviour) says; the failure-path tests
drive it."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from bench.engine_api import write_wav
# imported at load: a first import of PyAV inside a timed sample can take seconds on a loaded
# machine and trip the test's 4 s timeout
from bench.video import write_video


class Engine:
    def __init__(self, config: dict):
        self.plan = config["options"]["plan"]
        self.info = {"pid": os.getpid()}

    def generate(self, sample: dict, out_dir: str) -> dict:
        with open(self.plan) as f:
            what = json.load(f).get(sample["id"], "ok")
        print(f"faulty engine: {sample['id']} -> {what}", flush=True)
        wav = os.path.join(out_dir, "speech.wav")
        t = np.arange(int(sample["duration"] * 22050)) / 22050
        tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        if what == "crash":
            print("Segmentation fault (simulated)", flush=True)
            os._exit(139)
        if what == "hang":
            time.sleep(3600)
        if what == "raise":
            raise RuntimeError("CUDA out of memory (simulated)")
        if what == "nothing":
            return {}
        if what == "undecodable":
            with open(wav, "wb") as f:
                f.write(b"RIFF\x00\x00\x00\x00WAVEnot really")
            return {"audio": wav}
        if what == "silent":
            return {"audio": write_wav(wav, np.zeros_like(t), 22050)}
        if what == "short":
            video = os.path.join(out_dir, "video.mp4")
            frame = np.full((64, 64, 3), 128, np.uint8)
            write_video(video, (frame for _ in range(10)), 25.0)
            return {"video": video, "audio": write_wav(wav, tone, 22050)}
        if what == "outside":
            return {"audio": write_wav(os.path.join(out_dir, "..", "..", "x.wav"), tone, 22050)}
        return {"audio": write_wav(wav, tone, 22050)}


def load(config: dict) -> Engine:
    return Engine(config)
