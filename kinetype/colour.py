"""Y'CbCr -> R'G'B': the colour matrices (ITU-R BT.601, BT.709) and the limited-range levels, in one
place for both conversions: the numpy one in :mod:`kinetype.media` (8-bit fixed point, whole
frames for files and previews) and the torch one in :mod:`kinetype.decode` (the loader's, float
or 16-bit fixed point). Plain numbers, no torch: the render side imports ``media``."""

from __future__ import annotations

# Rows R, G, B; columns Y, Cb, Cr, for Y in [0, 1] and Cb, Cr in [-0.5, 0.5].
YUV_TO_RGB: dict[str, tuple[tuple[float, float, float], ...]] = {
    "bt601": ((1.0, 0.0, 1.402), (1.0, -0.344136, -0.714136), (1.0, 1.772, 0.0)),
    "bt709": ((1.0, 0.0, 1.5748), (1.0, -0.187324, -0.468124), (1.0, 1.8556, 0.0)),
}

# 8-bit limited ("MPEG") range: Y = 16 + 219 y, Cb/Cr = 128 + 224 c. Full ("JPEG") range: 0 + 255 y, 128 + 255 c.
LUMA_BLACK, LUMA_LEVELS, CHROMA_LEVELS, CHROMA_ZERO = 16, 219, 224, 128


def fixed_point_weights(matrix: str = "bt709", bits: int = 8) -> tuple[int, int, int, int, int]:
    """8-bit limited-range Y'CbCr -> 8-bit RGB weights scaled by ``2**bits`` and rounded: (per luma
    step, R per Cr, G per Cb, G per Cr, B per Cb). BT.709 at 8 bits: (298, 459, -55, -136, 541)."""
    (_, _, r_cr), (_, g_cb, g_cr), (_, b_cb, _) = YUV_TO_RGB[matrix]
    luma, chroma = (1 << bits) * 255 / LUMA_LEVELS, (1 << bits) * 255 / CHROMA_LEVELS
    return (round(luma), round(r_cr * chroma), round(g_cb * chroma), round(g_cr * chroma), round(b_cb * chroma))
