"""The measures of `kinetype eval`: pure functions of readings, masks and colours.

* legibility — word accuracy (exact, case-insensitive, look-alikes merged) and normalised edit
  distance, NED = 1 - edit distance / max(len), as reported by the image-text literature
  (AnyText, arXiv 2311.03054 §4; TextDiffuser), per frame and per clip (a vote over frames);
* motion fidelity — intersection over union of two masks;
* colour fidelity — CIEDE2000 ΔE (Sharma, Wu & Dalal 2005, "The CIEDE2000 color-difference
  formula: implementation notes, supplementary test data, and mathematical observations");
* temporal stability — flicker: the mean frame-to-frame change where the reference does not move.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

# --- legibility -------------------------------------------------------------------------------


def clean_reading(text: str) -> str:
    """An OCR reading as compared with the word: whitespace removed (readers split wide tracking
    into several words; the engine draws one word)."""
    return "".join(text.split())


def merge_lookalikes(text: str, alike: Mapping[str, str]) -> str:
    """Case-fold ``text`` and replace each character by its look-alike class representative
    (``alike`` from :func:`kinetype.eval.lookalikes.lookalike_map`: lower-case keys)."""
    return "".join(alike.get(ch, ch) for ch in text.lower())


def word_scores(read: str, word: str, alike: Mapping[str, str] | None = None) -> dict[str, float]:
    """Accuracy of one reading of ``word``: exact, case-insensitive (``ci``), look-alikes merged
    (``merged``, case-insensitive too), each 0 or 1, and case-insensitive NED in [0, 1]."""
    read = clean_reading(read)
    merged = merge_lookalikes(read, alike or {}) == merge_lookalikes(word, alike or {})
    return {"exact": float(read == word), "ci": float(read.lower() == word.lower()), "merged": float(merged),
            "ned": ned(read.lower(), word.lower())}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def ned(read: str, word: str) -> float:
    """Normalised edit distance similarity: 1 - distance / max(len); 1 for equal strings, 0 for
    nothing in common (and for an empty reading of a word)."""
    n = max(len(read), len(word))
    return 1.0 if n == 0 else 1.0 - edit_distance(read, word) / n


def vote(readings: Sequence[tuple[str, float]]) -> str:
    """The clip's reading from its frames' (text, confidence in [0, 1]) readings: each frame votes
    1 + confidence for its text (agreement counts first, confidence breaks ties); ties between
    equal totals go to the first text read."""
    if not readings:
        return ""
    votes: dict[str, float] = defaultdict(float)
    for text, conf in readings:
        votes[clean_reading(text)] += 1.0 + max(float(conf), 0.0)
    return max(votes.items(), key=lambda kv: kv[1])[0]


# --- masks ------------------------------------------------------------------------------------


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape; 1.0 when both are empty."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion of the last two axes by a (2r+1)² square, as r steps of 3×3 (rows, then
    columns); outside the image counts as unset."""
    out = np.asarray(mask, bool).copy()
    for _ in range(radius):
        rows = out.copy()
        rows[..., 1:, :] &= out[..., :-1, :]
        rows[..., :-1, :] &= out[..., 1:, :]
        rows[..., [0, -1], :] = False
        out = rows.copy()
        out[..., :, 1:] &= rows[..., :, :-1]
        out[..., :, :-1] &= rows[..., :, 1:]
        out[..., :, [0, -1]] = False
    return out


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of the last two axes by a (2r+1)² square (outside the image counts as unset)."""
    m = np.asarray(mask, bool)
    r = radius
    padded = np.pad(~m, [(0, 0)] * (m.ndim - 2) + [(r, r), (r, r)], constant_values=True)
    return ~erode(padded, r)[..., r:r + m.shape[-2], r:r + m.shape[-1]] if r else m.copy()


def frame_ious(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(T,) IoU per frame of two (T, H, W) mask stacks."""
    return np.array([mask_iou(f, t) for f, t in zip(found, truth)], dtype=np.float64)


# --- colour -----------------------------------------------------------------------------------

