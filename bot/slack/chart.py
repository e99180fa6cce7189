"""The digest's burn-up chart: cumulative MQLs against the target line and the pace band,
and the forecast's projection from today with its likely range."""

from __future__ import annotations

import io

from bot.reports.digest import Burnup


def burnup_png(burnup: Burnup) -> bytes:
    """A small PNG that reads on a phone (matplotlib's Agg backend: no display needed)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.4), dpi=100, layout="constrained")
    axes = figure.subplots()
    # x = the end of each day (0 = the period's start); a value shows across the day it ends
    x = list(range(len(burnup.days) + 1))
    expected = [0.0, *burnup.expected]
    low = [value * (1 - burnup.tolerance) for value in expected]
    high = [value * (1 + burnup.tolerance) for value in expected]
    axes.fill_between(x, low, high, step="pre", color="#2eb67d", alpha=0.15, label="on track")
    axes.step(x, expected, where="pre", color="#2eb67d", linewidth=1.2, label="expected")
    axes.axhline(burnup.target, color="#616061", linewidth=0.8, linestyle="--", label="target")
    if burnup.actual:
        done = x[: len(burnup.actual) + 1]
        actual = [0, *burnup.actual]
        axes.step(done, actual, where="pre", color="#1264a3", linewidth=2.2, label="MQLs")
    likely_high = [high for _, _, high in burnup.projection]  # also bounds the y axis
    if burnup.projection:
        now = float(burnup.actual[-1]) if burnup.actual else 0.0
        projected = [now, *(expected for expected, _, _ in burnup.projection)]
        likely_low = [now, *(low for _, low, _ in burnup.projection)]
        days = x[len(burnup.actual) : len(burnup.actual) + len(projected)]
        axes.fill_between(
            days, likely_low, [now, *likely_high], color="#1264a3", alpha=0.12, label="likely"
        )
        axes.plot(days, projected, color="#1264a3", linewidth=1.2, linestyle=":", label="projected")
    axes.set_title(f"MQLs, {burnup.label}", loc="left", fontsize=11)
    axes.set_xlim(0, len(burnup.days))
    axes.set_ylim(0, max([burnup.target, *high, *burnup.actual, *likely_high, 1]) * 1.05)
    axes.set_xlabel("day of the period", fontsize=8)
    axes.tick_params(labelsize=8)
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
