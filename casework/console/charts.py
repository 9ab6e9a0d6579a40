"""Charts drawn on the server: pygal's SVG, inline in the page, under the console's strict
Content-Security-Policy (`script-src 'self'; style-src 'self'`, casework/console/web.py).

pygal writes, into every chart, a `<script>` (its configuration, for its tooltips), a
`<style>` (the chart's CSS, prefixed with the chart's id) and a hidden tooltip group
with an inline `style` attribute. The CSP would refuse all three, each a violation in
the browser's console. So each chart is cleaned as pygal builds its tree
(`add_xml_filter`): the scripts, styles, tooltip group, comments and tooltip positions
go, the legend's ids (the same in every chart) go, and the chart gets its accessible
name (`role="img"`, a `<title>` it is labelled by). The CSS, the same for every chart
once its id prefix is replaced by the class `kpi-chart`, is served as a stylesheet of
the console's own origin (`stylesheet()`, `GET /console/dashboard/charts.css`), which
`style-src 'self'` allows. Nothing is interactive: the table beside each chart holds
its numbers for everyone, screen readers first.

Each point keeps pygal's `<desc class="value">`: the value as the table beside it
shows it (the tests read both).

Rendering is pure (the same `Chart` always draws the same SVG) and takes pygal 10-70 ms
a chart (one to five series, on 2 vCPUs), so drawn charts are kept, the last
`CACHED_CHARTS` of them, by their content: a page whose figures did not change since
the last view (the same checkpoint, the same filters) draws nothing
(bench/dashboard.py measures both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.style import Style

from casework import i18n
from casework.console.numbers import decimal_text
from casework.i18n import _

Kind = Literal["line", "bar", "hbar", "stacked"]

CACHED_CHARTS = 512
"""Drawn charts kept (about 10-40 KiB each)."""

PALETTE = (
    "#1f5f99", "#b34700", "#2e7d32", "#8e3b8e", "#5d4037", "#00695c", "#37474f", "#ad1457",
)  # fmt: skip
"""Series colours, each at least 4.5:1 against white (WCAG 2.2 AA, text and graphics)."""

FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif'
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#4a4a4a",
    font_family=FONT,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    tooltip_font_size=12,
    title_font_size=14,
    no_data_font_size=16,
    opacity="1",
    opacity_hover="1",
    stroke_opacity="1",
    stroke_opacity_hover="1",
    stroke_width="2",
    stroke_width_hover="3",
    transition="0ms",
    guide_stroke_color="#8a8a8a",
    major_guide_stroke_color="#8a8a8a",
    colors=PALETTE,
)
SCOPE = "svg.kpi-chart"
"""The CSS selector every chart's rules are scoped to."""
_STYLESHEET_ID = "x"
_KINDS: dict[Kind, Any] = {
    "line": pygal.Line,
    "bar": pygal.Bar,
    "hbar": pygal.HorizontalBar,
    "stacked": pygal.StackedBar,
}
_KEPT_DESC = frozenset({"value", "x_label"})


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    """One value per label of the chart (None: nothing measured there)."""


@dataclass(frozen=True)
class Chart:
    """What one chart draws. `key` becomes its id (`chart-<key>`): unique on a page."""

    key: str
    title: str
    kind: Kind
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    axis: str
    """The value axis's title, its unit ("days", "% on time" …)."""
    decimals: int = 1
    bounds: tuple[float, float] | None = None
    """The value axis's range, when it has a natural one (0–100 %, ratings 1–5)."""
    language: str = i18n.DEFAULT
    """The language its texts are in (its numbers' separators, its accessible name): part
    of what the drawn SVG is kept by."""

    @property
    def dom_id(self) -> str:
        return f"chart-{self.key}"

    def shown(self, value: float) -> str:
        return decimal_text(value, self.decimals, self.language)


