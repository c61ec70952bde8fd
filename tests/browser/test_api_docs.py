"""/api/docs/ works offline: Swagger UI comes from our own static files (drf-spectacular-sidecar).

Before, the page loaded Swagger UI from a CDN and stayed blank without internet. Every request the
browser makes is recorded: none may leave the live server's host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_list_the_operations_from_our_own_host(page, live_server, make_user):
    make_user("olivia", "viewer")
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/orders/" in [p.replace("\u200b", "") for p in paths]
    assert page.locator(".opblock").count() >= 20
    hosts = {urlsplit(url).netloc for url in requested if urlsplit(url).scheme in ("http", "https")}
    assert hosts == {urlsplit(live_server.url).netloc}, sorted(requested)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requested)
