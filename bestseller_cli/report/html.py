"""The report as one self-contained HTML file: inline CSS and SVG, no script, font or image
fetched from anywhere (links to Amazon's product pages only), readable on a phone and printed.
Its Content-Security-Policy holds it to that; every value is written through `html_text`.

Its numbers are the `Report`'s, the same object `--json` prints: the head is the text
report's summary lines, the table the per-ASIN rows sorted by badge share.
"""

from zoneinfo import ZoneInfo

from bestseller_cli.escape import html_text
from bestseller_cli.kinds import kind_of
from bestseller_cli.pictures.charts import legend_svg, product_svg, sparkline_svg
from bestseller_cli.pictures.holder_timeline import timeline_svg
from bestseller_cli.pictures.svg import CHART_CSS, local_time, zone_name
from bestseller_cli.report.formats import (
    CATEGORIES_TITLE,
    category_label,
    change_label,
    duration,
    rank_move,
    share,
    summary_lines,
)
from bestseller_cli.report.pictures import ReportPictures, by_badge_share
from bestseller_cli.rules.story import ROLES
from bestseller_cli.shapes.rank_history import ProductChart
from bestseller_cli.shapes.report_models import CategoryHolders, CategoryStretch, Holder, Streak
from bestseller_cli.slack.messages import amazon_url

