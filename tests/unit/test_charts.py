"""The dashboards' SVG charts: values → geometry, empty and all-zero series, escaping."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from django_sharegroups.admin.charts import (
    BOTTOM,
    LEFT,
    RIGHT,
    TOP,
    BarChart,
    LineChart,
    Series,
    nice_ceiling,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(html: str) -> ElementTree.Element:
    """The chart's <svg> element (the figure around it is HTML, also well-formed here)."""
    figure = ElementTree.fromstring(html)
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    return svg


@pytest.mark.parametrize(
    "value, top",
    [(0, 1), (-3, 1), (1, 1), (7, 10), (10, 10), (12, 20), (21, 25), (0.3, 0.5), (260, 500)],
)
def test_the_y_axis_ends_at_a_round_number_above_the_largest_value(value, top):
    assert nice_ceiling(value) == top


def test_line_points_are_spread_over_the_width_and_scaled_to_the_largest_value():
    chart = LineChart("t", width=400, height=240, labels=["a", "b", "c"])
    series = Series("accepted", [0, 5, 10])
    chart.series = [series]
    plot_width, plot_height = 400 - LEFT - RIGHT, 240 - TOP - BOTTOM
    assert chart.points(series) == [
        (LEFT, TOP + plot_height),
        (LEFT + plot_width / 2, TOP + plot_height / 2),
        (LEFT + plot_width, TOP),
    ]
    svg = parse(chart.render())
    (polyline,) = svg.iter(f"{SVG}polyline")
    assert polyline.get("points") == " ".join(f"{x},{y}" for x, y in chart.points(series))
    assert polyline.find(f"{SVG}title").text == "accepted"


def test_a_series_of_zeros_lies_on_the_x_axis_without_dividing_by_zero():
    chart = LineChart("t", labels=["a", "b"], series=[Series("rejected", [0, 0])])
    assert chart.y_max() == 1
    assert {y for _, y in chart.points(chart.series[0])} == {chart.height - BOTTOM}
    assert "rejected: 0" in chart.render()


def test_an_empty_chart_says_no_data():
    html = LineChart("Throughput", labels=[], series=[Series("accepted", [])]).render()
    svg = parse(html)
    assert [t.text for t in svg.iter(f"{SVG}text") if t.text == "no data"] == ["no data"]
    (polyline,) = svg.iter(f"{SVG}polyline")
    assert polyline.get("points") == ""
    assert parse(BarChart("Lag").render()).find(f"{SVG}rect") is None
    assert "no data" in BarChart("Lag").render()


def test_bars_stand_on_the_axis_with_heights_in_proportion():
    chart = BarChart(
        "Delivery counts", width=300, height=200, items=[("1", 40), ("2", 10), ("3", 0)]
    )
    first, second, third = chart.bars()
    bottom = 200 - BOTTOM
    assert chart.y_max() == 50
    assert first.y + first.height == pytest.approx(bottom)
    assert first.height == pytest.approx((bottom - TOP) * 40 / 50)
    assert second.height == pytest.approx(first.height / 4)
    assert third.height == 0
    assert first.x < second.x < third.x
    assert third.x + third.width <= 300 - RIGHT
    rects = list(parse(chart.render()).iter(f"{SVG}rect"))
    assert [r.find(f"{SVG}title").text for r in rects] == ["1: 40", "2: 10", "3: 0"]


def test_the_chart_is_an_accessible_image_and_escapes_its_texts():
    chart = LineChart(
        "Lag of <orders>",
        description="Records per minute & more",
        labels=["12:00"],
        series=[Series("<b>", [3])],
    )
    html = chart.render()
    assert "<orders>" not in html and "<b>" not in html
    svg = parse(html)
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.find(f"{SVG}title").get("id") == title_id
    assert svg.find(f"{SVG}title").text == "Lag of <orders>"
    assert svg.find(f"{SVG}desc").get("id") == desc_id
    assert re.search(r"sharegroups-chart-\d+-title", title_id)
    assert LineChart("a").chart_id != LineChart("b").chart_id
