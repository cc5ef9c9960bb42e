"""The page at / in headless Chromium (Debian's chromium + chromium-driver, through selenium): type,
pick, click Speak, and the audio element gets a playable source; register a recording as a voice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="the page test needs selenium (pip install -e '.[test]')")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_DRIVER = shutil.which("chromedriver") or (Path("/usr/bin/chromedriver") if Path("/usr/bin/chromedriver").exists() else None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (_CHROMIUM and _DRIVER), reason="needs Debian's chromium and chromium-driver (scripts/install.sh --test installs them)"),
]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = _CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(_DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _audio_ready(driver) -> bool:
    return bool(driver.execute_script(
        "const a = document.getElementById('player'); return a.src.startsWith('blob:') && a.readyState >= 1 && a.duration > 0;"))


def test_type_pick_speak_and_play(server, browser) -> None:
    url, _ = server
    browser.get(url + "/")
    WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "voice")).options) >= 2)
    assert [o.text for o in Select(browser.find_element(By.ID, "language")).options] == ["detect", "en-us", "es"]
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("El perro de San Roque.")
    Select(browser.find_element(By.ID, "voice")).select_by_value("bruno")
    browser.find_element(By.ID, "speed").clear()
    browser.find_element(By.ID, "speed").send_keys("0.34")
    browser.find_element(By.ID, "speak").click()
    WebDriverWait(browser, 60).until(_audio_ready)
    assert "es" in browser.find_element(By.ID, "status").text  # detected Spanish
    # An unknown language typed by hand comes back as the server's error, shown on the page.
    text.clear()
    text.send_keys("Привет")
    browser.find_element(By.ID, "speak").click()
    WebDriverWait(browser, 30).until(lambda d: "CYRILLIC" in d.find_element(By.ID, "status").text)


def test_upload_a_reference_and_speak_with_it(server, browser, reference: Path) -> None:
    url, _ = server
    browser.get(url + "/")
    WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "voice")).options) >= 2)
    browser.find_element(By.ID, "reference").send_keys(str(reference))
    browser.find_element(By.ID, "voice-name").send_keys("from-page")
    browser.find_element(By.ID, "register").click()
    WebDriverWait(browser, 60).until(lambda d: Select(d.find_element(By.ID, "voice")).first_selected_option.get_attribute("value") == "from-page")
    browser.find_element(By.ID, "speed").clear()
    browser.find_element(By.ID, "speed").send_keys("0.34")
    browser.find_element(By.ID, "speak").click()
    WebDriverWait(browser, 60).until(_audio_ready)
