"""The web page in headless Chromium: axe-core on every kind of page, and a keyboard-only walk.

The plan download is also shown in place under its own security policy, to prove its inline
styles still apply.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path

import pytest

from .browser import MISSING, WebServer, axe_violations, browser, describe

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

# (question, labels to choose) for a Mutual's path; multi-selects tick several.
PATH = [
    ("org_type", ["A Public Service Mutual"]),
    ("role", ["Finance"]),
    ("service", ["Social care"]),
    ("region", ["North West"]),
    ("staff", ["11 to 50"]),
    ("turnover", ["£1m to £5m"]),
    ("years", ["1 to 3 years"]),
    ("confidence", ["2"]),
    ("experience", ["Subcontracting as the lead"]),
    ("success", ["3"]),
    ("appetite", ["We might"]),
    ("motivations", ["Work in new areas"]),
    ("barriers", ["Cost of setting one up", "No seed funding"]),
    ("top_barrier", ["No seed funding"]),
    ("support", ["Bid writing"]),
    ("live_bid", ["Not at the moment"]),
    ("rc_service", ["No"]),  # the reserved contract's first test (asked: Bid writing)
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("web") / "triage.db"
    # Contacts as a deployment sets them (the website left unset), so axe sees them too.
    s = WebServer(
        db,
        TRIAGE_CONTACT_EMAIL="partnerships@mutuals-programme.invalid",
        TRIAGE_CONTACT_PHONE="+44 161 496 0999",
        TRIAGE_CONTACT_HOURS="Monday to Friday, 9am to 5pm",
    ).start()
    yield s
    assert s.stop() == 0  # SIGTERM stops it cleanly
    assert "Traceback" not in s.stderr, s.stderr
    assert "programme contacts not set: TRIAGE_CONTACT_WEBSITE (" in s.stderr, s.stderr


def check_axe(driver, kind: str, seen: dict[str, int]) -> None:
    violations = axe_violations(driver)
    assert violations == [], f"{kind}: {describe(violations)}"
    seen[kind] = seen.get(kind, 0) + 1


def choose(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//label[normalize-space()='{label}']").click()


def click_and_wait(driver, xpath: str) -> None:
    """Click a button that sends a form, and wait for the next page to load."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.XPATH, xpath).click()

    def gone(_driver: object) -> bool:
        # The old page's element is gone once the next page has loaded (chromedriver says
        # so with one error or another, depending on the moment it is asked).
        try:
            page.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(driver, 15).until(gone)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def cont(driver) -> None:
    click_and_wait(driver, "//main//button[normalize-space()='Continue']")


