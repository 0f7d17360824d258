"""Errors of the model side, each with a one-line message the CLI prints without a traceback."""

from kinetype.errors import KinetypeError


class ModelError(KinetypeError):
    """A missing, incomplete or corrupt model folder, or a model that cannot do what was asked."""


class TrainingError(KinetypeError):
    """A training run that cannot start or continue (bad config, no data, too many non-finite losses)."""
