"""The Content-Security-Policy holds on the console's main pages in Chromium: no violation reported
(issue 20). Violations are caught twice: the page's ``securitypolicyviolation`` events and
Chromium's console messages about the policy."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/orders/", "/orders/new/", "/strategies/", "/runs/", "/risk/", "/audit/", "/compliance/"]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


def test_console_pages_raise_no_csp_violation(page, live_server, make_user, console_market):
    make_user("olivia", "operator")
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(f"{live_server.url}/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.evaluate("window.__cspViolations") == []
    login(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
    # htmx has run its polls and swaps on the dashboard by now, too.
    page.goto(f"{live_server.url}/")
    page.wait_for_timeout(2500)
    assert page.evaluate("window.__cspViolations") == []
    assert messages == []
