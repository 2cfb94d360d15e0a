# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report's charts: one PNG per SLI over the incident's window (matplotlib, no display needed).

Each chart draws the SLI on all traffic (and the canary's, dashed), its threshold as a red line, and the rollback request
and the moment traffic was back on stable as vertical lines. Without data it is still a PNG, saying "No data for <sli>
between <t1> and <t2>", so the report never shows a blank where a chart should be. The PNGs carry no creation time, so the
same data gives the same bytes (the report's idempotence rests on it).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Mapping, Optional, Sequence

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    HAS_MATPLOTLIB = True
except ImportError:  # pragma: no cover - checked by the module
    HAS_MATPLOTLIB = False

SIZE = (7.2, 2.6)
DPI = 100
PNG_METADATA = {"Software": None}


def _times(points: Sequence[Sequence[float]], zone: Any) -> list:
    return [datetime.fromtimestamp(point[0], zone) for point in points]


def chart(name: str, description: str, points: Sequence[Sequence[float]], canary: Sequence[Sequence[float]], threshold: float,
          comparison: str, marks: Mapping[str, Optional[float]], window: tuple, zone: Any, zone_label: str) -> bytes:
    """The PNG of one SLI (``marks``: label -> epoch seconds of a vertical line; ``window``: (start, end) epoch seconds)."""
    figure = Figure(figsize=SIZE, dpi=DPI)
    axes = figure.add_subplot(1, 1, 1)
    start, end = (datetime.fromtimestamp(moment, zone) for moment in window)
    axes.set_xlim(start, end)
    if points:
        axes.plot(_times(points, zone), [point[1] for point in points], color="#1f6feb", linewidth=1.6, label="all traffic")
        if canary:
            axes.plot(_times(canary, zone), [point[1] for point in canary], color="#bf8700", linewidth=1.0, linestyle="--", label="canary")
        axes.axhline(threshold, color="#cf222e", linewidth=1.2, linestyle=":", label=f"threshold ({comparison} {threshold:g} breaches)")
        for (label, moment), color in zip(marks.items(), ("#8250df", "#1a7f37", "#57606a")):
            if moment is not None:
                axes.axvline(datetime.fromtimestamp(moment, zone), color=color, linewidth=1.2, label=label)
        axes.legend(loc="upper right", fontsize=7, framealpha=0.85)
    else:
        axes.text(0.5, 0.5, f"No data for {name}\nbetween {start:%Y-%m-%d %H:%M:%S} and {end:%H:%M:%S} {zone_label}",
                  ha="center", va="center", fontsize=11, color="#cf222e", transform=axes.transAxes)
        axes.set_yticks([])
    axes.set_title(f"{name}: {description}", fontsize=9, loc="left")
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=zone))
    axes.set_xlabel(zone_label, fontsize=7)
    axes.tick_params(labelsize=7)
    axes.grid(True, color="#eaeef2", linewidth=0.6)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata=PNG_METADATA)
    return buffer.getvalue()
