"""`sadtalker`: SadTalker (Zhang et al., CVPR 2023) by its official `inference.py` at commit
cd4c046, in the managed environment `sadtalker`.

Defaults are inference.py's own: `--preprocess crop`, `--size 256`, not still, pose style 0,
expression scale 1, no enhancer, render batch 2. The portrait goes in as the sample's face crop
(PNG; SadTalker crops and aligns it itself in crop modes, resizes it in resize mode); the
driving audio as a 16 kHz WAV (librosa reads it at 16 kHz). Output: `<result_dir>/<timestamp>
.mp4`, 25 fps, `--size` wide (full modes: the portrait's own size)."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.video_systems import VIDEO_OPTIONS, VideoSystem
from bench.worker import WORKER_OPTIONS

_REL = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.2-rc/"
_FX = "https://github.com/xinntao/facexlib/releases/download/v0.1.0/"
_FILES = {  # registry name -> (file, SHA-256, place in the tree, licence, source, note)
    "sadtalker-256": ("SadTalker_V0.0.2_256.safetensors",
                      "c211f5d6de003516bf1bbda9f47049a4c9c99133b1ab565c6961e5af16477bff",
                      "checkpoints", "Apache-2.0", _REL, "725,066,984 B; --size 256"),
    "sadtalker-512": ("SadTalker_V0.0.2_512.safetensors",
                      "0e063f7ff5258240bdb0f7690783a7b1374e6a4a81ce8fa33456f4cd49694340",
                      "checkpoints", "Apache-2.0", _REL, "725,066,984 B; --size 512"),
    "sadtalker-mapping-229": ("mapping_00229-model.pth.tar", weights.UNKNOWN, "checkpoints",
                              "Apache-2.0", _REL, "~156 MB; crop, extcrop and resize modes"),
    "sadtalker-mapping-109": ("mapping_00109-model.pth.tar", weights.UNKNOWN, "checkpoints",
                              "Apache-2.0", _REL, "155,779,231 B; full and extfull modes"),
    "facexlib-awing-fan": ("alignment_WFLW_4HG.pth", weights.UNKNOWN, "gfpgan/weights",
                           "MIT (facexlib)", _FX, "landmarks, always loaded"),
    "facexlib-retinaface-r50": ("detection_Resnet50_Final.pth", weights.UNKNOWN,
                                "gfpgan/weights", "MIT (facexlib)", _FX,
                                "face detector, always loaded"),
    "gfpgan-1.4": ("GFPGANv1.4.pth", weights.UNKNOWN, "gfpgan/weights",
                   "Apache-2.0 (GFPGAN; see its model licence)",
                   "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/",
                   "only with enhancer=gfpgan"),
    "facexlib-parsenet": ("parsing_parsenet.pth", weights.UNKNOWN, "gfpgan/weights",
                          "MIT (facexlib)", "https://github.com/xinntao/facexlib/releases/"
                          "download/v0.2.2/", "only with enhancer=gfpgan"),
}
for _name, (_file, _sha, _dir, _lic, _url, _note) in _FILES.items():
    weights.register(weights.WeightsEntry(_name, _file, _sha, _lic, f"sadtalker ({_dir}/{_file})",
                                          urls=(_url + _file,), notes=_note))
_ALWAYS = ("facexlib-awing-fan", "facexlib-retinaface-r50")


@register_generator
class SadTalker(VideoSystem):
    name = "sadtalker"
    description = "SadTalker (official inference.py): 3DMM coefficients from audio, face render"
    env_name = "sadtalker"
    engine = Path(__file__).with_name("engine.py")
    layout = {n: f"{d}/{f}" for n, (f, _s, d, *_r) in _FILES.items()}
    input_notes = ("SadTalker crops and aligns the portrait itself (crop modes) or resizes it "
                   "(resize); librosa reads the audio at 16 kHz")
    options = {
        "size": Option("256", "face render size (--size)", choices=("256", "512")),
        "preprocess": Option("crop", "--preprocess", choices=(
            "crop", "extcrop", "resize", "full", "extfull")),
        "still": Option("false", "--still (less head motion; goes with the full modes)", bool),
        "pose_style": Option("0", "--pose_style, in [0, 46)", int),
        "expression_scale": Option("1.0", "--expression_scale", float),
        "enhancer": Option("none", "--enhancer", choices=("none", "gfpgan", "RestoreFormer")),
        "batch": Option("2", "--batch_size of the renderer (memory, not output)", int,
                        affects_output=False),
        **VIDEO_OPTIONS,
        **WORKER_OPTIONS,
    }

    @property
    def weights(self) -> tuple[str, ...]:  # type: ignore[override]
        """What this configuration loads (the size's checkpoint, the mode's mapping net)."""
        mapping = "109" if "full" in self.opts["preprocess"] else "229"
        extra = ("gfpgan-1.4", "facexlib-parsenet") if self.opts["enhancer"] != "none" else ()
        return (f"sadtalker-{self.opts['size']}", f"sadtalker-mapping-{mapping}", *_ALWAYS,
                *extra)
