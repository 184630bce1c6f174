"""Inside the `eat` environment: EAT's official scripts, run from a per-job copy of the
repository root with a `demo/` and a `preprocess/` folder of the job's own (demo.py renders
every image in ./demo/imgs_cropped and writes ./demo/imgs_latent and ./demo/output, the
DeepSpeech scripts write beside their inputs), in the order the README gives for custom audio:

1. the sample's audio as `preprocess/video_fps25/<name>.wav`; `extract_ds_features.py
   --input=../video_fps25 --deepspeech PB` (from preprocess/deepspeech_features), then
   `deepfeature32.py` (from preprocess), as preprocess_video.py runs them;
2. the driving folder `demo/video_processed/<name>`: the pose source's latent_evp_25, poseimg
   and images_evp_25, with `<name>.wav` and `deepfeature32/<name>.npy` the sample's;
3. `demo.py --root_wav ./demo/video_processed/<name> --emo EMO --name <ckpt>`; the video is
   `./demo/output/<ckpt>/<img>_<emo>_<name>.mp4`.

Random weights cannot run EAT here: modules/prompt.py and modules/transformer.py (demo.py
imports both) import `Utils/JDC/model.py`, code that ships only inside the Utils zip (not in
the repository, not on the package index), so EAT's networks cannot even be built; and the head
pose comes from the demo zip's preprocessed driving folders, data that no seed makes."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.engine_api import EngineError, MissingWeights, job_tree, run_official

CKPT = "deepprompt_eam3d_all_final_313"
POSE_PARTS = ("latent_evp_25/{n}.npy", "poseimg/{n}.npy.gz", "images_evp_25/cropped")
STOP = ("random weights cannot run EAT: its networks are built by modules/prompt.py and "
        "modules/transformer.py, which import Utils/JDC/model.py, code shipped only in the "
        "Utils zip (not in the repository or on the package index), and its head pose comes "
        "from the demo zip's preprocessed driving folders (data, not weights)")


class Engine:
    def __init__(self, config: dict):
        if config["random_weights"]:
            raise EngineError(STOP)
        self.src = Path(config["source"])
        self.device, self.seed = config["device"], config["seed"]
        self.emotion, pose = config["options"]["emotion"], config["options"].get("pose")
        if not pose:
            raise EngineError("eat needs pose=DIR: a preprocessed driving folder for the head "
                              "pose, e.g. the demo zip's demo/video_processed/obama (eat#34)")
        self.pose = Path(pose)
        missing = [p.format(n=self.pose.name) for p in POSE_PARTS
                   if not (self.pose / p.format(n=self.pose.name)).exists()]
        if missing:
            raise EngineError(f"pose={self.pose}: not an EAT driving folder (missing "
                              f"{', '.join(missing)})")
        w = {n: Path(p) for n, p in config["weights"].items()}
        self.files = {"ckpt": w["eat-deepprompt-313"].parent,
                      "ckpt274": w["eat-pretrain-274"], "jdc": w["eat-jdc"].parent,
                      "dlib": w["dlib-landmarks68"], "template": w["eat-template"],
                      "pb": w["deepspeech-0.1.0"]}
        for p in self.files.values():
            if not p.exists():
                raise MissingWeights(f"{p} is missing")
        self.info = {"pose": str(self.pose), "emotion": self.emotion}

    def _tree(self, out: Path) -> Path:
        job = job_tree(self.src, out / "job", own=["demo", "preprocess"])
        ckpt = job / "ckpt"
        ckpt.mkdir(exist_ok=True)
        for f in (self.files["ckpt"] / f"{CKPT}.pth.tar", self.files["ckpt274"]):
            (ckpt / f.name).symlink_to(f)
        (job / "Utils").mkdir(exist_ok=True)
        (job / "Utils" / "JDC").symlink_to(self.files["jdc"])
        for key in ("dlib", "template"):
            (job / "demo" / self.files[key].name).symlink_to(self.files[key])
        for d in ("imgs", "imgs_cropped"):
            (job / "demo" / d).mkdir(exist_ok=True)
        return job

    def generate(self, sample: dict, out_dir: str) -> dict:
        image, audio = Path(sample["inputs"]["image"]), sample["inputs"]["audio"]
        out = Path(out_dir).resolve()
        job, name = self._tree(out), self.pose.name
        shutil.copy(image, job / "demo" / "imgs_cropped" / image.name)
        fps25 = job / "preprocess" / "video_fps25"
        fps25.mkdir(exist_ok=True)
        shutil.copy(audio, fps25 / f"{name}.wav")
        ds = job / "preprocess" / "deepspeech_features"
        cmds = [run_official("extract_ds_features.py", ["--input=../video_fps25", "--deepspeech",
                                                        self.files["pb"]],
                             ds, self.device, self.seed),
                run_official("deepfeature32.py", [], job / "preprocess", self.device, self.seed)]
        drive = job / "demo" / "video_processed" / name
        (drive / "deepfeature32").mkdir(parents=True)
        shutil.copy(job / "preprocess" / "deepfeature32" / f"{name}.npy", drive / "deepfeature32")
        shutil.copy(audio, drive / f"{name}.wav")
        for part in ("latent_evp_25", "poseimg", "images_evp_25"):
            (drive / part).symlink_to(self.pose / part)
        cmds.append(run_official("demo.py", ["--root_wav", f"./demo/video_processed/{name}",
                                             "--emo", self.emotion, "--name", CKPT],
                                 job, self.device, self.seed))
        made = job / "demo" / "output" / CKPT / f"{image.stem}_{self.emotion}_{name}.mp4"
        if not made.is_file():
            raise EngineError(f"demo.py exited 0 but wrote no {made} (an image demo.py skips, or "
                              "a pose source shorter than one frame)")
        video = out / made.name
        shutil.move(made, video)
        shutil.rmtree(job)
        return {"video": str(video), "meta": {"command": cmds[-1], "preprocess": cmds[:-1],
                                              "official_output": made.name, "pose": name,
                                              "emotion": self.emotion}}


def load(config: dict) -> Engine:
    return Engine(config)
