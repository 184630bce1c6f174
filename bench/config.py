"""Run configuration: defaults, overridden by a YAML/JSON config file, overridden by CLI flags.

Everything that can change a number is part of `numbers_key()`, whose hash names the run
directory: re-running the same configuration resumes it, a different one starts a new run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError
from bench.hashing import sha256_json
from bench.preprocess import PreprocessConfig

DEFAULT_MODELS = ("gt", "static", "shuffled")
DEFAULT_METRICS = ("fvd@i3d-tfhub/16f-stride16/224-tf1bilinear-squash/pm1/cov-biased",
                   "psnr@rgb-uint8/frame-mean/cap100", "ssim@rgb-uint8/gauss11-s1.5/frame-mean",
                   "id-sim@dlib-resnet128/frames-every5/largest-face",
                   "fad@vggish-fadpkg/16k/examples-all/pre-relu/cov-unbiased", "mcd@pymcd/dtw/16k",
                   "stoi@pystoi/16k/truncate", "estoi@pystoi/16k/truncate", "pesq@itu-p862.2/wb/16k",
                   "f0rmse@espnet-harvest/16k/log/dtw-mcep", "dnsmos-ovrl@speechmos-p835/16k",
                   "csim@resemblyzer-ge2e/16k/vs-voice-profile", "wer@whisper-large-v3-ct2/beam5/norm-en",
                   "lse-d@syncnet-v2/s3fd-track100/vshift15",
                   "lse-c@syncnet-v2/s3fd-track100/vshift15",
                   "lipsync@theval/facemesh-refine/rms50ms-silero5.1.2/16k",
                   "silent-lip@theval/facemesh-refine/silence300ms-silero5.1.2/mad",
                   "lip-dyn@theval/facemesh-refine/lips40-pairdist-std",
                   "brow-dyn@theval/facemesh-refine/brow-eye-absdiff",
                   "head-dyn@facemesh-axes/theval-complexity",
                   "diversity@facemesh-axes/pose-std-deg")


@dataclass(frozen=True)
class RunConfig:
    dataset: str
    root: str | None = None
    split: str | None = None
    models: tuple[str, ...] = DEFAULT_MODELS
    metrics: tuple[str, ...] = DEFAULT_METRICS
    device: str = "cpu"
    limit: int | None = None
    seed: int = 0
    asr: str | None = None
    out: str | None = None
    shard: tuple[int, int] = (1, 1)  # k of N, 1-based
    strict: bool = False
    random_weights: bool = False  # networks on seeded random weights: numbers marked uncalibrated
    delivery: str | None = None  # re-encode every output through this codec (h264-crf23-aac)
    retry_failed: bool = False  # generate again the outputs that failed before; not in numbers_key
    workers: int = 0  # processes for DSP metrics (MCD, STOI, ...); 0 = one per CPU core; not in numbers_key
    # bootstrap draws for the CIs (per-sample values; evaluation-set resamples for distributional
    # metrics); not in numbers_key: re-running with other counts only recomputes the summary
    bootstrap: int = 1000
    set_bootstrap: int = 100
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def numbers_key(self, split_sha256: str) -> dict[str, Any]:
        """What the numbers depend on (not where outputs go, which shard runs, or strictness)."""
        from bench.generators import make_generator

        # labels, not spellings: `yourtts` and `yourtts:language=en` (its default) are one row
        labels = [make_generator(m).label for m in self.models]
        return {"dataset": self.dataset, "split_sha256": split_sha256, "models": labels,
                "delivery": self.delivery,
                "metrics": list(self.metrics), "device": self.device, "limit": self.limit, "seed": self.seed,
                "asr": self.asr, "random_weights": self.random_weights, "preprocess": asdict(self.preprocess)}

    def run_id(self, split_sha256: str) -> str:
        return f"{self.dataset}-{sha256_json(self.numbers_key(split_sha256))[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise ConfigError(f"--shard takes k/N (e.g. 2/4), not {text!r}") from exc
    if not 1 <= k <= n:
        raise ConfigError(f"--shard {text}: need 1 <= k <= N")
    return k, n


def load_file(path: str | Path) -> dict[str, Any]:
    """A config file (YAML or JSON). Dataset roots may be given as datasets: {NAME: {root: DIR}}."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is malformed: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data