def test_every_kind_of_page_passes_axe(server: WebServer) -> None:
    from selenium.webdriver.common.by import By

    seen: dict[str, int] = {}
    with browser() as driver:
        driver.get(server.url + "/")
        assert "js-enabled" in driver.find_element(By.TAG_NAME, "body").get_attribute("class")
        check_axe(driver, "welcome", seen)
        click_and_wait(driver, "//button[contains(., 'Start now')]")
        kinds_done: set[str] = set()
        for question, labels in PATH:
            assert driver.current_url.endswith(f"/question/{question}"), (
                driver.title + driver.find_element(By.TAG_NAME, "main").text[:600]
            )
            kind = {"confidence": "scale", "success": "scale"}.get(question)
            kind = kind or (
                "multi"
                if question in ("experience", "motivations", "barriers", "support")
                else "single"
            )
            if kind not in kinds_done:
                check_axe(driver, kind, seen)
                if kind == "multi":
                    # JavaScript's exclusive behaviour: ticking "None yet" unticks the rest.
                    choose(driver, labels[0])
                    choose(driver, "None yet")
                    ticked = driver.find_elements(By.CSS_SELECTOR, "input[type=checkbox]:checked")
                    assert [t.get_attribute("value") for t in ticked] == ["none"]
                    choose(driver, "None yet")
                    cont(driver)  # nothing ticked: an error
                    assert driver.title.startswith("Error: ")
                    focused = driver.switch_to.active_element.get_attribute("class") or ""
                    assert "govuk-error-summary" in focused  # focus moves to the summary
                    check_axe(driver, "error", seen)
                kinds_done.add(kind)
            for label in labels:
                choose(driver, label)
            cont(driver)
        assert driver.current_url.endswith("/question/comments")
        check_axe(driver, "text", seen)
        driver.find_element(By.ID, "answer").send_keys("Looking for partners in Cumbria.")
        cont(driver)
        assert driver.current_url.endswith("/check-answers")
        check_axe(driver, "summary", seen)
        click_and_wait(driver, "//button[contains(., 'Confirm')]")
        assert driver.current_url.endswith("/result")
        assert re.search(r"MPSP-[A-Z0-9]{4}-[A-Z0-9]{4}", driver.page_source)
        assert "mailto:partnerships@mutuals-programme.invalid" in driver.page_source
        check_axe(driver, "result", seen)
        plan_looks_right_under_the_pages_policy(driver)
        driver.get(server.url + "/privacy")
        check_axe(driver, "privacy", seen)
        # The accessibility statement (from the footer) and 'Delete my answers' question.
        driver.find_element(By.LINK_TEXT, "Accessibility statement").click()
        assert driver.current_url.endswith("/accessibility")
        check_axe(driver, "accessibility statement", seen)
        driver.find_element(By.LINK_TEXT, "Delete my answers").click()
        assert driver.current_url.endswith("/forget")
        check_axe(driver, "delete question", seen)
        driver.find_element(By.LINK_TEXT, "Keep").click()  # nothing deleted: the result again
        assert driver.current_url.endswith("/result")
        driver.get(server.url + "/no-such-page")
        check_axe(driver, "not found", seen)
    assert set(seen) == {
        "welcome",
        "single",
        "scale",
        "multi",
        "error",
        "text",
        "summary",
        "result",
        "privacy",
        "accessibility statement",
        "delete question",
        "not found",
    }


def plan_looks_right_under_the_pages_policy(driver) -> None:
    """The plan download carries the page's policy; its own styles must still apply under it.

    A browser downloads the file rather than showing it, so the same bytes are served again
    here, in place, with the download's policy, and again with a page's policy as a control.
    """
    from bot.channels.web.security import CSP

    fetched = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/result/plan.html').then(async r => done([r.status,"
        " r.headers.get('content-disposition'), r.headers.get('content-security-policy'),"
        " await r.text()]));"
    )
    status, disposition, policy, body = fetched
    assert status == 200 and disposition.startswith("attachment;") and policy != CSP
    with serve_in_place(body.encode(), {"plan": policy, "control": CSP}) as url:
        widths = {}
        for name in ("plan", "control"):
            driver.get(f"{url}/{name}")
            widths[name] = driver.execute_script(
                "return getComputedStyle(document.querySelector('h2')).borderTopWidth"
            )
    assert widths == {"plan": "3px", "control": "0px"}, widths


