"""Drives headless Chromium (Debian's, through Playwright) at the dashboard.

    python tests/browser_for_tests.py URL SCREENSHOT WORKER...

Prints 'workers shown' once every WORKER has a row, waits for a line on
stdin (the test has started a job), then prints 'moved FIRST LATER' once
the workers' 'done' total on the page has grown, takes SCREENSHOT, exits 0.
"""
from __future__ import annotations

import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def done_total(page) -> int:
    cells = page.locator("#workers tbody td.done").all_inner_texts()
    return sum(int(text) for text in cells if text.strip().isdigit())


def main() -> None:
    url, screenshot, *workers = sys.argv[1:]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(url)
            for worker in workers:
                page.wait_for_selector(f'#workers tr[data-worker="{worker}"]', timeout=20000)
            assert page.locator('#servers tr[data-server] td.state').first.inner_text() == "up"
            print("workers shown", flush=True)
            sys.stdin.readline()
            first = done_total(page)
            deadline = time.monotonic() + 20
            later = first
            while later <= first and time.monotonic() < deadline:
                page.wait_for_timeout(250)  # the page reads the cluster every second
                later = done_total(page)
            topology = page.locator("#topology g.worker").count()
            page.screenshot(path=screenshot, full_page=True)
            print(f"moved {first} {later} topology-workers {topology}", flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
