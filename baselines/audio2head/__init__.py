"""`audio2head`: Audio2Head (Wang et al., IJCAI 2021) by its official `inference.py` at commit
09e9b43, in the managed environment `audio2head` (two reviewed patches: CPU device, PyYAML 6).

Inputs as the README asks: a square portrait cropped like `demo/img` (the sample's face crop;
inference.py drops alpha and resizes to 256²) and the driving audio, which inference.py converts
to 16 kHz mono itself. Output: `<save_path>/<img>_<audio>.mp4`, 256², 25 fps, with the driving
audio muxed in. The one checkpoint `audio2head.pth.tar` holds the four networks."""

from __future__ import annotations

from pathlib import Path

from bench import weights
from bench.generators import register_generator
from bench.video_systems import VIDEO_OPTIONS, VideoSystem
from bench.worker import WORKER_OPTIONS

weights.register(weights.WeightsEntry(
    "audio2head", "audio2head.pth.tar", weights.UNKNOWN, "none stated (no licence file)",
    "audio2head (audio2pose LSTM, keypoint detector, generator, AudioModel3D)",
    urls=("https://drive.google.com/file/d/1tvI43ZIrnx9Ti2TpFiEO4dK5DOwcECD7",),
    notes="Google Drive id 1tvI43ZIrnx9Ti2TpFiEO4dK5DOwcECD7 (README); size and hash "
          "unpublished: the first import pins the SHA-256"))


@register_generator
class Audio2Head(VideoSystem):
    name = "audio2head"
    description = "Audio2Head (official inference.py): one-shot talking head from audio"
    env_name = "audio2head"
    engine = Path(__file__).with_name("engine.py")
    weights = ("audio2head",)
    layout = {"audio2head": "checkpoints/audio2head.pth.tar"}
    input_notes = "inference.py resizes to 256² and resamples the audio to 16 kHz mono"
    options = {**VIDEO_OPTIONS, **WORKER_OPTIONS}
