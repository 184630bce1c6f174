"""Generators: the benchmark's controls (gt, static, shuffled), precomputed outputs, and the
external systems (official code in managed environments, through workers). Importing this
package registers them all."""

from baselines import (audio2head, coqui, eat, espeak, gt, hallo, kokoro,  # noqa: F401
                       mels, precomputed, sadtalker, shuffled, static, tortoise)