_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])


def srgb_to_lab(rgb) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours (..., 3) in 0..255."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _SRGB_TO_XYZ.T / _D65_WHITE
    eps = (6 / 29) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def ciede2000(lab1, lab2) -> np.ndarray:
    """CIEDE2000 colour difference of L*a*b* colours (..., 3), k_L = k_C = k_H = 1 (Sharma et al.
    2005, equations 2-21; the hue mean and difference follow their notes for the 180° cases)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    c_bar7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))  # eq. 4: a* stretched for neutral colours
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chroma0 = (c1p * c2p) == 0  # a neutral colour has no hue: its hue terms are 0

    dLp, dCp = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma0, 0.0, dh)
    dHp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)

    Lbar, Cbar = (L1 + L2) / 2, (c1p + c2p) / 2
    hsum = h1p + h2p
    hbar = np.where(np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2))
    hbar = np.where(chroma0, hsum, hbar)
    t = (1 - 0.17 * np.cos(np.radians(hbar - 30)) + 0.24 * np.cos(np.radians(2 * hbar))
         + 0.32 * np.cos(np.radians(3 * hbar + 6)) - 0.20 * np.cos(np.radians(4 * hbar - 63)))
    d_theta = 30 * np.exp(-(((hbar - 275) / 25) ** 2))
    rc = 2 * np.sqrt(Cbar**7 / (Cbar**7 + 25.0**7))
    sl = 1 + 0.015 * (Lbar - 50) ** 2 / np.sqrt(20 + (Lbar - 50) ** 2)
    sc = 1 + 0.045 * Cbar
    sh = 1 + 0.015 * Cbar * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt((dLp / sl) ** 2 + (dCp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dCp / sc) * (dHp / sh))


def delta_e(rgb1, rgb2) -> np.ndarray:
    """CIEDE2000 between sRGB colours (..., 3) in 0..255."""
    return ciede2000(srgb_to_lab(rgb1), srgb_to_lab(rgb2))


def mean_colour(frames: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Mean sRGB colour (3,) of ``frames`` (..., H, W, 3) where ``mask`` (..., H, W) is set; None
    when it is set nowhere."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return None
    return np.asarray(frames, dtype=np.float64)[mask].mean(axis=0)


# --- temporal stability -----------------------------------------------------------------------


def flicker(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute change between consecutive ``frames`` (T, H, W, 3), in 0..255 levels averaged
    over channels, over the pixels and frame pairs where ``reference`` (same shape) does not change
    at all: anything that moves there is flicker. NaN when the reference changes everywhere."""
    frames = np.asarray(frames, dtype=np.int16)
    reference = np.asarray(reference)
    if frames.shape != reference.shape:
        raise ValueError(f"frames {frames.shape} and reference {reference.shape} differ in shape")
    still = (reference[1:] == reference[:-1]).all(axis=-1)  # (T-1, H, W)
    n = np.count_nonzero(still)
    if n == 0:
        return float("nan")
    change = np.abs(frames[1:] - frames[:-1]).mean(axis=-1)  # (T-1, H, W)
    return float(change[still].sum() / n)


def loop_seam(frames: np.ndarray) -> float:
    """How well a clip (T, H, W, 3) loops: the mean absolute change from its last frame back to its
    first, over the median change between consecutive frames (0-255 levels, averaged over pixels and
    channels). At most 1: the jump back is no larger than a typical step. NaN for a still clip."""
    frames = np.asarray(frames, dtype=np.int16)
    steps = np.abs(frames[1:] - frames[:-1]).mean(axis=(1, 2, 3))  # (T-1,)
    typical = float(np.median(steps)) if len(steps) else 0.0
    if typical == 0.0:
        return float("nan")
    return float(np.abs(frames[0] - frames[-1]).mean() / typical)


def frame_mae(frame: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute difference of two (H, W, 3) uint8 frames, in 0-255 levels."""
    return float(np.abs(np.asarray(frame, np.int16) - np.asarray(target, np.int16)).mean())
