"""``kinetype eval``: measured legibility, motion and colour of engine renders and of generated clips.

The file list is the method: ``readers`` (OCR: PP-OCR through rapidocr, Tesseract), ``lookalikes``
(letters a font draws alike, from its outlines), ``measures`` (word accuracy, NED, IoU, CIEDE2000,
flicker: pure functions), ``regions`` (finding the text in a frame without the engine's masks),
``evalset`` (held-out words and motions), ``score`` (one clip -> one row), ``report`` (tables and
files), ``run`` (the parallel drivers ``evaluate_renders``, ``evaluate_autoencoder`` and ``evaluate_model``).

Importing this package is cheap: the drivers are imported on first use.
"""

from __future__ import annotations

__all__ = ["EvalReport", "evaluate_autoencoder", "evaluate_model", "evaluate_renders"]


def __getattr__(name: str):
    if name in ("evaluate_autoencoder", "evaluate_model", "evaluate_renders"):
        from kinetype.eval import run

        return getattr(run, name)
    if name == "EvalReport":
        from kinetype.eval.report import EvalReport

        return EvalReport
    raise AttributeError(name)
