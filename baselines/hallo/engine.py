"""Inside the `hallo` environment: the official `scripts/inference.py`, run from a per-job copy
of the repository root (the MediaPipe landmarker is read from a relative path) with a copy of
`configs/inference/default.yaml` that sets the steps, CFG, precision, the weights folder and a
`save_path` of the job's own: the official `./.cache` holds masks named after the image and
`audio_preprocess/`, so two runs sharing it overwrite each other's inputs.

Random weights cannot stand in for every file Hallo reads: its face analysis is InsightFace's
SCRFD detector, ArcFace and landmark models, published only as ONNX graphs (no code in Hallo or
the insightface package builds them), and the vocal separator is an ONNX graph too. A random-
weights run therefore drives the official script up to `ImageProcessor`, the first step, which
stops on the absent face-analysis models; the engine says so."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.engine_api import EngineError, MissingWeights, job_tree, link_layout, run_official

STOP = ("random weights: Hallo's face analysis (InsightFace SCRFD/ArcFace/landmarks) and vocal "
        "separator (Kim_Vocal_2) exist only as ONNX graphs, which no official code builds, so "
        "the official inference stops at its first step, ImageProcessor, where insightface, "
        "finding no models, turns to its download")


class Engine:
    def __init__(self, config: dict):
        self.src = Path(config["source"])
        self.device, self.seed = config["device"], config["seed"]
        self.opts = config["options"]
        self.random = config["random_weights"]
        root = Path(config["cache_dir"]) / ("random" if self.random else "layout")
        layout = config["layout"]
        self.models = link_layout(root, {layout[n]: p for n, p in config["weights"].items()})
        (self.models / "pretrained_models").mkdir(parents=True, exist_ok=True)
        if not self.random:
            missing = [rel for rel in layout.values() if not (self.models / rel).exists()]
            if missing:
                raise MissingWeights(f"{self.models}: missing {', '.join(missing)}")
        self.info = {"weights": str(self.models)}
        if self.random:
            print(f"[engine] {STOP}", file=sys.stderr, flush=True)

    def _config(self, job: Path) -> Path:
        from omegaconf import OmegaConf

        cfg = OmegaConf.load(self.src / "configs" / "inference" / "default.yaml")
        cfg.inference_steps = self.opts["steps"]
        cfg.cfg_scale = self.opts["cfg_scale"]
        cfg.weight_dtype = "fp16" if self.device.startswith("cuda") else "fp32"
        cfg.save_path = str(job / ".cache")
        path = job / "bench-inference.yaml"
        OmegaConf.save(cfg, path)
        return path

    def generate(self, sample: dict, out_dir: str) -> dict:
        image, audio = sample["inputs"]["image"], sample["inputs"]["audio"]
        out = Path(out_dir).resolve()
        job = job_tree(self.src, out / "job", own=[".cache"])
        (job / "pretrained_models").unlink(missing_ok=True)
        (job / "pretrained_models").symlink_to(self.models / "pretrained_models")
        video = out / "output.mp4"
        o = self.opts
        args = ["-c", self._config(job), "--source_image", image, "--driving_audio", audio,
                "--output", video, "--pose_weight", o["pose_weight"],
                "--face_weight", o["face_weight"], "--lip_weight", o["lip_weight"],
                "--face_expand_ratio", o["face_expand_ratio"]]
        cmd = run_official("scripts/inference.py", args, job, self.device, self.seed)
        if not video.is_file():
            raise EngineError(f"scripts/inference.py exited 0 but wrote no {video}")
        shutil.rmtree(job)
        return {"video": str(video), "meta": {"command": cmd, "official_output": video.name,
                                              "weight_dtype": "fp16" if self.device.startswith(
                                                  "cuda") else "fp32"}}


def load(config: dict) -> Engine:
    return Engine(config)
