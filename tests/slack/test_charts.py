"""A chart as a PNG: the same SVG the HTML report shows, drawn at the size Slack gets, its
words drawn in glyphs (a font is installed), not left out."""

import io
import re

from PIL import Image, ImageChops

from bestseller_cli.pictures.charts import product_svg
from bestseller_cli.shapes.rank_history import chart_of
from bestseller_cli.slack.charts import png_of
from tests.pictures.test_charts import GRID, HOURLY, UTC_ZONE, category, history, hours


def picture(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("L")


def test_a_chart_becomes_a_png_with_its_text_drawn() -> None:
    product = history(hours(*range(24)), category({0: 4, 6: 1, 15: 2}))
    chart = chart_of(product, grid=GRID, max_gap=HOURLY, changes=[])
    svg = product_svg(chart, title="Acme Garlic Press, Stainless Steel", zone=UTC_ZONE)
    drawn = picture(png_of(svg))
    assert drawn.size == (1080, 450)  # the 720 x 300 chart at 1.5x
    without_text = picture(png_of(re.sub(r"<text[^>]*>[^<]*</text>", "", svg)))
    glyphs = ImageChops.difference(drawn, without_text)
    title = sum(glyphs.crop((0, 0, 1080, 45)).histogram()[101:])  # pixels text changed
    assert title > 500, "no glyphs drawn: install a font (fonts-dejavu-core)"
    assert len(png_of(svg)) < 100_000