@contextlib.contextmanager
def serve_in_place(body: bytes, policies: dict[str, str]):
    """A loopback server showing ``body`` as a page at /<name>, under each named policy."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", policies[self.path.strip("/")])
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_keyboard_only_walk_reaches_the_result(server: WebServer) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with browser(width=320, height=800) as driver:
        driver.get(server.url + "/")

        def press(*keys: str) -> None:
            ActionChains(driver).send_keys(*keys).perform()

        def tab_to(test, limit: int = 60) -> None:
            for _ in range(limit):
                press(Keys.TAB)
                el = driver.switch_to.active_element
                if test(el):
                    return
            raise AssertionError(f"never reached the element on {driver.current_url}")

        def is_button(text: str):
            return lambda el: el.tag_name == "button" and text in el.text

        tab_to(is_button("Start now"))
        press(Keys.ENTER)
        pages = 0
        while "/question/" in driver.current_url and pages < 40:
            pages += 1
            here = driver.current_url
            field = driver.find_elements(
                By.CSS_SELECTOR, "main input[type=radio], main input[type=checkbox], main textarea"
            )
            kind = field[0].get_attribute("type") if field else ""
            if kind == "textarea":
                tab_to(lambda el: el.tag_name == "textarea")
                press("Typed with the keyboard only.")
            else:
                tab_to(lambda el: el.get_attribute("name") == "answer")
                press(Keys.SPACE)
            tab_to(is_button("Continue"))
            press(Keys.ENTER)
            deadline = time.monotonic() + 10
            while driver.current_url == here and time.monotonic() < deadline:
                time.sleep(0.05)
            assert driver.current_url != here, driver.page_source[:3000]
        assert driver.current_url.endswith("/check-answers"), driver.current_url
        tab_to(is_button("Confirm"))
        press(Keys.ENTER)
        deadline = time.monotonic() + 10
        while not driver.current_url.endswith("/result") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver.current_url.endswith("/result")
        assert "Your reference code" in driver.page_source
        # Nothing is wider than a 320-pixel phone.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 320


def test_works_with_javascript_off(server: WebServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with browser(width=320, height=800, javascript=False) as driver:
        driver.get(server.url + "/")
        assert "js-enabled" not in (
            driver.find_element(By.TAG_NAME, "body").get_attribute("class") or ""
        )
        click_and_wait(driver, "//button[contains(., 'Start now')]")
        choose(driver, "A commissioner or public body")
        cont(driver)
        choose(driver, "Running a pilot")
        choose(driver, "All of these")
        cont(driver)  # without JavaScript, the server refuses the mix
        assert driver.title.startswith("Error: ")
        assert "on its own" in driver.find_element(By.CLASS_NAME, "govuk-error-summary").text
        choose(driver, "All of these")
        cont(driver)
        assert driver.current_url.endswith("/question/service")


def test_the_browsers_own_back_button_goes_back_and_a_change_carries_on(
    server: WebServer,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def at(question: str) -> None:
        WebDriverWait(driver, 15).until(lambda d: d.current_url.endswith(question))
        WebDriverWait(driver, 15).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def ticked() -> list[str]:
        boxes = driver.find_elements(By.CSS_SELECTOR, "main input[name=answer]:checked")
        return [b.get_attribute("value") for b in boxes]

    with browser(width=375, height=667) as driver:
        driver.get(server.url + "/")
        click_and_wait(driver, "//button[contains(., 'Start now')]")
        for _question, labels in PATH[: [q for q, _ in PATH].index("appetite")]:
            for label in labels:
                choose(driver, label)
            cont(driver)
        assert driver.current_url.endswith("/question/appetite")
        # Three times the browser's own Back: each earlier question, its answer ticked.
        for question, value in (
            ("success", "v3"),
            ("experience", "sub_lead"),
            ("confidence", "v2"),
        ):
            driver.back()
            at(f"/question/{question}")
            assert "out of date" not in driver.find_element(By.TAG_NAME, "main").text
            assert ticked() == [value], (question, driver.page_source[:2000])
        # Forward once, and change the experience: "None yet" closes the success question.
        driver.forward()
        at("/question/experience")
        choose(driver, "Subcontracting as the lead")
        choose(driver, "None yet")
        cont(driver)
        # Back where they were, with the success question gone from their path.
        at("/question/appetite")
        assert "out of date" not in driver.find_element(By.TAG_NAME, "main").text
        for _question, labels in PATH[[q for q, _ in PATH].index("appetite") :]:
            for label in labels:
                choose(driver, label)
            cont(driver)
        cont(driver)  # the comments question, left empty
        assert driver.current_url.endswith("/check-answers")
        summary = driver.find_element(By.TAG_NAME, "main").text
        assert "None yet" in summary and "How well it went" not in summary
        click_and_wait(driver, "//button[contains(., 'Confirm')]")
        assert driver.current_url.endswith("/result")
        assert "Your reference code" in driver.page_source
        # The result fits in about three phone screens (it was eleven): sections are links.
        height = driver.execute_script("return document.body.scrollHeight")
        assert height <= 3.5 * 667, height
        click_and_wait(driver, "//main//a[normalize-space()='Ways to partner']")
        assert driver.current_url.endswith("/result/models")
        check_axe(driver, "section", {})
