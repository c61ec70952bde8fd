"""Failed logins are rate-limited per account through the shared cache (Redis here)."""

from __future__ import annotations

from django.core.cache import cache
from django.test import Client

THROTTLED = b"Too many failed login attempts"


def attempt(client: Client, password: str):
    return client.post("/accounts/login/", {"login": "operator1", "password": password})


def test_sixth_failed_login_for_an_account_is_throttled(operator):
    cache.clear()
    client = Client()
    for i in range(5):
        response = attempt(client, f"wrong-{i}")
        assert response.status_code == 200 and THROTTLED not in response.content
    assert THROTTLED in attempt(client, "wrong-5").content
    # Even the right password is refused while throttled: guessing cannot continue.
    response = attempt(client, "correct-horse-battery")
    assert response.status_code == 200 and THROTTLED in response.content
    assert "_auth_user_id" not in client.session
    cache.clear()  # the window passes
    response = attempt(client, "correct-horse-battery")
    assert response.status_code == 302 and response["Location"] == "/"
