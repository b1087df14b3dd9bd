"""The HTML report in a real headless Chromium (Debian's `chromium`, which `.ci/run` installs),
driven by Playwright through `executable_path` (Playwright's own browser download is never
used): it renders, logs no error, asks the network for nothing, its screenshot is not blank,
on a phone's width nothing runs off the side, and its Content-Security-Policy lets its own
styles apply while no script runs and no image is fetched."""

import io
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.report.conftest import run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Exception as exc:  # the reason is Playwright's own words
            pytest.skip(f"Chromium cannot start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def open_report(
    browser: Browser, tmp_path: Path, *, width: int, height: int
) -> tuple[Page, list[str], list[str]]:
    """The report opened at `width`; returns the page, its errors and outside requests."""
    target = tmp_path / "report.html"
    result = run("report", "--html", str(target))
    assert result.exit_code == 0, result.stderr
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def refuse(route: Route) -> None:
        if route.request.url != target.as_uri():
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse)
    page.goto(target.as_uri(), wait_until="load")
    return page, errors, outside


def test_the_report_renders_in_chromium_without_errors_or_requests(
    history: psycopg.Connection, browser: Browser, tmp_path: Path
) -> None:
    page, errors, outside = open_report(browser, tmp_path, width=1000, height=1400)
    assert page.locator("svg.chart").count() >= 4  # two charts, two sparklines, a timeline
    assert page.locator("h1").inner_text().startswith("#1 Best Seller report")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the HTML report: {shot}")
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert image.size[0] == 1000 and image.size[1] > 1400  # the whole page, not a window
    assert len(colours) > 50  # text, charts and shading: not a blank page
    gold = sum(n for n, (r, g, b) in colours if r > 240 and 220 < g < 240 and b < 190)
    assert gold > 1000  # the #1 periods are shaded
    page.close()
    assert errors == []
    assert outside == []


def test_on_a_phone_nothing_runs_off_the_side(
    history: psycopg.Connection, browser: Browser, tmp_path: Path
) -> None:
    page, errors, outside = open_report(browser, tmp_path, width=390, height=844)
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('body > *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    widest_chart = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('figure svg')]"
        ".map(s => s.getBoundingClientRect().width))"
    )
    page.close()
    assert overflow == [] and errors == [] and outside == []
    assert widest_chart <= 390


def test_the_content_security_policy_lets_the_page_style_itself_and_nothing_else_run(
    history: psycopg.Connection, browser: Browser, tmp_path: Path
) -> None:
    page, errors, outside = open_report(browser, tmp_path, width=1000, height=1400)
    assert errors == []  # its own inline styles are allowed, and applied
    assert page.evaluate("() => getComputedStyle(document.body).maxWidth") == "960px"
    # Whatever got into the page could neither run a script nor fetch an image: Chromium
    # says so (waited for, not timed), and the image is never requested.
    with page.expect_console_message(lambda message: "tracker.invalid" in message.text):
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = 1'; document.head.append(s);"
            " const i = document.createElement('img'); i.src = 'https://tracker.invalid/p.png';"
            " document.body.append(i); }"
        )
    ran = page.evaluate("() => window.ran")
    page.close()
    assert ran is None
    assert outside == []
    refusals = [error for error in errors if "Content Security Policy" in error]
    assert any("script" in error for error in refusals), errors
    assert any("img-src" in error for error in refusals), errors
