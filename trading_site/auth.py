"""allauth adapter: accounts are created by admins (``manage.py create_user``), never by sign-up.

The console's log-in and the API's token endpoint both authenticate through this adapter, so both
get allauth's failed-attempt limits (``LOGIN_RATE_LIMIT``, per client address and per account) and
both record every failed attempt in the action log (``login.failed``).
"""

from allauth.account.adapter import DefaultAccountAdapter

from trading_site.audit import action_record
from trading_site.lib.clientip import client_ip


class NoSignupAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def authentication_failed(self, request, **credentials) -> None:
        super().authentication_failed(request, **credentials)
        action_record(actor=None, action="login.failed", reason="wrong username or password",
                      data={"username": str(credentials.get("username", ""))[:150], "ip": client_ip(request) or "",
                            "path": request.path[:200]})
