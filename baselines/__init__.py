"""Generators: the benchmark's controls (gt, static, shuffled), precomputed outputs, and the
external systems (official code in managed environments, through workers). Importing this
package registers them all."""

from baselines import (coqui, espeak, gt, kokoro, precomputed, shuffled,  # noqa: F401
                       static, tortoise)