# (type, smallest allowed value) of every scalar option; None allowed where the default is None
_SCALARS: dict[str, tuple[type, int | None]] = {
    "limit": (int, 1), "seed": (int, None), "workers": (int, 0), "bootstrap": (int, 0),
    "set_bootstrap": (int, 0), "strict": (bool, None), "random_weights": (bool, None),
    "retry_failed": (bool, None),
    "dataset": (str, None), "root": (str, None), "split": (str, None), "out": (str, None),
    "asr": (str, None), "device": (str, None), "delivery": (str, None)}


def _validate(merged: dict[str, Any]) -> None:
    """Refuse a wrong type or an out-of-range value with the option's name (never run on it)."""
    for key, (kind, low) in _SCALARS.items():
        value = merged.get(key)
        if value is None:
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{key} must be an integer, not {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise ConfigError(f"{key} must be a {kind.__name__}, not {value!r}")
        if low is not None and value < low:
            raise ConfigError(f"{key} must be >= {low}, not {value}")
    for key in ("models", "metrics"):
        if key in merged and not merged[key]:
            raise ConfigError(f"{key} is empty: name at least one (or leave it out for the "
                              "defaults)")
        if key in merged and not all(isinstance(x, str) and x for x in merged[key]):
            raise ConfigError(f"{key} must be names, not {list(merged[key])!r}")


def _model_specs(models: Any) -> Any:
    """A config file's `models:` section as `name:k=v` specs: a list of specs and/or mappings
    `{name: yourtts, language: en}`, or a mapping `{yourtts: {language: en}, gt: {}}`."""
    from bench.generators import spec_text

    if isinstance(models, dict):
        items = [{"name": k, **(v or {})} if isinstance(v or {}, dict) else None
                 for k, v in models.items()]
    elif isinstance(models, (list, tuple)):
        items = list(models)
    else:
        return models
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            opts = {k: v for k, v in item.items() if k != "name"}
            out.append(spec_text(item["name"], opts))
        elif isinstance(item, str):
            out.append(item)
        else:
            raise ConfigError(f"models: each entry is a name or {{name: NAME, option: value}}, "
                              f"not {item!r}")
    return tuple(out)


def build(cli: dict[str, Any], file_data: dict[str, Any] | None = None) -> RunConfig:
    """Merge defaults <- file <- CLI (CLI values of None mean 'not given')."""
    data = dict(file_data or {})
    roots = data.pop("datasets", {}) or {}
    if not isinstance(roots, dict) or not all(isinstance(v, dict) for v in roots.values()):
        raise ConfigError("datasets must map dataset names to {root: DIR}")
    merged = {**data, **{k: v for k, v in cli.items() if v is not None}}
    if "dataset" not in merged:
        raise ConfigError("no dataset given (--dataset NAME or `dataset:` in the config file)")
    if not merged.get("root"):
        merged["root"] = (roots.get(merged["dataset"]) or {}).get("root")
    known = {f.name for f in fields(RunConfig)}
    unknown = set(merged) - known
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
    pre = merged.pop("preprocess", None) or {}
    if isinstance(pre, PreprocessConfig):
        pre = asdict(pre)
    if "models" in merged:
        merged["models"] = _model_specs(merged["models"])
    for key in ("models", "metrics"):
        if isinstance(merged.get(key), str):
            merged[key] = tuple(x.strip() for x in merged[key].split(",") if x.strip())
        elif isinstance(merged.get(key), (list, tuple)):
            merged[key] = tuple(merged[key])
        elif key in merged:
            raise ConfigError(f"{key} must be a list or a comma-separated string, "
                              f"not {merged[key]!r}")
    if isinstance(merged.get("shard"), str):
        merged["shard"] = parse_shard(merged["shard"])
    elif "shard" in merged:
        merged["shard"] = parse_shard("/".join(map(str, merged["shard"])) if isinstance(
            merged["shard"], (list, tuple)) else str(merged["shard"]))
    if not isinstance(pre, dict):
        raise ConfigError(f"preprocess must be a mapping, not {pre!r}")
    _validate(merged)
    from bench.normalise import check_delivery

    merged["delivery"] = check_delivery(merged.get("delivery"))
    try:
        return replace(RunConfig(dataset=merged.pop("dataset")), **merged, preprocess=PreprocessConfig(**pre))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
