"""`eat`: EAT (Gan et al., ICCV 2023, emotional talking heads) by its official `demo.py` at
commit 95beccb, in the managed environment `eat` (one reviewed patch: CPU device).

Inputs as the README asks for custom audio (its Note 2 and eat#34): the portrait goes in
ready-cropped at 256² (`demo/imgs_cropped`, the README's route for a portrait that needs no
alignment); the driving folder is a copy of a preprocessed pose source (`pose=DIR`, a
`demo/video_processed/<name>` folder of the demo zip such as `obama`, ~5 minutes of head pose)
with its `<name>.wav` replaced by the sample's 16 kHz audio and `deepfeature32/<name>.npy` by
that audio's DeepSpeech features, made by EAT's own `preprocess/deepspeech_features` scripts.
The emotion label is `neu` unless `emotion=` says otherwise. Output: `./demo/output/<ckpt name>/
<img>_<emo>_<name>.mp4`, 256², 25 fps (demo.py ignores `--save_dir`); its length is the shorter
of the audio and the pose source."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import Option, register_generator
from bench.video_systems import VIDEO_OPTIONS, VideoSystem
from bench.worker import WORKER_OPTIONS

_DRIVE = "https://drive.google.com/file/d/"
_FILES = {  # registry name -> (main file, companions, place in the tree, licence, source, note)
    "eat-deepprompt-313": ("deepprompt_eam3d_all_final_313.pth.tar", (), "ckpt/", "CC BY-NC 4.0",
                           _DRIVE + "1KK15n2fOdfLECWN5wvX54mVyDt18IZCo", "ckpt zip (README)"),
    "eat-pretrain-274": ("pretrain_new_274.pth.tar", (), "ckpt/", "CC BY-NC 4.0",
                         _DRIVE + "1KK15n2fOdfLECWN5wvX54mVyDt18IZCo",
                         "ckpt zip; the latent keypoint extractor"),
    "eat-jdc": ("bst.t7", ("model.py",), "Utils/JDC/", "MIT (StarGANv2-VC's JDC pitch net)",
                _DRIVE + "1HGVzckXh-vYGZEUUKMntY1muIbkbnRcd",
                "Utils zip: import its JDC folder (the network's code ships beside it)"),
    "eat-template": ("M003_template.npy", (), "demo/", "CC BY-NC 4.0",
                     _DRIVE + "1MeFGC7ig-vgpDLdhh2vpTIiElrhzZmgT",
                     "demo zip: the landmark template demo.py aligns portraits to"),
    "deepspeech-0.1.0": ("deepspeech-0_1_0-b90017e8.pb", (), "", "MPL-2.0 (Mozilla DeepSpeech)",
                         "https://github.com/osmr/deepspeech_features/releases/download/v0.0.1/"
                         "deepspeech-0_1_0-b90017e8.pb.zip",
                         "SHA-1 b90017e816572ddce84f5843f1fa21e6a377975e (deepspeech_store.py)"),
}
for _name, (_file, _comp, _dir, _lic, _url, _note) in _FILES.items():
    weights.register(weights.WeightsEntry(_name, _file, weights.UNKNOWN, _lic,
                                          f"eat ({_dir}{_file})", urls=(_url,), notes=_note,
                                          companions=_comp))
EMOTIONS = ("ang", "con", "dis", "fea", "hap", "neu", "sad", "sur")


@register_generator
class EAT(VideoSystem):
    name = "eat"
    description = "EAT (official demo.py): emotional talking head, emotion label and pose source"
    env_name = "eat"
    engine = Path(__file__).with_name("engine.py")
    # demo.py loads dlib's 68-point model at import: the registry's one entry for it
    weights = (*_FILES, "dlib-landmarks68")
    layout = {**{n: d for n, (_f, _c, d, *_r) in _FILES.items() if d},
              "dlib-landmarks68": "demo/"}
    image_size = 256
    image_ext = "jpg"  # demo.py globs imgs_cropped/*.jpg
    input_notes = ("ready-cropped 256² portrait (imgs_cropped); the pose source's folder with "
                   "its wav and DeepSpeech features replaced by the sample's")
    options = {
        "emotion": Option("neu", "--emo, the emotion label", choices=EMOTIONS),
        "pose": Option(None, "a preprocessed driving folder giving the head pose (the demo "
                       "zip's demo/video_processed/obama, as eat#34 advises for audio input)",
                       path=True),
        **VIDEO_OPTIONS,
        **WORKER_OPTIONS,
    }
