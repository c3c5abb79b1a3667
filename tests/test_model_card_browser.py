"""The model card in a real browser: Debian's Chromium, driven by Playwright, as a person opens the file
on a machine without a network. The page must request nothing but itself, log no console or script
error, and show the headline test score with its interval as visible text."""
from pathlib import Path

import pytest

from stages.lib import model_card, paths
from tests.conftest import ROOT
from tests.test_model_card import HOSTILE, expected_headline, write_reports

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"needs Debian's Chromium at {CHROMIUM}: `apt-get install chromium` "
                                  "(.ci/run installs it, so CI never skips this)")


def open_in_chromium(card: Path) -> dict:
    """What a browser did with the card: the requests it attempted, console messages, script errors, the
    headline's text and visibility, and whether every image decoded."""
    from playwright.sync_api import sync_playwright

    url = card.resolve().as_uri()
    seen = {"requests": [], "console": [], "errors": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            page.on("request", lambda request: seen["requests"].append(request.url))
            page.on("console", lambda message: seen["console"].append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            # Every request but the card's own is recorded above and refused here: nothing leaves the machine.
            page.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
            page.goto(url, wait_until="load")
            page.wait_for_load_state("networkidle")
            headline = page.locator("#headline")
            seen["headline"], seen["visible"] = headline.inner_text(), headline.is_visible()
            seen["text"] = page.locator("body").inner_text()
            seen["images"] = page.evaluate("Array.from(document.images, image => image.naturalWidth > 0)")
            seen["scripts"] = page.locator("script").count()
        finally:
            browser.close()
    seen["requests"] = [request for request in seen["requests"] if request != url]
    return seen


def assert_offline_and_clean(seen: dict) -> None:
    assert seen["requests"] == [], "the card asked for something besides itself"
    assert [m for m in seen["console"] if m.startswith(("error", "warning"))] == []
    assert seen["errors"] == [] and seen["scripts"] == 0
    assert seen["images"] and all(seen["images"]), "an image did not decode"


def test_the_committed_card_opens_offline_and_shows_the_headline_with_its_interval():
    card = ROOT / paths.MODEL_CARD
    assert card.exists(), f"{paths.MODEL_CARD} is committed with the other reports: run `dvc repro` and commit it"
    seen = open_in_chromium(card)
    assert_offline_and_clean(seen)
    assert seen["visible"] and seen["headline"] == expected_headline(ROOT)
    assert "Limitations and what to expect" in seen["text"]


def test_user_data_that_looks_like_html_stays_text_in_the_browser(tmp_path):
    """Class names, texts and table cells come from the user's data: a script or an image URL in them must
    neither run nor load, and must show as typed."""
    write_reports(tmp_path, "text", "classification", 2)
    card = tmp_path / "card.html"
    card.write_text(model_card.render(model_card.gather(tmp_path)))
    seen = open_in_chromium(card)
    assert_offline_and_clean(seen)
    assert seen["visible"] and seen["headline"] == expected_headline(tmp_path)
    assert HOSTILE in seen["text"]
