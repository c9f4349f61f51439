"""The pages' security headers, and /docs with no internet: the real app on uvicorn,
headless Chromium in the test's own loopback-only network namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lawline.queue.settings import RoutingSettings
from tests.browser import PASSWORD, chromium, lawline_with_wang, needs_browser, sign_in
from tests.lawline_server import Running


@pytest.fixture
async def lawline(clean_redis_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with lawline_with_wang(tmp_path, clean_redis_url, RoutingSettings()) as running:
        yield running


async def test_pages_files_and_the_api_send_a_content_security_policy(lawline: Running) -> None:
    async with httpx.AsyncClient(base_url=lawline.base) as http:
        paths = [
            "/login",
            "/console",
            "/cases",
            "/terminal",
            "/mediation",
            "/mediation/join",
            "/docs",
            "/static/console/main.js",
            "/static/swagger-ui/swagger-ui-bundle.js",
            "/openapi.json",
            "/api/session",
        ]
        for path in paths:
            r = await http.get(path)
            csp = {
                d.strip().split(" ", 1)[0]: d.strip()
                for d in r.headers.get("content-security-policy", "").split(";")
            }
            assert csp.get("default-src") == "default-src 'self'", (path, r.headers)
            assert csp.get("script-src") == "script-src 'self'", path  # no inline script
            assert csp.get("frame-ancestors") == "frame-ancestors 'none'", path
            assert r.headers.get("x-content-type-options") == "nosniff", path
        # The page's scripts are files: no inline script for the policy to block.
        pages = ["/login", "/supervisor", "/console", "/cases", "/terminal", "/docs"]
        for page in [*pages, "/mediation", "/mediation/join"]:
            assert "<script>" not in (await http.get(page)).text, page


@needs_browser
async def test_docs_render_the_api_with_no_internet_and_no_policy_violation(
    lawline: Running,
) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        elsewhere: list[str] = []
        violations: list[str] = []
        page.on(
            "request", lambda r: None if r.url.startswith(lawline.base) else elsewhere.append(r.url)
        )
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        await page.goto(f"{lawline.base}/docs")
        # Swagger UI built from lawline's own copy lists the API's operations.
        session = page.locator(".opblock-summary-path", has_text="/api/session")
        await session.first.wait_for(timeout=20_000)
        assert await page.locator(".opblock").count() > 20
        assert await page.locator(".info .title", has_text="lawline").count() == 1
        # And the sign-in and console pages work under the same policy.
        await sign_in(page, lawline.base, "wang", PASSWORD)
        assert elsewhere == []
        assert violations == []
