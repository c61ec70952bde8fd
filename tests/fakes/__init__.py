"""Local fakes of external services (Alpaca) for tests."""
