"""Inside the `sadtalker` environment: the official `inference.py` run from a per-job copy of
the repository root (it reads src/config and the relative gfpgan/weights folder), one
`--result_dir` per job: the output is `<result_dir>/<YYYY_MM_DD_HH.MM.SS>.mp4`, so two jobs
started in the same second would otherwise collide.

Random weights: every network inference.py loads, built as the official code builds it (the
yaml configs in src/config, `define_net_recon('resnet50')`, facexlib's RetinaFace-ResNet50 and
the awing FAN), seeded, and saved in the official files:
- `checkpoints/SadTalker_V0.0.2_<size>.safetensors`, keys prefixed face_3drecon / audio2pose /
  audio2exp / generator / kp_extractor as `load_x_from_safetensor` reads them (the head-pose
  estimator, never loaded from it, is not in the real 725 MB file either);
- `checkpoints/mapping_00229-model.pth.tar` and `mapping_00109-model.pth.tar` ({"mapping",
  "epoch"});
- `gfpgan/weights/alignment_WFLW_4HG.pth` ({"state_dict"}) and `detection_Resnet50_Final.pth`.
A random face detector finds nonsense boxes (hundreds at score 1.0, mostly outside the image):
the official crop then fails on an empty crop, the step a random-weights run stops at."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from bench.engine_api import (EngineError, MissingWeights, job_tree, link_layout,
                              random_checkpoints, run_official)

STAMP = re.compile(r"^\d{4}_\d{2}_\d{2}_\d{2}\.\d{2}\.\d{2}\.mp4$")


def _random_checkpoints(src: Path, d: Path) -> None:
    import safetensors.torch
    import torch
    import yaml
    from yacs.config import CfgNode

    sys.path.insert(0, str(src))
    from facexlib.detection.retinaface import RetinaFace
    from src.audio2exp_models.networks import SimpleWrapperV2
    from src.audio2pose_models.audio2pose import Audio2Pose
    from src.face3d.models import networks
    from src.face3d.util.my_awing_arch import FAN
    from src.facerender.modules.generator import OcclusionAwareSPADEGenerator
    from src.facerender.modules.keypoint_detector import KPDetector
    from src.facerender.modules.mapping import MappingNet

    cfg = src / "src" / "config"
    with open(cfg / "auido2pose.yaml") as f:
        pose_cfg = CfgNode.load_cfg(f)
    nets = {"face_3drecon": networks.define_net_recon(net_recon="resnet50", use_last_fc=False,
                                                      init_path=""),
            "audio2pose": Audio2Pose(pose_cfg, None, device="cpu"),
            "audio2exp": SimpleWrapperV2()}
    for name in ("facerender.yaml", "facerender_still.yaml"):
        params = yaml.safe_load((cfg / name).read_text())["model_params"]
        common = params["common_params"]
        if name == "facerender.yaml":  # the renderer the safetensors file holds
            nets["generator"] = OcclusionAwareSPADEGenerator(**params["generator_params"],
                                                             **common)
            nets["kp_extractor"] = KPDetector(**params["kp_detector_params"], **common)
            mapping = "mapping_00229-model.pth.tar"
        else:
            mapping = "mapping_00109-model.pth.tar"
        (d / "checkpoints").mkdir(exist_ok=True)
        torch.save({"mapping": MappingNet(**params["mapping_params"]).state_dict(), "epoch": 0},
                   d / "checkpoints" / mapping)
    tensors = {f"{prefix}.{k}": v.contiguous() for prefix, net in nets.items()
               for k, v in net.state_dict().items()}
    safetensors.torch.save_file(tensors, d / "checkpoints" / "SadTalker_V0.0.2_256.safetensors")
    # the two sizes hold the same networks (trained apart): one random file serves both
    (d / "checkpoints" / "SadTalker_V0.0.2_512.safetensors").symlink_to(
        "SadTalker_V0.0.2_256.safetensors")
    (d / "gfpgan" / "weights").mkdir(parents=True)
    fan = FAN(num_modules=4, num_landmarks=98, device="cpu")
    torch.save({"state_dict": fan.state_dict()}, d / "gfpgan/weights/alignment_WFLW_4HG.pth")
    det = RetinaFace(network_name="resnet50", half=False, device="cpu")
    torch.save(det.state_dict(), d / "gfpgan/weights/detection_Resnet50_Final.pth")


class Engine:
    def __init__(self, config: dict):
        self.src = Path(config["source"])
        self.device, self.seed = config["device"], config["seed"]
        self.opts = config["options"]
        if config["random_weights"]:
            self.root = random_checkpoints(config["cache_dir"], self.seed,
                                           lambda d: _random_checkpoints(self.src, d))
        else:
            layout = config["layout"]
            self.root = link_layout(Path(config["cache_dir"]) / "layout",
                                    {layout[n]: p for n, p in config["weights"].items()})
        need = [f"checkpoints/SadTalker_V0.0.2_{self.opts['size']}.safetensors",
                "checkpoints/mapping_00109-model.pth.tar" if "full" in self.opts["preprocess"]
                else "checkpoints/mapping_00229-model.pth.tar",
                "gfpgan/weights/alignment_WFLW_4HG.pth",
                "gfpgan/weights/detection_Resnet50_Final.pth"]
        if self.opts["enhancer"] != "none":
            need.append("gfpgan/weights/GFPGANv1.4.pth")
        missing = [n for n in need if not (self.root / n).is_file()]
        if missing:
            raise MissingWeights(f"{self.root}: missing {', '.join(missing)}")
        self.info = {"weights": str(self.root)}

    def generate(self, sample: dict, out_dir: str) -> dict:
        image, audio = sample["inputs"]["image"], sample["inputs"]["audio"]
        out = Path(out_dir).resolve()
        job = job_tree(self.src, out / "job")
        (job / "gfpgan").unlink(missing_ok=True)
        (job / "gfpgan").symlink_to(self.root / "gfpgan")  # read from the relative path
        results = out / "results"
        shutil.rmtree(results, ignore_errors=True)  # only this run's <timestamp>.mp4 counts
        o = self.opts
        args = ["--driven_audio", audio, "--source_image", image,
                "--checkpoint_dir", self.root / "checkpoints", "--result_dir", results,
                "--size", o["size"], "--preprocess", o["preprocess"],
                "--pose_style", o["pose_style"], "--expression_scale", o["expression_scale"],
                "--batch_size", o["batch"]]
        args += ["--still"] if o["still"] else []
        args += ["--enhancer", o["enhancer"]] if o["enhancer"] != "none" else []
        args += [] if self.device.startswith("cuda") else ["--cpu"]
        cmd = run_official("inference.py", args, job, self.device, self.seed)
        made = sorted(p for p in results.iterdir() if STAMP.match(p.name)) \
            if results.is_dir() else []
        if len(made) != 1:
            raise EngineError(f"inference.py exited 0 but {results} holds "
                              f"{[p.name for p in made] or 'no <timestamp>.mp4'}; expected one "
                              "(the source image may have no face the detector finds)")
        shutil.rmtree(job)
        return {"video": str(made[0]), "meta": {"command": cmd, "official_output": made[0].name}}


def load(config: dict) -> Engine:
    return Engine(config)
