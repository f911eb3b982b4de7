"""Charts for `report.html` as inline SVG: no script, no font or image fetched, so the report renders offline
under its Content-Security-Policy and prints as it shows.

Only draws what it is given; every number comes from `jingzhun.reporting.figures`. Labels are escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

BLUE, ORANGE, GREY, RED, GREEN = "#2e75b6", "#ed7d31", "#a5a5a5", "#c00000", "#70ad47"
OUTCOME_COLORS = {"dispatched": BLUE, "no_action": GREEN, "review": ORANGE, "quarantined": GREY}
FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif" font-size="12"'


def _text_width(text: str) -> int:
    return sum(12 if ord(ch) > 0x2E80 else 7 for ch in text)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hbar(
    items: Sequence[tuple[str, float | None]],
    *,
    fmt: Callable[[float | None], str] = percent,
    scale: float | None = None,
    title: str = "",
    color: str = BLUE,
) -> Markup:
    """One horizontal bar per item; `scale` is the value of a full bar (1.0 for rates)."""
    if not items:
        return Markup("")
    label_w = max(_text_width(str(label)) for label, _ in items) + 12
    bar_w, row_h = 420, 22
    top = max((v or 0) for _, v in items)
    full = scale or top or 1
    height = row_h * len(items) + 10
    parts = [f'<svg role="img" width="{label_w + bar_w + 80}" height="{height}" {FONT}><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_h
        w = bar_w * (value or 0) / full
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#eef2f7"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{escape(fmt(value))}</text>'
        )
    return Markup("".join(parts) + "</svg>")


def stacked(
    items: Sequence[tuple[str, dict[str, int]]], colors: dict[str, str], names: dict[str, str], *, title: str = ""
) -> Markup:
    """One 100 % bar per item, split into its parts, with a legend: e.g. outcomes per source."""
    if not items:
        return Markup("")
    label_w = max(_text_width(str(label)) for label, _ in items) + 12
    bar_w, row_h = 480, 24
    height = row_h * len(items) + 34
    parts = [f'<svg role="img" width="{label_w + bar_w + 20}" height="{height}" {FONT}><title>{escape(title)}</title>']
    for i, (label, counts) in enumerate(items):
        y, x = 5 + i * row_h, float(label_w)
        total = sum(counts.values()) or 1
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        for key, color in colors.items():
            w = bar_w * counts.get(key, 0) / total
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
                    f"<title>{escape(names[key])} {counts.get(key, 0)}</title></rect>"
                )
                if w > 34:
                    parts.append(f'<text x="{x + 4:.1f}" y="{y + 16}" fill="#fff">{counts.get(key, 0)}</text>')
            x += w
    x, y = float(label_w), height - 10
    for key, color in colors.items():
        parts.append(
            f'<rect x="{x:.0f}" y="{y - 10}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.0f}" y="{y}">{escape(names[key])}</text>'
        )
        x += _text_width(names[key]) + 34
    return Markup("".join(parts) + "</svg>")


# One color per series of a trend: the sources, or median and P90.
SERIES_COLORS = (BLUE, ORANGE, GREEN, RED, GREY, "#7030a0")


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    fmt: Callable[[float | None], str] = percent,
    scale: float | None = None,
    title: str = "",
    target: tuple[float, str] | None = None,
    width: int = 520,
) -> Markup:
    """Trends over runs, oldest left: one line per series (a gap where a value is missing), a legend with each
    series' latest value, every point's value in its tooltip; `target` draws a dashed reference line."""
    known = [v for _, values in series for v in values if v is not None]
    if not known:
        return Markup('<p class="note">（尚无数据）</p>')
    height, left, bottom, top_pad = 200, 56, 56, 12
    top = (max([*known, target[0] if target else 0]) * 1.15 if scale is None else scale) or 1
    step = (width - left - 16) / max(len(labels) - 1, 1)
    every = max(1, -(-len(labels) // 8))  # at most eight date labels under the axis

    def x_of(i: int) -> float:
        return left + i * step if len(labels) > 1 else left + (width - left - 16) / 2

    def y_of(v: float) -> float:
        return top_pad + (height - bottom - top_pad) * (1 - v / top)

    parts = [f'<svg role="img" width="{width}" height="{height}" {FONT}><title>{escape(title)}</title>']
    for tick in (0, top / 2, top):
        parts.append(
            f'<line x1="{left}" y1="{y_of(tick):.1f}" x2="{width - 10}" y2="{y_of(tick):.1f}" '
            f'stroke="{"#999" if tick == 0 else "#e3e3e3"}"/><text x="{left - 6}" y="{y_of(tick) + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(tick))}</text>'
        )
    if target:
        parts.append(
            f'<line x1="{left}" y1="{y_of(target[0]):.1f}" x2="{width - 10}" y2="{y_of(target[0]):.1f}" '
            f'stroke="{RED}" stroke-dasharray="5,4"/><text x="{width - 12}" y="{y_of(target[0]) - 4:.1f}" '
            f'text-anchor="end" fill="{RED}">{escape(target[1])}</text>'
        )
    for i, label in enumerate(labels):
        if (len(labels) - 1 - i) % every == 0:  # counted back from the latest run, which is always labelled
            parts.append(
                f'<text x="{x_of(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    legend_x = float(left)
    for (name, values), color in zip(series, SERIES_COLORS, strict=False):
        parts.append(f'<g data-series="{escape(name)}">')
        run: list[str] = []  # the points of one unbroken stretch of the line
        for i, value in enumerate([*values, None]):
            if value is not None:
                run.append(f"{x_of(i):.1f},{y_of(value):.1f}")
                parts.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="3" fill="{color}">'
                    f"<title>{escape(name)} {escape(labels[i])}：{escape(fmt(value))}</title></circle>"
                )
            elif run:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
        latest = next((v for v in reversed(values) if v is not None), None)
        entry = f"{name} {fmt(latest)}"
        parts.append(
            f'<rect x="{legend_x:.0f}" y="{height - 20}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14:.0f}" y="{height - 10}">{escape(entry)}</text></g>'
        )
        legend_x += _text_width(entry) + 30
    return Markup("".join(parts) + "</svg>")


def columns(items: Sequence[tuple[str, int]], *, title: str = "", colors: Sequence[str] | None = None) -> Markup:
    """Vertical bars with counts on top: a distribution over ordered bins."""
    if not items:
        return Markup("")
    width, height, bottom, gap = 620, 200, 40, 10
    col_w = (width - 20) / len(items) - gap
    top = max(v for _, v in items) or 1
    parts = [f'<svg role="img" width="{width}" height="{height}" {FONT}><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        x = 10 + i * (col_w + gap)
        h = (height - bottom - 20) * value / top
        fill = colors[i] if colors else BLUE
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
            f'fill="{fill}"/><text x="{x + col_w / 2:.1f}" y="{height - bottom - h - 4:.1f}" '
            f'text-anchor="middle">{value}</text><text x="{x + col_w / 2:.1f}" y="{height - bottom + 18}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return Markup("".join(parts) + "</svg>")
