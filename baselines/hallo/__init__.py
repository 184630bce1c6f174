"""`hallo`: Hallo (Xu et al., 2024) by its official `scripts/inference.py` at commit 8fd7c57, in
the managed environment `hallo`.

Defaults are the official `configs/inference/default.yaml`: 40 DDIM steps, CFG 3.5, pose / face
/ lip weights 1.0, face expand ratio 1.2, 16-frame clips at 512², fp16 (fp32 on a CPU, where
half-precision convolutions do not run). Steps and CFG have no command-line flag: the engine
writes a copy of the official YAML with them (`-c`). The portrait goes in square at 512² as the
README asks (the code resizes without keeping the aspect ratio); the driving audio as a WAV
(Hallo separates the vocals with Kim_Vocal_2 and resamples to 16 kHz itself). Output: the
`--output` MP4, 512², 25 fps, with the driving audio."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.video_systems import VIDEO_OPTIONS, VideoSystem
from bench.worker import WORKER_OPTIONS

HF = "https://huggingface.co/fudan-generative-ai/hallo/resolve/main/"
_DIRS = {  # registry name -> (place under pretrained_models/, main file, companions, licence, note)
    "hallo-net": ("hallo/", "net.pth", (), "MIT", "audio projection, face locator, image "
                  "projection and the audio-attention weights"),
    "hallo-sd15-unet": ("stable-diffusion-v1-5/unet/", "diffusion_pytorch_model.safetensors",
                        ("config.json",), "CreativeML OpenRAIL-M", "SD-1.5 UNet, 3.44 GB"),
    "hallo-motion-module": ("motion_module/", "mm_sd_v15_v2.ckpt", (), "Apache-2.0 (AnimateDiff)",
                            "1.82 GB"),
    "hallo-vae": ("sd-vae-ft-mse/", "diffusion_pytorch_model.safetensors", ("config.json",),
                  "MIT", "335 MB"),
    "hallo-wav2vec": ("wav2vec/wav2vec2-base-960h/", "model.safetensors",
                      ("config.json", "preprocessor_config.json"), "Apache-2.0",
                      "read with local_files_only"),
    "hallo-audio-separator": ("audio_separator/", "Kim_Vocal_2.onnx",
                              ("download_checks.json", "mdx_model_data.json",
                               "vr_model_data.json"), "MIT (UVR models)", "vocal separation"),
    "hallo-face-analysis": ("face_analysis/models/", "scrfd_10g_bnkps.onnx",
                            ("1k3d68.onnx", "2d106det.onnx", "genderage.onnx", "glintr100.onnx",
                             "face_landmarker_v2_with_blendshapes.task"),
                            "non-commercial research (InsightFace models); Apache-2.0 (MediaPipe)",
                            "431 MB; InsightFace buffalo models + the MediaPipe landmarker"),
}
for _name, (_dir, _file, _comp, _lic, _note) in _DIRS.items():
    weights.register(weights.WeightsEntry(
        _name, _file, weights.UNKNOWN, _lic, f"hallo (pretrained_models/{_dir})",
        urls=(HF + _dir,), notes=_note, companions=_comp))


@register_generator
class Hallo(VideoSystem):
    name = "hallo"
    description = "Hallo (official scripts/inference.py): audio-driven latent diffusion portrait"
    env_name = "hallo"
    engine = Path(__file__).with_name("engine.py")
    weights = tuple(_DIRS)
    layout = {n: f"pretrained_models/{d}" for n, (d, *_r) in _DIRS.items()}
    image_size = 512
    input_notes = ("square 512² crop as the README asks; Hallo separates the vocals and "
                   "resamples the audio to 16 kHz itself")
    options = {
        "steps": Option("40", "DDIM steps (inference_steps in the YAML)", int),
        "cfg_scale": Option("3.5", "classifier-free guidance (cfg_scale in the YAML)", float),
        "pose_weight": Option("1.0", "--pose_weight", float),
        "face_weight": Option("1.0", "--face_weight", float),
        "lip_weight": Option("1.0", "--lip_weight", float),
        "face_expand_ratio": Option("1.2", "--face_expand_ratio", float),
        **VIDEO_OPTIONS,
        **WORKER_OPTIONS,
        # ~15 GPU-minutes for a 20 s clip (40-50 GPU-s per second of video)
        "timeout": Option("3600", "seconds one sample may take before the worker is killed",
                          int, affects_output=False),
    }
