"""Real local servers for tests: an OpenBao dev server, moto's AWS server and a fake Alpaca API.

Each binds 127.0.0.1 on a free port and is stopped by the caller (session fixtures in
trading_site/tests/conftest.py).
"""
