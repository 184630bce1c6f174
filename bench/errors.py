"""One exception type per failure class.

The runner catches these per sample and records them; anything else is a programming error and
is allowed to crash the run (see DESIGN.md).
"""

from __future__ import annotations


class BenchError(Exception):
    """Base class of the failures the runner records instead of crashing."""

    kind = "error"


class BadInputError(BenchError):
    """A dataset or generated file is unusable: unreadable, empty, no audio track, no face, ..."""

    kind = "bad_input"

    def __init__(self, path: str | None, cause: str):
        self.path = str(path) if path is not None else None
        self.cause = cause
        super().__init__(f"{self.path}: {cause}" if self.path else cause)


class NotApplicableError(BadInputError):
    """A usable input that the metric does not measure by definition (a silence metric on a clip
    with no silence): recorded as not applicable, not as a failure, and shown in the coverage."""

    kind = "not_applicable"


class MissingWeightsError(BenchError):
    """A metric needs pretrained weights that are not installed; the message says how to get them."""

    kind = "missing_weights"


class GeneratorError(BenchError):
    """A generator failed to produce its outputs for one sample."""

    kind = "generator_failed"

    def __init__(self, message: str, log_tail: str | None = None):
        super().__init__(message)
        self.log_tail = log_tail  # last lines of an external process's output, kept in meta


class ManifestError(BenchError):
    """A split manifest is malformed or does not match the data on disk."""

    kind = "manifest"


class ConfigError(BenchError):
    """The user's configuration is inconsistent (unknown dataset, model, metric, missing root)."""

    kind = "config"
