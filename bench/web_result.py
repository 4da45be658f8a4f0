"""How long is the web page's result on a phone?

Walks the check in headless Chromium (Debian's chromium and chromedriver, as the browser
tests use) against a real `python -m bot web`, at 375 x 667 CSS pixels, with the answers
of the chat tests' Mutual (tests/test_web.py's MUTUAL), and prints for the result page and
then each section page: the page's height (document.body.scrollHeight), that height in
screens of 667 pixels, and its visible words (document.body.innerText, header and footer
included).

    python -m bench.web_result [--sections]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import MISSING, WebServer, browser  # noqa: E402
from tests.test_web import MUTUAL  # noqa: E402
from tests.test_web_browser import click_and_wait, cont  # noqa: E402

WIDTH, HEIGHT = 375, 667
_WORDS = "return document.body.innerText.split(/\\s+/).filter(Boolean).length"


def measure(driver: object) -> str:
    """One page's height and word count, as one line."""
    height = driver.execute_script("return document.body.scrollHeight")  # type: ignore[attr-defined]
    words = driver.execute_script(_WORDS)  # type: ignore[attr-defined]
    return f"{height:,} px = {height / HEIGHT:.1f} screens of {HEIGHT}; {words:,} words"


def main() -> None:
    """Walk to the result and print its figures (and each section page's, if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", action="store_true", help="also each section's page")
    args = parser.parse_args()
    if MISSING:
        sys.exit(MISSING)
    from selenium.webdriver.common.by import By

    server = WebServer(Path(tempfile.mkdtemp()) / "triage.db").start()
    try:
        with browser(width=WIDTH, height=HEIGHT) as driver:
            driver.get(server.url + "/")
            click_and_wait(driver, "//button[contains(., 'Start now')]")
            for _question, codes in MUTUAL:
                for code in codes:
                    css = f"input[name=answer][value={code}]"
                    driver.find_element(By.CSS_SELECTOR, css).click()
                cont(driver)
            cont(driver)  # the comments question, left empty
            click_and_wait(driver, "//button[contains(., 'Confirm')]")
            print(f"/result: {measure(driver)}")
            if args.sections:
                links = driver.find_elements(By.CSS_SELECTOR, "nav.triage-contents a")
                for url in [a.get_attribute("href") for a in links]:
                    driver.get(url)
                    print(f"{url.removeprefix(server.url)}: {measure(driver)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
