"""Headless Chromium for tests that must see a page the way a browser does.

Driven by Playwright with the system's browser (Debian's ``/usr/bin/chromium``, or
``$MONITOR_TEST_CHROMIUM``); ``playwright install`` (a browser download) is never needed. When the
browser or Playwright is missing the test is skipped, unless ``MONITOR_TEST_REQUIRE_BROWSER=1``
(CI), which fails it instead so a broken setup cannot pass silently.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM_ENV = "MONITOR_TEST_CHROMIUM"
REQUIRE_ENV = "MONITOR_TEST_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed afterwards; skips (or fails, see above) when there is none."""
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if not os.access(path, os.X_OK):
        unavailable(f"no Chromium at {path}")
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(executable_path=path, timeout=30_000)
        except Error as exc:
            unavailable(f"cannot start {path}: {exc.message.splitlines()[0]}")
        try:
            yield browser
        finally:
            await browser.close()
