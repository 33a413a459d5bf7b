"""Comparing a cell's figure with its approved image. Pure functions, no Django.

The rule (shared/DESIGN.md): the two PNGs must have the same size, then their
difference must stay within a tolerance that ignores anti-aliasing and font-hinting noise but
catches a moved curve, a changed axis range or a dropped legend.

Why RMS (as matplotlib's own ``matplotlib.testing.compare.compare_images``) and not SSIM:
- it needs nothing beyond NumPy and Pillow, which matplotlib already brings; scikit-image
  would add a large dependency to every worker image for one function;
- its scale is the one matplotlib's test suite documents tolerances in (RMS of 0-255 pixel
  values), so an author can reason about ``figtol=`` from a well-known reference;
- SSIM is built to forgive structural changes that keep a "similar look" (it compares local
  means, contrasts and correlations in windows): a legend that disappears from a busy plot or
  a curve moved by one sample changes little of that, exactly what we must catch.

A raw per-pixel RMS is far too strict, though: a figure.dpi jitter of 0.05 that keeps the
pixel size moves every glyph and line by a fraction of a pixel (raw RMS 15), and a font
hinting change rewrites every glyph's edge pixels (worst region 32), while a dropped legend
changes few pixels and is diluted over the whole image (raw RMS 5). So both images are first
turned to grey and blurred (Gaussian, BLUR_SIGMA_PX): sub-pixel and anti-aliasing noise
averages out, while a curve, a tick label or a legend that moved or vanished still leaves
a blob. Then the RMS is taken per tile (TILE_PX square) and the worst tile is compared with
the tolerance, so a local change is not diluted by a large unchanged background.
Measured with matplotlib 640x480 figures (tests/runner/test_figures.py): identical re-runs
give 0; dpi jitter within the same size and font hinting changes give a worst tile <= 3.3;
a curve moved by one data point, a changed y-limit and a dropped legend give >= 20.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


# Default tolerance: the worst tile's RMS on the 0-255 scale after the blur, between the
# measured noise (<= 3.3) and the smallest real change (>= 20). `figtol=` in a cell overrides it.
DEFAULT_FIGTOL = 8.0
TILE_PX = 64
BLUR_SIGMA_PX = 2.5
# Pixels of the difference image are scaled so small differences are visible.
_DIFF_GAIN = 10


class FigureReadError(ValueError):
    """An image is not a readable PNG (a corrupt or missing approved figure)."""


@dataclass(frozen=True)
class FigureComparison:
    match: bool
    reason: str  # a sentence for the author: why it matched or not
    rms: float | None = None  # over the whole image
    worst_tile_rms: float | None = None
    tolerance: float = DEFAULT_FIGTOL
    size: tuple[int, int] | None = None  # (width, height) of the new figure
    approved_size: tuple[int, int] | None = None

    def as_dict(self) -> dict:
        return {
            "match": self.match,
            "reason": self.reason,
            "rms": self.rms,
            "worst_tile_rms": self.worst_tile_rms,
            "tolerance": self.tolerance,
            "size": list(self.size) if self.size else None,
            "approved_size": list(self.approved_size) if self.approved_size else None,
        }


def decode_png(png: bytes) -> np.ndarray:
    """An RGB float array (height, width, 3) on the 0-255 scale; alpha composited on white."""
    import numpy as np  # here, not at the top: the web and manage.py processes import this module
    from PIL import Image, UnidentifiedImageError

    if not png:
        raise FigureReadError("the image is empty")
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG":
                raise FigureReadError(f"the image is a {image.format}, not a PNG")
            image.load()
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, FigureReadError):
            raise
        raise FigureReadError(f"the image is not a readable PNG ({exc})") from exc
    alpha = rgba[..., 3:4] / 255.0
    return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)


def _blur(grey: np.ndarray, sigma: float = BLUR_SIGMA_PX) -> np.ndarray:
    """Separable Gaussian blur as a sum of shifted copies (no SciPy needed)."""
    import numpy as np

    radius = int(3 * sigma)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    padded = np.pad(grey, radius, mode="edge")
    height, width = grey.shape
    rows = sum(w * padded[:, radius + o : radius + o + width] for o, w in zip(offsets, kernel, strict=True))
    return sum(w * rows[radius + o : radius + o + height, :] for o, w in zip(offsets, kernel, strict=True))


def _worst_tile_rms(squared: np.ndarray) -> float:
    import numpy as np

    height, width = squared.shape
    worst = 0.0
    for top in range(0, height, TILE_PX):
        for left in range(0, width, TILE_PX):
            tile = squared[top : top + TILE_PX, left : left + TILE_PX]
            worst = max(worst, float(np.sqrt(tile.mean())))
    return worst


def compare_figures(
    new_png: bytes, approved_png: bytes, *, tolerance: float | None = None
) -> FigureComparison:
    """Does the new figure match the approved one? Raises FigureReadError for a bad image."""
    import numpy as np

    tolerance = DEFAULT_FIGTOL if tolerance is None else tolerance
    approved = decode_png(approved_png)
    new = decode_png(new_png)
    size = (new.shape[1], new.shape[0])
    approved_size = (approved.shape[1], approved.shape[0])
    if size != approved_size:
        return FigureComparison(
            False,
            "the figure is {}x{} pixels, the approved one {}x{}".format(*size, *approved_size),
            tolerance=tolerance,
            size=size,
            approved_size=approved_size,
        )
    squared = (_blur(new.mean(axis=2)) - _blur(approved.mean(axis=2))) ** 2
    rms = float(np.sqrt(squared.mean()))
    worst = _worst_tile_rms(squared)
    match = rms <= tolerance and worst <= tolerance
    if match:
        reason = (
            f"matches the approved figure (RMS {rms:.2f}, worst region {worst:.2f}, tolerance {tolerance:g})"
        )
    else:
        reason = (
            f"differs from the approved figure: RMS {rms:.2f}, worst region {worst:.2f} "
            f"(tolerance {tolerance:g})"
        )
    return FigureComparison(match, reason, rms, worst, tolerance, size, approved_size)


def difference_png(new_png: bytes, approved_png: bytes) -> bytes | None:
    """A PNG showing where the two differ (amplified), or None when sizes differ or unreadable."""
    import numpy as np
    from PIL import Image

    try:
        new = decode_png(new_png)
        approved = decode_png(approved_png)
    except FigureReadError:
        return None
    if new.shape != approved.shape:
        return None
    delta = np.abs(new - approved).max(axis=2)
    # White where equal, dark where different: readable on the admin's light background.
    image = 255 - np.clip(delta * _DIFF_GAIN, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
