"""kinetype: open, reproducible kinetic typography — engine, dataset, model."""

__version__ = "0.1.0"
