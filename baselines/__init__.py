"""Generators: the benchmark's controls (gt, static, shuffled), precomputed outputs, and (next)
the baseline adapters and the paper's model. Importing this package registers them all."""

from baselines import gt, precomputed, shuffled, static  # noqa: F401
