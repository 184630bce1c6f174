"""WER of the generated speech against the sample's text (PROTOCOLS.md §9).

The generated audio (16 kHz mono) is transcribed by an ASR backend (bench.asr), both texts are
normalised by one scheme (bench.textnorm), and jiwer aligns the words. Each sample's value is
its own WER (errors / reference words), so the run's mean is the per-utterance mean that
seed-tts-eval reports; the summed errors and reference words also give the corpus WER
(`corpus` in the summary). Transcripts are cached per backend and audio content under
`$BENCH_HOME/transcripts`, so several normalisations cost one transcription.

Ids name the model, the decoding and the normalisation:
- `wer@whisper-large-v3-ct2/beam5/norm-en` (default): Systran's CTranslate2 conversion of
  Whisper large-v3 through faster-whisper, beam 5 (F5-TTS's setup), the suite's `en` rules;
- `.../norm-seedtts`: the same transcripts with seed-tts-eval's normalisation;
- `wer@whisper-large-v3-openai/greedy/norm-whisper`: openai-whisper large-v3, greedy, Whisper's
  own EnglishTextNormalizer (needs `pip install openai-whisper`);
- `wer@ct2:DIR[:SCHEME]`: any CTranslate2 Whisper directory; its id becomes
  `wer@ct2-whisper:<dir name>@<model.bin SHA-256 prefix>/beam5/norm-<scheme>`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import jiwer

from bench import cache, paths
from bench.asr import RATE, FasterWhisper, OpenAIWhisper, Transcriber
from bench.clip import Clip
from bench.errors import BadInputError, ConfigError, MissingWeightsError
from bench.textnorm import SCHEMES, normalise
from metrics.base import Metric, Pair, PerSampleMetric, Score, register_metric


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) of two normalised texts."""
    if not reference.split():
        raise BadInputError(None, "reference text is empty after normalisation: WER undefined")
    if not hypothesis.split():
        return len(reference.split()), len(reference.split())  # nothing recognised: every word deleted
    out = jiwer.process_words(reference, hypothesis)
    return out.substitutions + out.deletions + out.insertions, out.substitutions + out.deletions + out.hits


class _WER(PerSampleMetric):
    needs = frozenset({"gen_audio", "text"})
    higher_is_better = False
    randomisable = False  # ASR on random weights is meaningless
    totals = ("errors", "ref_words")
    scheme: ClassVar[str] = "en"

    @abstractmethod
    def backend(self, device: str) -> Transcriber:
        """The ASR model this metric transcribes with (loaded once, in setup)."""

    def setup(self, device: str) -> None:
        self.asr = self.backend(device)

    def transcript(self, clip: Clip) -> str:
        where = paths.home() / "transcripts" / self.asr.id.replace("/", "_")
        path = where / f"{clip.audio_key}.txt"
        return cache.text(path, lambda: self.asr.transcribe(clip.audio_at(RATE)))

    def compute(self, pair: Pair) -> Score:
        if not pair.sample.text:
            raise BadInputError(None, "sample has no text: WER needs the transcript")
        hyp = self.transcript(pair.gen)
        ref_n, hyp_n = normalise(pair.sample.text, self.scheme), normalise(hyp, self.scheme)
        errors, words = word_errors(ref_n, hyp_n)
        return Score(errors / words, extra={"errors": errors, "ref_words": words, "hypothesis": hyp})

    def corpus(self, totals: dict[str, float]) -> float | None:
        return totals["errors"] / totals["ref_words"] if totals.get("ref_words") else None


def _package_backend(make: Callable[[Path], Transcriber], metric: Metric, name: str) -> Transcriber:
    """A backend on registry weights; a missing package is reported like missing weights."""
    try:
        return make(metric.shipped_weights_file(name))
    except ConfigError as exc:
        raise MissingWeightsError(f"{metric.id}: {exc}") from exc


class _LargeV3CT2(_WER):
    weights = ("whisper-large-v3-ct2",)

    def backend(self, device: str) -> Transcriber:
        # the registry entry's file is model.bin; faster-whisper takes its directory
        return _package_backend(lambda p: FasterWhisper(p.parent, device), self, "whisper-large-v3-ct2")


@register_metric
class WERLargeV3(_LargeV3CT2):
    id = "wer@whisper-large-v3-ct2/beam5/norm-en"
    default = True
    description = "word error rate of Whisper large-v3 (faster-whisper, beam 5) on the generated speech"


@register_metric
class WERLargeV3SeedTTS(_LargeV3CT2):
    id = "wer@whisper-large-v3-ct2/beam5/norm-seedtts"
    scheme = "seedtts"
    description = "WER as above, with seed-tts-eval's text normalisation"


@register_metric
class WERLargeV3OpenAI(_WER):
    id = "wer@whisper-large-v3-openai/greedy/norm-whisper"
    weights = ("whisper-large-v3",)
    scheme = "whisper"
    description = "WER of openai-whisper large-v3 (greedy) with Whisper's English normaliser"

    def backend(self, device: str) -> Transcriber:
        return _package_backend(lambda p: OpenAIWhisper(p, device), self, "whisper-large-v3")


class CT2DirWER(_WER):
    """WER with any CTranslate2 Whisper directory (`wer@ct2:DIR[:SCHEME]`)."""

    description = "word error rate with a user-supplied CTranslate2 Whisper model"

    def __init__(self, model_dir: str, scheme: str = "en", random_weights: bool = False) -> None:
        super().__init__(random_weights)
        if scheme not in SCHEMES:
            raise ConfigError(f"unknown text normalisation '{scheme}'; known: {', '.join(SCHEMES)}")
        self.model_dir, self.scheme = Path(model_dir).expanduser(), scheme
        self.id = f"wer@ct2:{self.model_dir}:{scheme}"  # until setup() has hashed the model

    def backend(self, device: str) -> Transcriber:
        asr = FasterWhisper(self.model_dir, device)
        self.id = f"wer@{asr.id}/norm-{self.scheme}"
        self.loaded_weights[f"ct2:{self.model_dir.name}"] = asr.sha256
        return asr


def from_spec(spec: str, random_weights: bool = False) -> CT2DirWER:
    """`wer@ct2:DIR` or `wer@ct2:DIR:SCHEME` -> a metric on that model directory."""
    rest = spec.removeprefix("wer@ct2:")
    model_dir, _, scheme = rest.rpartition(":") if rest.rsplit(":", 1)[-1] in SCHEMES else (rest, "", "en")
    return CT2DirWER(model_dir, scheme or "en", random_weights)
