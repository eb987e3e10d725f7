"""``newscrawl report``: one self-contained HTML file (inline CSS and SVG charts, no scripts,
nothing fetched) about the corpus and the crawler's health."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.reports import OutletHealth, ReportData

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _stacked_days(data: ReportData) -> str:
    if not data.days:
        return "<p class='empty'>No dated articles yet.</p>"
    outlets = sorted(data.per_day)
    totals = [sum(data.per_day[o].get(d, 0) for o in outlets) for d in data.days]
    peak = max(totals) or 1
    width, height, left, bottom = 760, 240, 40, 40
    bar = max(2.0, (width - left) / len(data.days) - 2)
    parts = [
        f"<svg viewBox='0 0 {width} {height + bottom}' role='img' aria-label='articles per day'>"
    ]
    for tick in (0, peak // 2, peak):
        y = height - tick / peak * (height - 10)
        parts.append(
            f"<line x1='{left}' x2='{width}' y1='{y:.1f}' y2='{y:.1f}' class='grid'/>"
            f"<text x='{left - 6}' y='{y + 4:.1f}' class='axis' text-anchor='end'>{tick}</text>"
        )
    for i, day in enumerate(data.days):
        x = left + i * (bar + 2)
        y = float(height)
        for j, outlet in enumerate(outlets):
            n = data.per_day[outlet].get(day, 0)
            if not n:
                continue
            h = n / peak * (height - 10)
            y -= h
            parts.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' "
                f"fill='{PALETTE[j % len(PALETTE)]}'><title>{escape(outlet)} "
                f"{day}: {n}</title></rect>"
            )
        if len(data.days) <= 31 or i % max(1, len(data.days) // 15) == 0:
            parts.append(
                f"<text x='{x + bar / 2:.1f}' y='{height + 14}' class='axis' "
                f"text-anchor='middle'>{day:%m-%d}</text>"
            )
    parts.append("</svg>")
    legend = "".join(
        f"<span class='key'><i style='background:{color}'></i>{escape(o)}</span>"
        for o, color in zip(
            outlets, [PALETTE[j % len(PALETTE)] for j in range(len(outlets))], strict=True
        )
    )
    return "".join(parts) + f"<div class='legend'>{legend}</div>"


def _bars(values: dict[str, float], fmt: str, label: str) -> str:
    if not values:
        return "<p class='empty'>Nothing to show.</p>"
    peak = max(values.values()) or 1
    rows = []
    for i, (name, value) in enumerate(values.items()):
        w = value / peak * 460
        rows.append(
            f"<g transform='translate(0,{i * 26})'><text x='170' y='16' text-anchor='end' "
            f"class='axis'>{escape(name)}</text><rect x='180' y='3' width='{w:.1f}' height='18' "
            f"fill='{PALETTE[i % len(PALETTE)]}'/><text x='{186 + w:.1f}' y='16' "
            f"class='axis'>{format(value, fmt)}</text></g>"
        )
    return (
        f"<svg viewBox='0 0 760 {len(values) * 26 + 4}' role='img' aria-label='{label}'>"
        + "".join(rows)
        + "</svg>"
    )


def _edited_rows(data: ReportData) -> str:
    """The most-edited stories: revisions kept in the window, headline linked to the URL."""
    return (
        "".join(
            f"<tr><td>{e.revisions}</td><td><a href='{escape(e.url)}'>"
            f"{escape(e.title or e.url)}</a></td><td>{escape(e.outlet_id)}</td></tr>"
            for e in data.edited
        )
        or "<tr><td colspan='3' class='empty'>No article changed after it was stored.</td></tr>"
    )


def _confidence(h: OutletHealth) -> str:
    """Recent mean extraction confidence, and the earlier one it is compared with."""
    if h.recent_confidence is None:
        return "-"
    if h.earlier_confidence is None:
        return f"{h.recent_confidence:.2f}"
    return f"{h.recent_confidence:.2f} (was {h.earlier_confidence:.2f})"


def render(data: ReportData) -> str:
    shares = {
        o: (data.duplicates.get(o, 0) / n if n else 0.0) for o, n in sorted(data.totals.items())
    }
    cluster_rows = (
        "".join(
            f"<tr><td>{len(v.copies) + 1}</td><td>{escape(v.canonical.title or '')}</td>"
            f"<td>{escape(v.canonical.outlet_id)}</td>"
            f"<td>{escape(', '.join(sorted({c.outlet_id for c in v.copies})))}</td></tr>"
            for v in data.clusters
        )
        or "<tr><td colspan='4' class='empty'>No syndicated copies yet.</td></tr>"
    )
    health_rows = "".join(
        f"<tr class='{'flag' if h.flagged else ''}'><td>{escape(h.outlet)}</td>"
        f"<td>{data.totals.get(h.outlet, 0)}</td><td>{h.runs}</td><td>{h.stored_in_runs}</td>"
        f"<td>{escape(h.last_status or '-')}</td><td>{_confidence(h)}</td>"
        f"<td>{'&#9888; ' + escape(h.why) if h.flagged else 'ok'}</td></tr>"
        for h in data.health
    )
    flagged = sum(1 for h in data.health if h.flagged)
    total = sum(data.totals.values())
    dups = sum(data.duplicates.values())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>newscrawl report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 820px; color: #222; }}
h1 {{ margin-bottom: 0; }} h2 {{ margin-top: 2em; border-bottom: 1px solid #ddd; }}
.meta, .empty, .axis {{ color: #666; }} .axis {{ font-size: 11px; fill: #555; }}
.grid {{ stroke: #eee; }} svg {{ width: 100%; height: auto; }}
.cards {{ display: flex; gap: 1em; }} .card {{ flex: 1; background: #f6f7f9; padding: .8em; }}
.card b {{ display: block; font-size: 24px; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ padding: 4px 8px; text-align: left;
border-bottom: 1px solid #eee; }} tr.flag td {{ background: #fff1f0; }}
.legend .key {{ margin-right: 1em; }} .legend i {{ display: inline-block; width: 10px;
height: 10px; margin-right: 4px; }}
</style></head><body>
<h1>newscrawl report</h1>
<p class="meta">Generated {data.generated:%Y-%m-%d %H:%M} UTC</p>
<div class="cards">
<div class="card"><b>{total}</b>articles</div>
<div class="card"><b>{dups}</b>syndicated copies ({(dups / total if total else 0):.0%})</div>
<div class="card"><b>{len(data.totals)}</b>outlets with articles</div>
<div class="card"><b>{flagged}</b>outlets flagged</div>
</div>
<h2>Articles per day per outlet</h2>
{_stacked_days(data)}
<h2>Duplicate share per outlet</h2>
{_bars(shares, ".0%", "duplicate share per outlet")}
<h2>Top syndicated stories</h2>
<table><tr><th>articles</th><th>canonical headline</th><th>first by</th><th>republished by</th></tr>
{cluster_rows}</table>
<h2>Most-edited stories</h2>
<table><tr><th>revisions</th><th>headline (now)</th><th>outlet</th></tr>
{_edited_rows(data)}</table>
<h2>Failures by reason</h2>
{_bars({k: float(v) for k, v in data.failures.items()}, ".0f", "failed URLs by reason")}
<h2>Outlet health</h2>
<table><tr><th>outlet</th><th>articles</th><th>recent runs</th><th>stored in them</th>
<th>last run</th><th>extraction confidence</th><th>health</th></tr>{health_rows}</table>
</body></html>
"""