# No script, nothing fetched (no font, image, style or frame from anywhere), only the inline
# stylesheet and `data:` images; a link to Amazon is a link, followed only when clicked.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
    " base-uri 'none'; form-action 'none'"
)
PAGE_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0 auto; max-width: 960px; padding: 16px; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; margin: 24px 0 4px; }
.period { color: #57606a; margin: 0 0 12px; }
.numbers { list-style: none; padding: 0; margin: 0; display: grid; gap: 6px;
           grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
.numbers li { background: #f6f8fa; border-radius: 6px; padding: 8px 10px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de;
         vertical-align: middle; }
th { background: #f6f8fa; }
td.number { text-align: right; white-space: nowrap; }
svg { max-width: 100%; height: auto; }
figure { margin: 8px 0 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { color: #57606a; font-size: 0.85rem; }
.gained { color: #1a7f37; } .lost { color: #c62828; }
a { color: #0969da; }
footer { color: #57606a; font-size: 0.8rem; margin-top: 32px; }
@media (max-width: 600px) {
  body { padding: 8px; }
  .optional { display: none; }
}
@media print {
  body { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
}
"""


def html_report(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    """The whole page."""
    report = pictures.report
    scope = f"client {report.client}" if report.client else "all ASINs"
    period = f"{local_time(report.period.since, zone)} to {local_time(report.period.until, zone)}"
    body = [
        f"<header><h1>#1 Best Seller report, {html_text(scope)}</h1>",
        f'<p class="period">{html_text(period)}</p>',
        '<ul class="numbers">',
        *(f"<li>{html_text(line)}</li>" for line in summary_lines(report)),
        "</ul></header>",
        asin_table(pictures, zone=zone),
        holder_section(pictures, zone=zone),
        category_section(pictures, zone=zone),
        chart_section(pictures, zone=zone),
        changes_section(pictures, zone=zone),
        f"<footer>Generated {html_text(local_time(report.generated_at, zone))} by bestseller-cli."
        " Ranks are Amazon Best Sellers ranks as Keepa reported them; #1 is the badge.</footer>",
    ]
    title = f"#1 Best Seller report, {scope}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html_text(title)}</title><style>{PAGE_CSS}{CHART_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def product_name(asin: str, title: str | None) -> str:
    return title or f"ASIN {asin}"


def asin_table(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    report = pictures.report
    if not report.asins:
        return "<h2>Products</h2><p>No checks, changes or badge holders in this period.</p>"
    holders = {(h.asin, h.marketplace): h for h in report.holders}
    rows = []
    for a in by_badge_share(report.asins):
        key = (a.asin, a.marketplace)
        chart = pictures.charts.get(key)
        spark = ""
        if chart is not None:
            spark = sparkline_svg(
                chart, title=f"Best rank of {a.asin} over the period", styled=False
            )
        url = amazon_url(a.asin, a.marketplace)
        anchor = html_text(f"chart-{a.asin}-{a.marketplace}")
        rows.append(
            "<tr>"
            f'<td><a href="{html_text(url)}">{html_text(product_name(a.asin, a.title))}</a><br>'
            f"<small>{html_text(a.asin)} · amazon.{html_text(a.marketplace)}</small></td>"
            f'<td class="number">{html_text(share(a.badge_share))}</td>'
            f'<td class="optional">{html_text(streak_words(a.longest_streak, zone))}</td>'
            f"<td>{html_text(now_words(holders.get(key), zone))}</td>"
            f'<td class="number">{html_text(main_rank(chart, holders.get(key)))}</td>'
            f'<td><a href="#{anchor}">{spark}</a></td>'
            "</tr>"
        )
    head = (
        '<tr><th>Product</th><th>Badge share</th><th class="optional">Longest streak</th>'
        "<th>#1 now</th><th>Main rank</th><th>Best rank</th></tr>"
    )
    return (
        "<h2>Products, by badge share</h2>"
        "<p>Badge share: the part of the period's checks where the product held #1 in some"
        " category.</p>"
        f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )


def streak_words(streak: Streak | None, zone: ZoneInfo) -> str:
    if streak is None:
        return "-"
    ended = "ongoing" if streak.ongoing else f"to {local_time(streak.ended_at, zone)}"
    return (
        f"{duration(streak.duration_seconds)} ({streak.checks} checks),"
        f" from {local_time(streak.started_at, zone)} {ended}"
    )


def now_words(holder: Holder | None, zone: ZoneInfo) -> str:
    if holder is None or not holder.badges:
        return "-"
    return "; ".join(
        f"{b.category_name or b.category_id}"
        + (f" since {local_time(b.since, zone)}" if b.since else "")
        for b in holder.badges
    )


def main_rank(chart: ProductChart | None, holder: Holder | None) -> str:
    """The last main rank the period's checks saw, else the holder's now."""
    ranks = []
    if chart is not None:
        ranks = [r for line in chart.series if line.main for r in line.ranks if r]
    value = ranks[-1] if ranks else holder.main_rank if holder else None
    return f"#{value:,}" if value else "-"


def holder_section(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    if not pictures.timelines:
        return ""
    figures = [
        f"<figure>{timeline_svg(timeline, zone=zone, styled=False)}</figure>"
        for timeline in pictures.timelines
    ]
    return (
        "<h2>Who held #1</h2><p>Categories where tracked products took #1 from each other:"
        " one bar per stretch at #1.</p>" + "".join(figures)
    )


def category_section(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    """Per watched category: who holds #1 now (per Keepa's list, as of its update time), the
    timeline of its holders in the period, and their stretches."""
    categories = pictures.report.categories
    if not categories:
        return ""
    drawn = {(t.marketplace, t.category_id): t for t in pictures.category_timelines}
    parts = [
        f"<h2>{html_text(CATEGORIES_TITLE)}</h2><p>The watched categories' #1, tracked or not,"
        " from Keepa's best seller lists: one bar per stretch at #1.</p>"
    ]
    for category in categories:
        parts.append(f"<h3>{html_text(category_label(category))}</h3>")
        parts.append(f"<p>{html_text(now_holder_words(category, zone))}</p>")
        timeline = drawn.get((category.marketplace, category.category_id))
        if timeline is not None:
            key = f"c-{category.marketplace}-{category.category_id}"
            svg = timeline_svg(timeline, zone=zone, styled=False, key=key)
            parts.append(f"<figure>{svg}</figure>")
        if category.stretches:
            parts.append(stretch_table(category, zone=zone))
    return "".join(parts)


def holder_name(stretch: CategoryStretch) -> str:
    whose = ROLES.get(stretch.role, stretch.role)
    return f"{product_name(stretch.asin, stretch.title)} ({whose})"


def now_holder_words(category: CategoryHolders, zone: ZoneInfo) -> str:
    updated = local_time(category.list_updated_at, zone) if category.list_updated_at else "never"
    source = f"Source: {category.source}, updated {updated}."
    current = category.current
    if current is None:
        return f"No list with a #1 yet. {source}"
    since = local_time(current.held_from, zone)
    return f"#1 now: {holder_name(current)}, ASIN {current.asin}, since {since}. {source}"


def stretch_table(category: CategoryHolders, *, zone: ZoneInfo) -> str:
    rows = [
        "<tr>"
        f'<td><a href="{html_text(amazon_url(s.asin, category.marketplace))}">'
        f"{html_text(product_name(s.asin, s.title))}</a><br><small>{html_text(s.asin)}</small></td>"
        f"<td>{html_text(ROLES.get(s.role, s.role))}</td>"
        f"<td>{html_text(local_time(s.held_from, zone))}</td>"
        f"<td>{html_text(local_time(s.held_until, zone) if s.held_until else 'holds it')}</td>"
        "</tr>"
        for s in category.stretches
    ]
    head = "<tr><th>Holder</th><th>Whose</th><th>From</th><th>Until</th></tr>"
    return (
        f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )


def chart_section(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    report = pictures.report
    if not pictures.charts:
        return ""
    key = legend_svg(zone, styled=False)
    parts = [f"<h2>Rank over time</h2><figure>{key}</figure>"]
    for a in by_badge_share(report.asins):
        chart = pictures.charts.get((a.asin, a.marketplace))
        if chart is None:
            continue
        name = product_name(a.asin, a.title)
        svg = product_svg(
            chart,
            title=f"{a.asin}: {name}"[:90],
            zone=zone,
            styled=False,
            key=f"{a.asin}-{a.marketplace}",
        )
        parts.append(
            f'<figure id="{html_text(f"chart-{a.asin}-{a.marketplace}")}">'
            f"<h3>{html_text(name)}</h3>{svg}"
            "<figcaption>Rank in each category where it came within the top 10, log scale,"
            f" #1 at the top; times in {html_text(zone_name(zone))}.</figcaption></figure>"
        )
    return "".join(parts)


def changes_section(pictures: ReportPictures, *, zone: ZoneInfo) -> str:
    events = pictures.report.changes.events
    if not events:
        return "<h2>Changes</h2><p>No badge changes in this period.</p>"
    rows = []
    for e in events:
        # The kind in words and its colour, without its emoji: a browser without an emoji
        # font (Debian's Chromium, a printer) draws an empty box where it should be.
        rows.append(
            "<tr>"
            f"<td>{html_text(local_time(e.changed_at, zone))}</td>"
            f'<td class="{html_text(e.kind.value)}">{html_text(kind_of(e.kind).bucket)}</td>'
            f"<td>{html_text(product_name(e.asin, e.title))}<br>"
            f"<small>{html_text(e.asin)}</small></td>"
            f"<td>{html_text(change_label(e))}</td>"
            f'<td class="number">{html_text(rank_move(e))}</td>'
            "</tr>"
        )
    head = "<tr><th>When</th><th>Change</th><th>Product</th><th>Category</th><th>Rank</th></tr>"
    return (
        f"<h2>Changes ({len(events)})</h2>"
        f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )
