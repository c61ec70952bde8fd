"""Secrets benchmark: ``get_secret`` cached (budget <0.1 ms, aim <0.01 ms) and uncached against a
real OpenBao dev server (reference target <50 ms), plus the uncached env backend.

Cached: the public ``get_secret`` (manager lookup, TTL check) in batches of 20,000 calls; the value
is the median over 15 batches of the per-call time. Uncached: 200 single reads each, median —
once the bare KV v2 read over HTTP, once through the manager with its audit row in PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import time

from django.test.utils import override_settings

from bench.util import median, percentile, result

BATCHES, PER_BATCH, SINGLE = 15, 20_000, 200


def _per_call_ms(fn, name: str) -> float:
    samples = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(PER_BATCH):
            fn(name)
        samples.append((time.perf_counter() - start) / PER_BATCH * 1000)
    return median(samples)


def _single_ms(fn) -> list[float]:
    samples = []
    for _ in range(SINGLE):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run() -> list[dict]:
    from tests.servers.openbao import openbao_start
    from trading_site.secret_store import get_secret
    from trading_site.secret_store.conf import secrets_config_from_env
    from trading_site.secret_store.local import EnvSecretManager
    from trading_site.secret_store.manager import CachedSecretManager, manager_build, manager_install

    bao = openbao_start()
    results = []
    try:
        env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token, "VAULT_PATH_PREFIX": "bench", "SECRETS_CACHE_TTL": "300"}
        manager = manager_build(secrets_config_from_env(env, backend="vault"))
        manager.backend.put_secret("ALPACA_API_KEY", "PKBENCHMARK0001")
        with override_settings(SECRETS_BACKEND="vault"):
            manager_install(manager)
            get_secret("ALPACA_API_KEY")  # warm: one backend read
            cached = _per_call_ms(get_secret, "ALPACA_API_KEY")
            results.append(result("secret retrieval, cached (get_secret)", cached, "ms", "<0.1 ms (aim <0.01 ms)", cached < 0.1))

            bare = _single_ms(lambda: manager.backend.get_secret("ALPACA_API_KEY"))
            results.append(result("secret retrieval, uncached OpenBao KV v2 read, median", median(bare), "ms", "<50 ms", median(bare) < 50))
            results.append(result("secret retrieval, uncached OpenBao KV v2 read, p95", percentile(bare, 95), "ms", "<50 ms", percentile(bare, 95) < 50))

            # 200 INFO lines would drown the runner's output; the row insert is what costs here.
            secrets_logger = logging.getLogger("trading_site.secrets")
            old_level = secrets_logger.level
            secrets_logger.setLevel(logging.WARNING)
            try:
                audited = _single_ms(lambda: manager.get_secret("ALPACA_API_KEY", fresh=True))
            finally:
                secrets_logger.setLevel(old_level)
            results.append(
                result("secret retrieval, uncached OpenBao + audit row, median", median(audited), "ms", "<50 ms", median(audited) < 50)
            )
        os.environ["BENCH_SECRET_VALUE"] = "PKBENCHMARK0002"
        env_manager = CachedSecretManager(EnvSecretManager(), ttl=300)
        env_manager.get_secret("BENCH_SECRET_VALUE")  # the one audited read of this TTL window
        env_ms = _per_call_ms(env_manager.get_secret, "BENCH_SECRET_VALUE")
        results.append(result("secret retrieval, env backend (uncached, audit throttled)", env_ms, "ms", "<0.1 ms", env_ms < 0.1))
    finally:
        manager_install(None)
        os.environ.pop("BENCH_SECRET_VALUE", None)
        bao.stop()
    return results
