"""Charts for Slack: the SVG the HTML report shows, as a PNG drawn by resvg with the fonts
installed on the machine (DejaVu Sans in the Docker image), to upload into a thread."""

import resvg_py

# 1080 x 450 pixels for a 720 x 300 chart: sharp on a phone, a few tens of kilobytes.
ZOOM = 1.5


def png_of(svg: str) -> bytes:
    """The SVG drawn on white; a ValueError when resvg cannot draw it."""
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", zoom=ZOOM))
