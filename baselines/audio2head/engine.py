"""Inside the `audio2head` environment: the official `inference.py`, run from a per-job copy of
the repository root (it reads ./config/*.yaml and writes the hard-coded ./results/temp.wav, so
parallel jobs must not share a root) with `--audio_path --img_path --save_path --model_path`.

Random weights: the four networks inference.py loads, built from `config/vox-256.yaml` and
`config/parameters.yaml` exactly as inference.py and modules/audio2pose.py build them, seeded,
saved in the one official checkpoint under its keys (audio2pose, kp_detector, generator,
audio2kp)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.engine_api import EngineError, job_tree, random_checkpoints, run_official

KEYS = ("audio2pose", "kp_detector", "generator", "audio2kp")


def _random_checkpoint(src: Path, d: Path) -> None:
    import argparse

    import torch
    import yaml

    sys.path.insert(0, str(src))
    from modules.audio2kp import AudioModel3D
    from modules.audio2pose import audio2poseLSTM
    from modules.generator import OcclusionAwareGenerator
    from modules.keypoint_detector import KPDetector

    config = yaml.safe_load((src / "config" / "vox-256.yaml").read_text())
    params = config["model_params"]
    opt = argparse.Namespace(**yaml.safe_load((src / "config" / "parameters.yaml").read_text()))
    nets = {"audio2pose": audio2poseLSTM(),
            "kp_detector": KPDetector(**params["kp_detector_params"], **params["common_params"]),
            "generator": OcclusionAwareGenerator(**params["generator_params"],
                                                 **params["common_params"]),
            "audio2kp": AudioModel3D(opt)}
    (d / "checkpoints").mkdir()
    torch.save({k: nets[k].state_dict() for k in KEYS}, d / "checkpoints" / "audio2head.pth.tar")


class Engine:
    def __init__(self, config: dict):
        self.src = Path(config["source"])
        self.device, self.seed = config["device"], config["seed"]
        if config["random_weights"]:
            d = random_checkpoints(config["cache_dir"], self.seed,
                                   lambda d: _random_checkpoint(self.src, d))
            self.ckpt = d / "checkpoints" / "audio2head.pth.tar"
        else:
            self.ckpt = Path(config["weights"]["audio2head"])
        if not self.ckpt.is_file():
            raise EngineError(f"{self.ckpt}: no checkpoint")
        self.info = {"checkpoint": str(self.ckpt)}

    def generate(self, sample: dict, out_dir: str) -> dict:
        image, audio = sample["inputs"]["image"], sample["inputs"]["audio"]
        out = Path(out_dir).resolve()
        job = job_tree(self.src, out / "job", own=["results"])
        save = out / "results"
        shutil.rmtree(save, ignore_errors=True)
        cmd = run_official("inference.py", ["--audio_path", audio, "--img_path", image,
                                            "--save_path", save, "--model_path", self.ckpt],
                           job, self.device, self.seed)
        # inference.py: os.path.basename(img_path)[:-4] + "_" + basename(audio_path)[:-4]
        video = save / f"{Path(image).name[:-4]}_{Path(audio).name[:-4]}.mp4"
        if not video.is_file():
            raise EngineError(f"inference.py exited 0 but wrote no {video}")
        shutil.rmtree(job)  # links and the temporary WAV; the inputs and results stay
        return {"video": str(video), "meta": {"command": cmd, "official_output": video.name,
                                              "size": 256, "fps": 25}}


def load(config: dict) -> Engine:
    return Engine(config)
