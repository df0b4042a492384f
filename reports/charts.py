"""The dashboard's charts: pygal draws each as SVG on the server; the page shows it as an
image from a data: URL. An <img> runs no script and keeps its styles to itself, so the
Content-Security-Policy (no inline script or style, images from 'self' and data:) holds
without exceptions. Every chart says its numbers too (values printed on the chart, series
named on their bars or lines, dashes telling lines apart) and comes with the table of its
numbers, so nothing depends on colour alone."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pygal
from pygal.style import Style

from reports.selectors import AGEING_BUCKETS, GroupUtilisation, Receivables, ServiceFlow

# Colours told apart also by people with the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
DASHES = ("", "6, 3", "2, 3", "8, 3, 2, 3")
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#333333",
    foreground_subtle="#dddddd",
    colors=PALETTE,
    font_family="-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    # Large for the picture's size: it is scaled down to the column (to a third on a phone).
    value_font_size=13,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=15,
    value_label_font_size=12,
)
OPTIONS: dict[str, Any] = {
    "style": STYLE,
    "js": [],  # an <img> runs no script anyway; nothing to fetch
    "width": 600,
    "height": 300,
    "legend_at_bottom": True,
    "print_values": True,
    "print_zeroes": False,
    "x_label_rotation": 0,
    "truncate_label": -1,
    "margin": 12,
    "margin_right": 30,  # the last point's value
    "max_scale": 8,  # at most 8 grid lines: readable at a phone's width
    "disable_xml_declaration": False,
}


@dataclass(frozen=True)
class Chart:
    """One chart: its picture (None: no data, the page says so) and its numbers."""

    key: str
    title: str
    description: str  # the picture's alternative text
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    image: str | None = None  # a data: URL of the SVG
    notes: Sequence[str] = field(default_factory=tuple)


def _image(chart: Any) -> str:
    svg = chart.render()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _month_labels(months: Sequence[date]) -> list[str]:
    return [month.strftime("%b %Y") for month in months]


def _short_months(months: Sequence[date]) -> list[str]:
    return [
        month.strftime("%b") if month.month != 1 else month.strftime("%b %y") for month in months
    ]


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def revenue_chart(
    revenue: dict[str, dict[str, list[Decimal]]], months: Sequence[date]
) -> list[Chart]:
    """Revenue received by month, a stacked bar per gateway; one chart per currency."""
    charts = []
    for currency, gateways in sorted(revenue.items()):
        chart = pygal.StackedBar(
            **OPTIONS, print_labels=True, value_formatter=lambda v: f"{v:,.0f}"
        )
        chart.x_labels = _short_months(months)
        for gateway, values in gateways.items():
            chart.add(
                gateway,
                [{"value": float(v), "label": gateway} if v else None for v in values],
            )
        totals = [sum((g[i] for g in gateways.values()), Decimal(0)) for i in range(len(months))]
        rows = [
            [label, *(_amount(values[i]) for values in gateways.values()), _amount(totals[i])]
            for i, label in enumerate(_month_labels(months))
        ]
        charts.append(
            Chart(
                key=f"revenue-{currency.lower()}",
                title=f"Revenue by month, {currency}",
                description=f"Stacked bars of {currency} received per month by gateway "
                f"({', '.join(gateways)}), the last {len(months)} months.",
                headers=["Month", *gateways, "Total"],
                rows=rows,
                image=_image(chart),
            )
        )
    return charts or [_empty("revenue", "Revenue by month", ["Month", "Total"])]


def mrr_chart(mrr: dict[str, list[Decimal]], months: Sequence[date]) -> Chart:
    """MRR at the end of each month shown (this month: now), a line per currency."""
    title, headers = "MRR over time", ["Month", *sorted(mrr)]
    if not mrr:
        return _empty("mrr", title, headers)
    chart = pygal.Line(**OPTIONS, dots_size=3, value_formatter=lambda v: f"{v:,.0f}")
    chart.x_labels = _short_months(months)
    for n, (currency, values) in enumerate(sorted(mrr.items())):
        chart.add(
            currency,
            [float(v) for v in values],
            stroke_style={"width": 2, "dasharray": DASHES[n % len(DASHES)]},
        )
    rows = [
        [label, *(_amount(mrr[c][i]) for c in sorted(mrr))]
        for i, label in enumerate(_month_labels(months))
    ]
    return Chart(
        key="mrr",
        title=title,
        description=f"Lines of monthly recurring revenue per currency ({', '.join(sorted(mrr))}) "
        "at the end of each month; the last point is now.",
        headers=headers,
        rows=rows,
        image=_image(chart),
        notes=["Each month's figure is taken at its end; this month's is now."],
    )


def service_flow_chart(flow: ServiceFlow, months: Sequence[date]) -> Chart:
    """New services above the axis, cancelled ones below it, per month."""
    title, headers = "New and cancelled services", ["Month", "New", "Cancelled", "Net"]
    if not any(flow.new) and not any(flow.cancelled):
        return _empty("services", title, headers)
    chart = pygal.Bar(**OPTIONS, value_formatter=lambda v: f"{abs(v):.0f}")
    chart.x_labels = _short_months(months)
    chart.add("New (above the line)", list(flow.new))
    chart.add("Cancelled (below the line)", [-n if n else None for n in flow.cancelled])
    rows = [
        [label, str(new), str(gone), f"{new - gone:+d}"]
        for label, new, gone in zip(_month_labels(months), flow.new, flow.cancelled, strict=True)
    ]
    return Chart(
        key="services",
        title=title,
        description="Bars per month: services started above the axis, services terminated "
        "below it.",
        headers=headers,
        rows=rows,
        image=_image(chart),
    )


def ageing_chart(receivables: dict[str, Receivables]) -> Chart:
    """Overdue amounts by days past due, a bar group per currency."""
    title = "Overdue invoices by age"
    headers = ["Days past due", *(f"{c} (invoices)" for c in sorted(receivables))]
    if not any(any(r.ageing_counts) for r in receivables.values()):
        return _empty("ageing", title, headers)
    chart = pygal.Bar(**OPTIONS, print_labels=True, value_formatter=lambda v: f"{v:,.2f}")
    chart.x_labels = list(AGEING_BUCKETS)
    for currency, figures in sorted(receivables.items()):
        chart.add(
            currency,
            [{"value": float(v), "label": currency} if v else None for v in figures.ageing],
        )
    rows = [
        [
            bucket,
            *(
                f"{_amount(r.ageing[i])} ({r.ageing_counts[i]})"
                for _, r in sorted(receivables.items())
            ),
        ]
        for i, bucket in enumerate(AGEING_BUCKETS)
    ]
    return Chart(
        key="ageing",
        title=title,
        description="Bars of the amount overdue per age band (0-30, 31-60, 61-90, over 90 "
        "days past the due date), per currency.",
        headers=headers,
        rows=rows,
        image=_image(chart),
    )


def utilisation_chart(groups: Sequence[GroupUtilisation]) -> Chart:
    """Share of account capacity used per server group, with the 80% mark."""
    title = "Server utilisation by group"
    headers = ["Group", "Servers", "Offline", "Accounts used", "Capacity", "Used"]
    if not groups:
        return _empty("servers", title, headers)
    chart = pygal.HorizontalBar(
        **{**OPTIONS, "height": max(160, 60 + 40 * len(groups))},
        range=(0, 100),
        show_legend=False,
        value_formatter=lambda v: f"{v:.0f}%",
    )
    chart.x_labels = [group.group for group in groups]
    chart.add(
        "Used",
        [
            {"value": float(g.percent), "color": PALETTE[3] if g.percent >= 80 else PALETTE[0]}
            for g in groups
        ],
    )
    rows = [
        [g.group, str(g.servers), str(g.offline), str(g.used), str(g.capacity), f"{g.percent}%"]
        for g in groups
    ]
    return Chart(
        key="servers",
        title=title,
        description="Horizontal bars of the share of account capacity used per server group "
        "(active servers).",
        headers=headers,
        rows=rows,
        image=_image(chart),
        notes=["Groups at 80% or more need servers added."],
    )


def _empty(key: str, title: str, headers: Sequence[str]) -> Chart:
    return Chart(key=key, title=title, description="", headers=headers, rows=[])
