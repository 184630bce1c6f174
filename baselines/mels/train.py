"""`bench train mels`: the paper's objective and optimiser on a training split disjoint from the
evaluation split, checkpoints that resume bit-exactly, and held-out scores.

Objective (sec. 3.4): L_video + λ·L_audio, λ = 0.1, with L_video the L1 distance of decoded
pixels (in [-1, 1], averaged rather than summed so λ keeps its meaning at any size) and L_audio
the MSE of log-mel magnitudes (teacher-forced). AdamW, StepLR, batch 8 (sec. 4.1); a batch is
its samples' mean loss, accumulated one sample at a time because clip lengths differ.

Determinism: the epoch order and each sample's diffusion noise come from generators seeded by
(seed, epoch, batch, sample), not from a global stream; the model, optimiser, scheduler and
torch RNG states are saved whole, so a run killed and resumed ends with the same bytes as one
that never stopped (at the same thread count, recorded in train.json).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from baselines.mels.config import MelsConfig
from baselines.mels.data import Example, example_of
from baselines.mels.model import MELS, Inputs, build
from bench.atomic import atomic_path, write_text
from bench.errors import BenchError, ConfigError, ManifestError
from bench.preprocess import PreprocessConfig, preprocess
from bench.sample import RawItem
from bench.splits import check_items, load_manifest, shipped_manifest

log = logging.getLogger("bench")
FORMAT = "mels-checkpoint/1"
CHECKPOINT = "checkpoint.pt"


@dataclass
class Split:
    """A manifest's samples found on disk, and the manifest's hash."""

    items: list[RawItem]
    sha256: str


def _manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    return {f["sha256"]: e["id"] for e in manifest["samples"] for f in e["files"].values()}


def load_splits(dataset: str, items: list[RawItem], train_split: str | None,
                eval_split: str | None) -> tuple[Split, dict[str, Any]]:
    """The training split and the evaluation manifest, refused unless disjoint by sample id and
    by the content hash of every file."""
    train_path = train_split or shipped_manifest(f"{dataset}-train")
    if train_path is None:
        raise ConfigError(f"dataset '{dataset}' ships no training split: write one with "
                          "`bench split` and pass --split FILE")
    eval_path = eval_split or shipped_manifest(dataset)
    if eval_path is None:
        raise ConfigError(f"dataset '{dataset}' ships no evaluation split: pass --eval-split FILE "
                          "(the split the model will be scored on) so disjointness can be checked")
    train, held = load_manifest(train_path), load_manifest(eval_path)
    for m, path in ((train, train_path), (held, eval_path)):
        if m["dataset"] != dataset:
            raise ConfigError(f"{path}: a split of '{m['dataset']}', not '{dataset}'")
    shared_ids = sorted({e["id"] for e in train["samples"]} & {e["id"] for e in held["samples"]})
    held_files = _manifest_files(held)
    shared_files = sorted({held_files[h] for h in _manifest_files(train) if h in held_files})
    if shared_ids or shared_files:
        raise ConfigError(f"training split {train_path} overlaps the evaluation split {eval_path}: "
                          f"samples {(shared_ids or shared_files)[:5]}")
    found, bad = check_items(train, items)
    if bad:
        raise ManifestError(f"training split {train_path}: {bad[0].path or bad[0].sample}: "
                            f"{bad[0].cause} ({len(bad)} problem(s))")
    return Split(found, train["manifest_sha256"]), held


def load_examples(items: list[RawItem], cfg: MelsConfig) -> tuple[list[Example], dict[str, str]]:
    """Preprocess (suite defaults) and tensorise; a bad sample is skipped with its cause."""
    examples, failed = [], {}
    for item in tqdm(items, desc="mels: samples", unit="sample", leave=False):
        try:
            examples.append(example_of(preprocess(item, PreprocessConfig(), None), cfg))
        except BenchError as exc:
            log.warning("mels: %s: %s (skipped)", item.id, exc)
            failed[item.id] = str(exc)
    if not examples:
        raise ConfigError("mels: no usable training sample (each failed; see the warnings)")
    return examples, failed


def loss_of(model: MELS, ex: Example, noise: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """The paper's total loss and its video / audio terms."""
    dev = next(model.parameters()).device
    out = model(to_device(ex.inputs, dev), ex.mel.to(dev), noise.to(dev))
    video = F.l1_loss(out.video, ex.frames.to(dev))
    audio = F.mse_loss(out.mel, ex.mel.to(dev))
    return video + model.cfg.audio_weight * audio, video.item(), audio.item()


def to_device(x: Any, device: torch.device) -> Any:
    if device.type == "cpu":
        return x
    from dataclasses import fields, replace

    return replace(x, **{f.name: getattr(x, f.name).to(device) for f in fields(x)
                         if isinstance(getattr(x, f.name), torch.Tensor)})


