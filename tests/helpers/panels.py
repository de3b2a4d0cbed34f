"""A Grafana dashboard's panels drawn with matplotlib from a real Prometheus's answers, close enough
to Grafana for a person to look at where no Grafana can be run: each query evaluated over a time range
as Grafana asks for it, legends filled in, stat panels reduced to their last value and coloured by
their thresholds and value mappings, thresholds of time series drawn as dashed lines.

`Panels.shown` is what a stat panel would display, so a test can hold the dashboard to the figures
it must show; `Panels.draw` writes one PNG per panel and one of the overview row laid out as on screen.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from hub.operations.dashboard import interpolate  # noqa: E402

COLOURS = {"green": "#73BF69", "orange": "#FF9830", "red": "#F2495C", "blue": "#5794F2", "yellow": "#FADE2A"}
PALETTE = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0", "#37872D"]
PAGE, PANEL, TEXT, GRIDLINE = "#111217", "#181b1f", "#ccccdc", "#2c3235"
UNITS = {"ops": " ops/s", "reqps": " req/s"}

Fetch = Callable[[str], list[dict[str, Any]]]  # PromQL -> a query_range matrix, or an instant vector


@dataclass(frozen=True)
class Series:
    name: str
    ref: str  # the refId of the query it came from
    times: list[float]
    values: list[float]

    @property
    def last(self) -> float | None:
        """Grafana's `lastNotNull`: NaN counts as null."""
        return next((v for v in reversed(self.values) if not math.isnan(v)), None)


@dataclass(frozen=True)
class Tile:
    name: str
    text: str
    colour: str


def legend(fmt: str, labels: Mapping[str, str]) -> str:
    """Grafana's legend: each {{label}} filled in; without a format, the series' labels."""
    if not fmt:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__") + "}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)


def colour_of(value: float, steps: list[dict[str, Any]]) -> str:
    colour = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            colour = step["color"]
    return colour


def formatted(value: float, unit: str, decimals: int | None) -> str:
    if unit == "percentunit":
        return f"{value * 100:.{0 if decimals is None else decimals}f}%"
    if unit == "s":
        for size, name in ((86400, "day"), (3600, "h"), (60, "min")):
            if abs(value) >= size:
                return f"{value / size:.1f} {name}"
        return f"{value:.{0 if decimals == 0 else 2}f} s" if value >= 1 or value == 0 else f"{value * 1000:.0f} ms"
    if decimals is not None:
        return f"{value:,.{decimals}f}" + UNITS.get(unit, "")
    return f"{value:.3g}" + UNITS.get(unit, "")


