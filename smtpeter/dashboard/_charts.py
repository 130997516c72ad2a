"""
The overview's chart, drawn on the server as SVG: one line per kind of
event, a point per hour or day with its count as a tooltip. No script, so
it shows with JavaScript off and under the dashboard's strict CSP (colours
are presentation attributes, not inline styles).
"""

from __future__ import annotations

import time

from twisted.web.template import Tag

from ._html import tags

#: The lines drawn: (kind, colour). Bounces of every class make one line.
SERIES = (
    ("accepted", "#4a6fa5"),
    ("delivered", "#2e8b57"),
    ("deferred", "#d39e00"),
    ("failed", "#c0392b"),
    ("bounced", "#8e44ad"),
    ("opened", "#138496"),
    ("clicked", "#e8590c"),
    ("unsubscribed", "#6c757d"),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 260, 44, 12, 12, 28


def counts(bucket: dict) -> dict[str, int]:
    """A bucket's counts by line: C{bounced} adds up the bounce classes."""
    found = dict(bucket["counts"])
    found["bounced"] = sum(v for k, v in found.items() if k.startswith("bounced"))
    return found


def _ceiling(value: int) -> int:
    """The round number (1, 2 or 5 times a power of ten) at the top of the scale."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(value - 1)) - 1)
    return next(magnitude * m for m in (1, 2, 5, 10) if magnitude * m >= value)


def _svg(name: str, **attributes) -> Tag:
    return Tag(name)(**attributes)


def _label(timestamp: float, by: str) -> str:
    return time.strftime("%m-%d %H:00" if by == "hour" else "%Y-%m-%d", time.gmtime(timestamp))


def chart(overview: dict) -> Tag:
    series = overview["series"]
    by = overview["by"]
    points = [counts(b) for b in series]
    top = _ceiling(max((p.get(kind, 0) for p in points for kind, _ in SERIES), default=0))
    n = max(len(series) - 1, 1)
    plotWidth = WIDTH - LEFT - RIGHT
    plotHeight = HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return round(LEFT + i * plotWidth / n, 1)

    def y(value: int) -> float:
        return round(TOP + plotHeight - value * plotHeight / top, 1)

    drawn = [
        _svg(
            "rect",
            x=str(LEFT),
            y=str(TOP),
            width=str(plotWidth),
            height=str(plotHeight),
            fill="#fff",
            stroke="#ddd",
        ),
    ]
    for value in (0, top // 2, top) if top > 1 else (0, top):
        drawn.append(
            _svg(
                "line",
                x1=str(LEFT),
                x2=str(WIDTH - RIGHT),
                y1=str(y(value)),
                y2=str(y(value)),
                stroke="#eee",
            )
        )
        drawn.append(
            _svg("text", x=str(LEFT - 6), y=str(y(value) + 4), **{"text-anchor": "end"})(str(value))
        )
    if series:
        for i in sorted({0, len(series) // 2, len(series) - 1}):
            anchor = "start" if i == 0 else "end" if i == len(series) - 1 else "middle"
            drawn.append(
                _svg("text", x=str(x(i)), y=str(HEIGHT - 8), **{"text-anchor": anchor})(
                    _label(series[i]["timestamp"], by)
                )
            )
    for kind, colour in SERIES:
        values = [p.get(kind, 0) for p in points]
        line = _svg(
            "g",
            **{"class": f"series {kind}", "data-kind": kind, "data-total": str(sum(values))},
        )
        line(
            _svg(
                "polyline",
                fill="none",
                stroke=colour,
                **{"stroke-width": "2"},
                points=" ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
            )
        )
        for i, v in enumerate(values):
            if v:
                line(
                    _svg("circle", cx=str(x(i)), cy=str(y(v)), r="3", fill=colour)(
                        _svg("title")(f"{kind} {_label(series[i]['timestamp'], by)}: {v}")
                    )
                )
        drawn.append(line)
    legend = tags.ul(class_="legend")(
        *(
            tags.li(
                _svg("svg", width="12", height="12", **{"aria-hidden": "true"})(
                    _svg("rect", width="12", height="12", fill=colour)
                ),
                f" {kind} ",
                tags.strong(**{"data-kind": kind})(str(sum(p.get(kind, 0) for p in points))),
            )
            for kind, colour in SERIES
        )
    )
    svg = _svg(
        "svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        role="img",
        width="100%",
        **{"class": "chart", "aria-label": f"events per {by}"},
    )(*drawn)
    return tags.figure(class_="chart")(svg, legend)