def noise_for(model: MELS, x: Inputs, *key: int | str) -> torch.Tensor:
    """Seeded latent noise for one sample (the key names where it is used)."""
    text = ":".join(str(k) for k in key)
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return model.noise(x, torch.Generator().manual_seed(seed))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save written atomically, with its SHA-256 beside it so a damaged file is refused."""
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    write_text(path.with_name(path.name + ".sha256"), hashlib.sha256(data).hexdigest() + "\n")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A verified checkpoint (a DIR means DIR/checkpoint.pt)."""
    path = path / CHECKPOINT if path.is_dir() else path
    side = path.with_name(path.name + ".sha256")
    if not path.is_file():
        raise ConfigError(f"mels: no checkpoint at {path} (train one with `bench train mels`)")
    data = path.read_bytes()
    if not side.is_file() or side.read_text().strip() != hashlib.sha256(data).hexdigest():
        raise ConfigError(f"{path}: checkpoint does not match its {side.name} (damaged or "
                          "edited); not loaded")
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a mels checkpoint (format {state.get('format')!r})")
    return state


def train(cfg: MelsConfig, examples: list[Example], out: Path, device: str = "cpu",
          max_steps: int | None = None, save_every: int = 0,
          meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train (or resume from out/checkpoint.pt) and return the run's record."""
    out.mkdir(parents=True, exist_ok=True)
    model = build(cfg, device)
    opt = torch.optim.AdamW(model.train_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma)
    n_batches = -(-len(examples) // cfg.batch_size)
    total = cfg.epochs * n_batches
    step, history = 0, []
    if (out / CHECKPOINT).is_file():
        state = load_checkpoint(out)
        if state["config"] != cfg.to_dict():
            raise ConfigError(f"{out}: holds a checkpoint of another config; use a new --out")
        if state["samples"] != [e.sample_id for e in examples]:
            raise ConfigError(f"{out}: its checkpoint was trained on other samples")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.random.set_rng_state(state["rng"]["torch"])
        step, history = state["step"], state["history"]
        log.info("mels: resuming %s at step %d of %d", out, step, total)
    stop = total if max_steps is None else min(total, max_steps)
    model.train()
    started = time.monotonic()
    bar = tqdm(total=total, initial=step, desc="mels: train", unit="step")
    while step < stop:
        epoch, batch = divmod(step, n_batches)
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(
            cfg.seed * 100_003 + epoch)).tolist()
        chosen = [examples[i] for i in order[batch * cfg.batch_size:(batch + 1) * cfg.batch_size]]
        opt.zero_grad(set_to_none=True)
        terms = np.zeros(3)
        for ex in chosen:
            noise = noise_for(model, ex.inputs, cfg.seed, epoch, batch, ex.sample_id)
            loss, video, audio = loss_of(model, ex, noise)
            (loss / len(chosen)).backward()
            terms += np.array([loss.item(), video, audio]) / len(chosen)
        opt.step()
        sched.step()
        step += 1
        history.append({"step": step, "epoch": epoch, "loss": float(terms[0]),
                        "video_l1": float(terms[1]), "audio_mse": float(terms[2]),
                        "lr": float(sched.get_last_lr()[0])})
        bar.update(1)
        bar.set_postfix(loss=f"{terms[0]:.4f}", l1=f"{terms[1]:.4f}", mse=f"{terms[2]:.3f}")
        if step == stop or (save_every and step % save_every == 0):
            save_checkpoint(out / CHECKPOINT, {
                "format": FORMAT, "config": cfg.to_dict(), "model": model.state_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng": {"torch": torch.random.get_rng_state()},
                "step": step, "history": history, "samples": [e.sample_id for e in examples],
                "meta": meta or {}})
    bar.close()
    record = {"config": cfg.to_dict(), "step": step, "of": total, "finished": step == total,
              "seconds": round(time.monotonic() - started, 1), "history": history,
              "parameters": model.parameter_report(), "threads": threads_note(),
              **(meta or {})}
    write_text(out / "train.json", json.dumps(record, indent=2) + "\n")
    return record


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of frames in [-1, 1] (clamped), peak 1 after mapping to [0, 1]."""
    mse = F.mse_loss((a.clamp(-1, 1) + 1) / 2, (b + 1) / 2).item()
    return 10 * float(np.log10(1.0 / max(mse, 1e-12)))


def evaluate(model: MELS, examples: list[Example]) -> dict[str, float]:
    """Held-out scores of generated outputs: video L1 and PSNR, free-running spectrogram MSE."""
    model.eval()
    l1, db, mse = [], [], []
    dev = next(model.parameters()).device
    for ex in examples:
        noise = noise_for(model, ex.inputs, "eval", ex.sample_id)
        out, _ = model.generate(to_device(ex.inputs, dev), noise)
        frames = ex.frames.to(dev)
        l1.append(F.l1_loss(out.video.clamp(-1, 1), frames).item())
        db.append(psnr(out.video, frames))
        mse.append(F.mse_loss(out.mel, ex.mel.to(dev)).item())
    return {"video_l1": float(np.mean(l1)), "psnr": float(np.mean(db)),
            "mel_mse": float(np.mean(mse)), "n": len(examples)}


def threads_note() -> str:
    """Bit-exact resume assumes the same thread count (reductions are ordered by it)."""
    omp = os.environ.get("OMP_NUM_THREADS")
    return f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={omp}"