def _clean(chart: Chart) -> Any:
    """The xml filter that makes pygal's tree fit the CSP and screen readers."""

    def clean(root: ElementTree.Element) -> ElementTree.Element:
        for parent in list(root.iter()):
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                classes = (child.get("class") or "").split()
                if (
                    not tag  # a comment
                    or tag in ("script", "style")
                    or "tooltip-overlay" in classes
                    or (tag == "desc" and not _KEPT_DESC.intersection(classes))
                ):
                    parent.remove(child)
                    continue
                if "id" in child.attrib and child.attrib["id"].startswith("activate-serie"):
                    del child.attrib["id"]
                child.attrib.pop("style", None)
        root.set("id", chart.dom_id)
        root.set("class", "pygal-chart kpi-chart")
        root.set("role", "img")
        root.set("aria-labelledby", f"{chart.dom_id}-title")
        root.set("focusable", "false")
        title = root.find("title")
        if title is None:
            title = ElementTree.Element("title")
            root.insert(0, title)
        title.set("id", f"{chart.dom_id}-title")
        with i18n.speaking(chart.language):
            title.text = _(
                "%(title)s (chart; its figures are in the table beside it)", title=chart.title
            )
        return root

    return clean


def _pygal_chart(chart: Chart, *, css: bool) -> Any:
    # Labels wider than their slot under the plot (about 6.5 px a character) slant.
    widest = max((len(label) for label in chart.labels), default=0)
    crowded = chart.kind != "hbar" and widest * 6.5 > 620 / max(1, len(chart.labels))
    config: dict[str, Any] = {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 720,
        "height": 360,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "truncate_legend": -1,
        "truncate_label": -1,
        "x_label_rotation": 35 if crowded else 0,
        "y_title": None if chart.kind == "hbar" else chart.axis,
        "x_title": chart.axis if chart.kind == "hbar" else None,
        "allow_interruptions": True,
        "dots_size": 3.5,
        "print_values": False,
        "show_legend": True,
        "value_formatter": chart.shown,
        "margin": 12,
        "margin_bottom": 28,  # pygal's bottom legend otherwise overflows the picture
    }
    if not css:
        config["css"] = []
    if chart.bounds is not None:
        config["range"] = chart.bounds
    else:
        config["include_x_axis"] = True  # durations and counts from 0
    drawn = _KINDS[chart.kind](**config)
    drawn.x_labels = list(chart.labels)
    for series in chart.series:
        drawn.add(series.name, list(series.values))
    return drawn


@lru_cache(maxsize=CACHED_CHARTS)
def svg(chart: Chart) -> Markup:
    """The chart as inline SVG: no script, no style, labelled by its title."""
    drawn = _pygal_chart(chart, css=False)
    drawn.uuid = chart.key
    drawn.add_xml_filter(_clean(chart))
    return Markup(str(drawn.render(is_unicode=True)))  # pygal's XML: text and attributes escaped


LAYOUT = """
.kpi-summary { margin: .5rem 0 1rem; }
.kpi-panel { border-top: 1px solid #8a8a8a; padding-top: .25rem; }
.kpi-panel .pair { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr);
  gap: 1.5rem; align-items: start; }
.kpi-panel .pair.stacked { grid-template-columns: minmax(0, 1fr); max-width: 56rem; }
@media (max-width: 60rem) { .kpi-panel .pair { grid-template-columns: minmax(0, 1fr); } }
.kpi-panel figure { margin: 0; }
.kpi-panel svg.kpi-chart { width: 100%; height: auto; display: block; }
.kpi-panel .figures { overflow-x: auto; }
.kpi-panel .figures table { margin-top: 0; }
.kpi-panel td.num, .kpi-panel th.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpi-filters .field.inline { vertical-align: top; margin-right: 1.5rem; max-width: 14rem; }
.kpi-filters .hint { margin: 0; font-size: .9rem; }
.kpi-filters input[type="text"] { width: 12rem; }
.kpi-filters button { margin-top: 2.9rem; vertical-align: top; }
.kpi-checkpoint dd code { word-break: break-all; }
"""


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """Every chart's CSS (pygal's, for up to 64 series, scoped to `svg.kpi-chart`) and the
    dashboard's layout: served from the console's own origin, as the CSP asks."""
    sample = Chart(
        key=_STYLESHEET_ID, title="", kind="line", labels=("a", "b"), axis="",
        series=tuple(Series(f"s{i}", (1.0, 2.0)) for i in range(64)),
    )  # fmt: skip
    drawn = _pygal_chart(sample, css=True)
    drawn.uuid = _STYLESHEET_ID
    tree = drawn.render_tree()
    rules = "\n".join(node.text or "" for node in tree.iter("style"))
    scoped = re.sub(rf"#chart-{_STYLESHEET_ID}\b", SCOPE, rules)
    head = f"/* pygal's chart CSS, scoped to {SCOPE} (casework/console/charts.py) */"
    return f"{head}\n{scoped}\n{LAYOUT}"
