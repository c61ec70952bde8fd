"""The real client address of a request, in one place (rate limits, token use, /healthz details).

``NUM_PROXIES`` (settings) says how many reverse proxies under our control stand in front of the
app: 0 — the TCP peer is the client and ``X-Forwarded-For`` is ignored; N — the N-th address from
the right of ``X-Forwarded-For``. allauth's log-in limits read the same setting
(``ALLAUTH_TRUSTED_PROXY_COUNT``), DRF's throttles too (``REST_FRAMEWORK["NUM_PROXIES"]``).
"""

from __future__ import annotations

import ipaddress

from allauth.account.adapter import get_adapter
from django.core.exceptions import ImproperlyConfigured, PermissionDenied


def client_ip(request) -> str | None:
    try:
        return get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        # No address, or fewer X-Forwarded-For entries than NUM_PROXIES (a request that bypassed
        # the proxies): no address we can trust.
        return None


def client_in_networks(request, networks) -> bool:
    address = client_ip(request)
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
