"""``X-Demo-Market`` on API responses while the demo market runs: prices and bar dates an integration
reads are re-dated real history, and the header names the real day (docs/CONCEPTS/demo-market.md)."""

from __future__ import annotations

from marketdata.demo_market import demo_label, enabled


class DemoMarketHeaderMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") and enabled():
            label = demo_label()
            if label:
                # HTTP header values are latin-1: the em dash is sent as a plain hyphen
                response["X-Demo-Market"] = label.replace("—", "-")
        return response
