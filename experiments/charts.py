"""What every figure of the experiments shares, so that none can mislead.

- Value axes always include zero (counts and shares start at zero; a measure that can be
  negative gets a zero line): a gap of 0.002 in a Gini or 0.3 points in a share is drawn as the
  small gap it is. Differences are drawn as differences, with their intervals, on their own axes.
- Labels and units come from the measure registry (``commissim.model.measures.MEASURES``);
  shares are shown as % (the registry's ``scale``).
- Time runs along financial years (``2022-23`` ...), labelled as such.
- Titles state what was run: seeds, years and any parameter overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["measure", "value_label", "difference_unit", "difference_label", "include_zero", "year_axis",
           "overrides_text", "wrap", "tight_png", "PNG_COMPRESS_LEVEL"]

# zlib level of the PNGs tight_png writes. Its encoder (_png) filters every row by the row above (PNG filter
# "Up": a figure's rows mostly repeat, so most bytes become zeros) and deflates once: on compare's 26 figures
# 0.25 CPU-s against 0.55 for Pillow's encoder (level 1, a filter chosen row by row), 3.59 MB against 3.55.
PNG_COMPRESS_LEVEL = 3


def measure(name: str):
    from commissim.model.measures import MEASURE_BY_NAME

    return MEASURE_BY_NAME[name]


def value_label(name: str) -> str:
    """``Label (unit)`` of a measure, e.g. ``Out-of-area share of spend (%)``."""
    return measure(name).axis_label


def difference_unit(name: str) -> str:
    """The unit of a difference of the measure: percentage points for shares and % changes."""
    unit = measure(name).unit
    if unit.startswith("%"):
        return "percentage points" + unit[1:]
    return unit


def difference_label(name: str, ref: str) -> str:
    unit = difference_unit(name)
    return f"difference from {ref}" + (f" ({unit})" if unit else "")


def include_zero(ax, values: Iterable[float] | None = None, *, axis: str = "y", pad: float = 0.06) -> None:
    """Make the value axis include zero (counts and shares start at zero), with a little headroom;
    draw a zero line when the data go below zero."""
    vals = np.asarray([v for v in (values if values is not None else []) if v is not None and np.isfinite(v)],
                      dtype=float)
    if vals.size:  # the data, not the autoscaled limits (their margins would dip below zero)
        lo, hi = float(vals.min()), float(vals.max())
    else:
        lo, hi = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi = lo + 1.0
    span = hi - lo
    lo2 = lo - pad * span if lo < 0 else 0.0
    hi2 = hi + pad * span if hi > 0 else 0.0
    if axis == "y":
        ax.set_ylim(lo2, hi2)
        if lo < 0:
            ax.axhline(0, color="black", lw=0.8, zorder=1)
    else:
        ax.set_xlim(lo2, hi2)
        if lo < 0:
            ax.axvline(0, color="black", lw=0.8, zorder=1)


def year_axis(ax, rounds: Sequence[int], labels: Sequence[str], *, label: bool = True, every: int | None = None,
              fontsize: float = 8) -> None:
    """Financial years along the x axis (``round`` positions, ``2023-24`` labels); the first and the last
    year are always labelled."""
    rounds, labels = list(rounds), list(labels)
    step = every or (1 if len(rounds) <= 8 else 2)
    ticks = list(range(0, len(rounds), step))
    if rounds and ticks[-1] != len(rounds) - 1:  # the last year is always labelled (and the first)
        if len(rounds) - 1 - ticks[-1] < step / 2 and len(ticks) > 1:
            ticks[-1] = len(rounds) - 1
        else:
            ticks.append(len(rounds) - 1)
    ax.set_xticks([rounds[i] for i in ticks])
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right", fontsize=fontsize)
    if rounds:
        ax.set_xlim(rounds[0] - 0.3, rounds[-1] + 0.3)
    if label:
        ax.set_xlabel("financial year", fontsize=fontsize + 1)


def overrides_text(overrides: dict[str, Any] | None) -> str:
    """``overrides: system_weight=10, growth_cap=0.3`` or ``scenario defaults (no overrides)``."""
    if not overrides:
        return "scenario defaults (no overrides)"
    return "overrides: " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in overrides.items())


def wrap(text: str, width: int = 110) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text


def tight_png(fig, *, dpi: float = 100, pad_inches: float | None = None,
              compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """``fig`` as PNG bytes, cropped to what it draws plus ``pad_inches`` of its background on every side
    (default ``rcParams["savefig.pad_inches"]``), as ``fig.savefig(..., bbox_inches="tight")`` crops it, but
    drawn once.

    ``bbox_inches="tight"`` lays the whole figure out once to find its extent (every artist's box) and then
    draws it: about a third of the time of saving a figure. Here the figure is drawn once and the image is
    cropped to its ink (every pixel not of the figure's background colour): the same pixels, and margins that
    follow what is drawn rather than the boxes of the texts (a few pixels tighter above and below a line of
    text). A title or axis label wider than the figure (which tight saving shows whole, on a wider canvas) is
    measured first, and the figure drawn on a canvas that holds it; anything else drawn up to an edge of the
    canvas (it may reach beyond it) gets one more drawing, on a canvas an inch larger on that side. The PNG is
    RGB (the background is opaque) at zlib level ``compress_level`` (:func:`_png`). A figure still drawn up to an
    edge, or whose background is not opaque, is saved by ``savefig`` with ``bbox_inches="tight"``.
    """
    import io

    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pad = mpl.rcParams["savefig.pad_inches"] if pad_inches is None else pad_inches
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    face = mpl.colors.to_rgba(fig.get_facecolor())
    if face[3] == 1.0:
        before = fig.dpi
        fig.dpi = dpi
        try:
            image = _draw_cropped(fig, canvas, tuple(round(c * 255) for c in face[:3]), round(pad * dpi))
        finally:
            fig.dpi = before
        if image is not None:
            return _png(image, dpi, f"Matplotlib version{mpl.__version__}, https://matplotlib.org/", compress_level)
    # drawn to an edge, or see-through: matplotlib's own tight save
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=pad,
                pil_kwargs={"compress_level": compress_level})
    return buf.getvalue()


def _png(rgb: np.ndarray, dpi: float, software: str, level: int) -> bytes:
    """An RGB image (height x width x 3, uint8) as PNG bytes, with the chunks matplotlib's PNGs carry (the
    software, the resolution). Every row is filtered by the row above (filter type 2, "Up") and the whole
    deflated at zlib level ``level``."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = rgb.shape
    rows = rgb.reshape(h, w * 3)
    raw = np.empty((h, w * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 2  # each row: its filter type, then its bytes less those of the row above (modulo 256)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    per_metre = int(dpi / 0.0254 + 0.5)
    return b"".join([b"\x89PNG\r\n\x1a\n",
                     chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)),  # 8-bit RGB
                     chunk(b"tEXt", b"Software\0" + software.encode("latin-1")),
                     chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
                     chunk(b"IDAT", zlib.compress(raw.data, level)),
                     chunk(b"IEND", b"")])


def _titles_box(fig, renderer):
    """The box (pixels) of the figure and of its titles and labels (the figure's own texts, the axes' titles,
    the axis labels along their axis) together: larger than the figure when one of them reaches beyond it."""
    from matplotlib.transforms import Bbox

    texts = [fig._suptitle, fig._supxlabel, fig._supylabel, *fig.texts]
    labels = []
    for ax in fig.axes:
        if ax.get_visible():
            texts += [ax.title, ax._left_title, ax._right_title]
            labels += [(ax.xaxis.label, 0), (ax.yaxis.label, 1)]
    boxes = [fig.bbox] + [t.get_window_extent(renderer) for t in texts
                          if t is not None and t.get_visible() and _may_be_wider(t, fig)]
    # an axis label may be wider than its axes, at the figure's edge: along the axis only (the draw places it
    # across the axis, beyond the tick labels)
    for label, along in labels:
        if label.get_visible() and label.get_text():
            (x0, y0), (x1, y1) = label.get_window_extent(renderer).get_points()
            boxes.append(Bbox([[x0, fig.bbox.y0], [x1, fig.bbox.y1]]) if along == 0
                         else Bbox([[fig.bbox.x0, y0], [fig.bbox.x1, y1]]))
    return Bbox.union(boxes)


def _may_be_wider(text, fig) -> bool:
    """Whether ``text`` may be longer than 4/5 of the figure: measured only then (an estimate that errs
    long: 0.75 em a character, DejaVu Sans's are about 0.6)."""
    lines = text.get_text().split("\n")
    longest = max(len(line) for line in lines) * text.get_fontsize() * 0.75 / 72 * fig.dpi
    along = fig.bbox.height if text.get_rotation() % 180 == 90 else fig.bbox.width
    return bool(text.get_text()) and longest > 0.8 * along


def _draw_cropped(fig, canvas, background: tuple[int, int, int], pad: int):
    """Draw ``fig`` on a canvas wide and tall enough for its titles and crop it to its ink (:func:`_ink`);
    when something else is drawn up to an edge, draw it once more on a canvas an inch larger on that side.
    None when the image still cannot be told to be whole (or is not opaque)."""
    from matplotlib import _tight_bbox
    from matplotlib.transforms import Bbox

    box = _titles_box(fig, canvas.get_renderer())
    for _ in range(2):
        grown = (box.x0 < fig.bbox.x0 - 0.5 or box.y0 < fig.bbox.y0 - 0.5 or box.x1 > fig.bbox.x1 + 0.5
                 or box.y1 > fig.bbox.y1 + 0.5)
        # beyond the figure: drawn on a canvas that holds it (as savefig draws a figure with a box)
        restore = _tight_bbox.adjust_bbox(fig, Bbox(box.padded(2).get_points() / fig.dpi), None) if grown else None
        try:
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            image, edges = _ink(rgba, background, pad)
        finally:
            if restore is not None:
                restore()
        if image is not None or not edges:
            return image
        inch = fig.dpi
        (x0, y0), (x1, y1) = box.get_points()
        box = Bbox([[x0 - inch * ("left" in edges), y0 - inch * ("bottom" in edges)],
                    [x1 + inch * ("right" in edges), y1 + inch * ("top" in edges)]])
    return None


def _ink(rgba, background: tuple[int, int, int], pad: int):
    """The RGB image ``rgba`` (an Agg buffer) cropped to the pixels that are not ``background``, with ``pad``
    pixels of background around them, and the edges drawn up to (where it may be cut off: then no image).
    No image either when it is not opaque or nothing is drawn."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or not rgba.flags.c_contiguous:
        return None, ()
    words = rgba.view(np.uint32)[:, :, 0]  # one 32-bit word per pixel: compare pixels whole
    bg = np.array([*background, 255], dtype=np.uint8).view(np.uint32)[0]
    ink = words != bg
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not rows.size:
        return None, ()
    h, w = ink.shape
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    edges = tuple(e for e, at in (("top", top == 0), ("bottom", bottom == h - 1), ("left", left == 0),
                                  ("right", right == w - 1)) if at)
    if edges:
        return None, edges  # drawn up to an edge: it may be cut off there
    box = rgba[top:bottom + 1, left:right + 1]
    if (box[:, :, 3] != 255).any():
        return None, ()
    # framed in whole pixels (32-bit words: rows copied as blocks), then RGB one channel at a time (numpy copies
    # a channel of 4-byte pixels several times faster than the three of them together)
    framed = np.full((box.shape[0] + 2 * pad, box.shape[1] + 2 * pad), bg, dtype=np.uint32)
    framed[pad:pad + box.shape[0], pad:pad + box.shape[1]] = words[top:bottom + 1, left:right + 1]
    framed_rgba = framed.view(np.uint8).reshape(*framed.shape, 4)
    out = np.empty((*framed.shape, 3), dtype=np.uint8)
    for channel in range(3):
        out[:, :, channel] = framed_rgba[:, :, channel]
    return out, ()