class Panels:
    def __init__(self, document: Mapping[str, Any], fetch: Fetch, instant: Fetch, variables: Mapping[str, str]) -> None:
        """`fetch` evaluates a query over the time range, `instant` at its end."""
        self.document = document
        self.fetch = fetch
        self.instant = instant
        self.variables = variables
        self._series: dict[int, list[Series]] = {}

    def rows(self) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each row and its panels, whether the row is collapsed or not."""
        row: dict[str, Any] | None = None
        loose: list[dict[str, Any]] = []
        for panel in self.document["panels"]:
            if panel["type"] != "row":
                loose.append(panel)
                continue
            if row is not None:
                yield row, loose or row["panels"]
            row, loose = panel, []
        if row is not None:
            yield row, loose or row["panels"]

    def titled(self, row_title: str, title: str) -> dict[str, Any]:
        return next(
            p
            for row, panels in self.rows()
            if row["title"].startswith(row_title)
            for p in panels
            if p["title"] == title
        )

    def series(self, panel: dict[str, Any]) -> list[Series]:
        if panel["id"] not in self._series:
            found = []
            for target in panel["targets"]:
                fetch = self.instant if target.get("instant") else self.fetch
                for result in fetch(interpolate(target["expr"], self.variables)):
                    points = result["values"] if "values" in result else [result["value"]]
                    times = [float(t) for t, _ in points]
                    values = [float(v) for _, v in points]
                    found.append(
                        Series(legend(target["legendFormat"], result["metric"]), target["refId"], times, values)
                    )
            self._series[panel["id"]] = found
        return self._series[panel["id"]]

    def unanswered(self, panel: dict[str, Any]) -> list[str]:
        """The queries of a panel that return no series."""
        answered = {series.ref for series in self.series(panel)}
        return [t["refId"] for t in panel["targets"] if t["refId"] not in answered]

    def _field(self, panel: dict[str, Any], ref: str) -> dict[str, Any]:
        """The panel's field defaults with the overrides for this query applied."""
        field = dict(panel["fieldConfig"]["defaults"])
        for override in panel["fieldConfig"]["overrides"]:
            if override["matcher"] == {"id": "byFrameRefID", "options": ref}:
                field.update({p["id"]: p["value"] for p in override["properties"]})
        return field

    def _look(self, panel: dict[str, Any], ref: str, value: float) -> tuple[str, str]:
        """The text and colour Grafana shows a value in: a value mapping's, or the unit's and threshold's."""
        field = self._field(panel, ref)
        for mapping in field.get("mappings", []):
            hit = mapping["options"].get(str(int(value))) if float(value).is_integer() else None
            if hit:
                return hit["text"], hit["color"]
        return formatted(value, field.get("unit", "short"), field.get("decimals")), colour_of(
            value, field["thresholds"]["steps"]
        )

    def shown(self, panel: dict[str, Any]) -> list[Tile]:
        """What a stat panel displays: one tile per series, or its 'no value' text."""
        tiles = []
        for series in self.series(panel):
            if series.last is None:
                tiles.append(Tile(series.name, "No data", "blue"))
                continue
            text, colour = self._look(panel, series.ref, series.last)
            tiles.append(Tile(series.name, text, colour))
        if not tiles:
            tiles.append(Tile("", panel["fieldConfig"]["defaults"].get("noValue", "No data"), "blue"))
        return tiles

    def draw(self, folder: Path) -> list[Path]:
        """A PNG per panel, and `overview.png`, the first row laid out on Grafana's 24-column grid."""
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        written = []
        for n, (row, panels) in enumerate(self.rows()):
            row_name = _slug(row["title"].split(" (")[0])
            for panel in panels:
                if panel["type"] == "stat":
                    size = (max(4.0, panel["gridPos"]["w"] * 0.6), 3.0)
                    figure = plt.figure(figsize=size, facecolor=PAGE)
                    self._draw(figure.add_axes((0.03, 0.04, 0.94, 0.82)), panel, small=False)
                else:  # room for the axis on the left and the legend below, as Grafana lays it out
                    figure = plt.figure(figsize=(8.0, 4.6), facecolor=PAGE)
                    self._draw(figure.add_axes((0.11, 0.36, 0.86, 0.56)), panel, small=False)
                path = folder / f"{n:02d}-{row_name}--{_slug(panel['title'])}.png"
                figure.savefig(path, dpi=90, facecolor=PAGE)
                plt.close(figure)
                written.append(path)
            if n == 0:
                written.append(self._layout(panels, folder / "overview.png"))
        return written

    def _layout(self, panels: list[dict[str, Any]], path: Path) -> Path:
        top = min(p["gridPos"]["y"] for p in panels)
        rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) - top
        figure = plt.figure(figsize=(24, rows * 0.45), facecolor=PAGE)
        for panel in panels:
            grid = panel["gridPos"]
            left, width = grid["x"] / 24, grid["w"] / 24
            bottom, height = 1 - (grid["y"] - top + grid["h"]) / rows, grid["h"] / rows
            if panel["type"] == "stat":
                box = (left + 0.003, bottom + 0.01, width - 0.006, height - 0.06)
            else:
                box = (left + 0.025, bottom + 0.09, width - 0.035, height - 0.15)
            figure.patches.append(
                Rectangle((left + 0.002, bottom + 0.004), width - 0.004, height - 0.008, transform=figure.transFigure,
                          facecolor=PANEL, edgecolor=GRIDLINE, zorder=-1)
            )  # fmt: skip
            self._draw(figure.add_axes(box), panel, small=True)
        figure.savefig(path, dpi=70, facecolor=PAGE)
        plt.close(figure)
        return path

    def _draw(self, ax: Axes, panel: dict[str, Any], *, small: bool) -> None:
        ax.set_facecolor(PANEL)
        ax.set_title(panel["title"], color=TEXT, fontsize=9 if small else 11, loc="left")
        if panel["type"] == "stat":
            self._stat(ax, panel, small=small)
        elif panel["type"] == "state-timeline":
            self._timeline(ax, panel)
        else:
            self._timeseries(ax, panel, small=small)

    def _stat(self, ax: Axes, panel: dict[str, Any], *, small: bool) -> None:
        ax.set_axis_off()
        tiles = self.shown(panel)
        box = ax.get_position()
        figure = ax.get_figure()
        aspect = (box.width * figure.get_figwidth()) / max(box.height * figure.get_figheight(), 1e-6)
        columns = max(1, min(len(tiles), round(math.sqrt(len(tiles) * aspect))))
        lines = math.ceil(len(tiles) / columns)
        size = min(28.0, 60.0 / max(columns, lines * 1.2)) * (0.7 if small else 1.0)
        for n, tile in enumerate(tiles):
            column, line = n % columns, n // columns
            x, y, w, h = column / columns, 1 - (line + 1) / lines, 1 / columns, 1 / lines
            ax.add_patch(Rectangle((x + 0.01, y + 0.02), w - 0.02, h - 0.04, transform=ax.transAxes,
                                   facecolor=COLOURS.get(tile.colour, tile.colour)))  # fmt: skip
            ax.text(x + w / 2, y + h * 0.75, tile.name, transform=ax.transAxes, ha="center", va="center",
                    color="white", fontsize=max(6.0, size * 0.4))  # fmt: skip
            ax.text(x + w / 2, y + h * 0.38, tile.text, transform=ax.transAxes, ha="center", va="center",
                    color="white", fontsize=size, fontweight="bold")  # fmt: skip

    def _timeseries(self, ax: Axes, panel: dict[str, Any], *, small: bool) -> None:
        _axes_style(ax)
        series = self.series(panel)
        field = panel["fieldConfig"]["defaults"]
        unit, decimals = field.get("unit", "short"), field.get("decimals")
        for n, line in enumerate(series):
            ax.plot([_moment(t) for t in line.times], line.values, label=line.name, linewidth=1.2,
                    color=PALETTE[n % len(PALETTE)])  # fmt: skip
        if not series:
            ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", color=TEXT, fontsize=14)
            return
        if field["custom"]["thresholdsStyle"]["mode"] != "off":  # drawn where the data reaches, as Grafana
            bottom, top = ax.get_ylim()
            for step in field["thresholds"]["steps"][1:]:
                ax.axhline(step["value"], color=COLOURS[step["color"]], linestyle="--", linewidth=1)
            ax.set_ylim(bottom, top)
        if decimals == 0:  # counts: whole ticks from 0
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylim(bottom=min(0, ax.get_ylim()[0]), top=max(1, ax.get_ylim()[1]))
        ax.yaxis.set_major_formatter(lambda v, _: formatted(v, unit, decimals))
        _time_axis(ax)
        if small:
            ax.legend(fontsize=6, loc="upper left", framealpha=0.3, labelcolor=TEXT, facecolor=PANEL,
                      ncols=2 if len(series) > 6 else 1)  # fmt: skip
        else:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.12), frameon=False, labelcolor=TEXT,
                      ncols=3 if len(series) > 4 else 2)  # fmt: skip

    def _timeline(self, ax: Axes, panel: dict[str, Any]) -> None:
        _axes_style(ax)
        series = self.series(panel)
        if not series:
            ax.text(0.5, 0.5, "No data", transform=ax.transAxes, ha="center", color=TEXT, fontsize=14)
            return
        for n, line in enumerate(series):
            for start, end, value in _runs(line):
                text, colour = self._look(panel, line.ref, value)
                ax.barh(n, mdates.date2num(_moment(end)) - mdates.date2num(_moment(start)), left=_moment(start),
                        height=0.8, color=COLOURS.get(colour, colour))  # fmt: skip
                middle = _moment((start + end) / 2)
                ax.text(middle, n, text, ha="center", va="center", color="black", fontsize=7)
        ax.set_yticks(range(len(series)), [s.name for s in series])
        _time_axis(ax)


def _runs(series: Series) -> Iterator[tuple[float, float, float]]:
    """Consecutive samples of one value, as (start, end, value)."""
    start, value = None, None
    for time, sample in zip(series.times, series.values, strict=True):
        if math.isnan(sample):
            continue
        if sample != value:
            if start is not None:
                yield start, time, value  # type: ignore[misc]
            start, value = time, sample
    if start is not None:
        yield start, series.times[-1], value  # type: ignore[misc]


def _time_axis(ax: Axes) -> None:
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))


def _axes_style(ax: Axes) -> None:
    ax.tick_params(colors=TEXT, labelsize=7)
    for spine in ax.spines.values():
        spine.set_color(GRIDLINE)
    ax.grid(color=GRIDLINE, linewidth=0.5)


def _moment(stamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
