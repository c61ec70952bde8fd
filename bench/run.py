"""Benchmark runner: ``make bench`` → ``bench/results.json``.

Sets up Django with the test settings (PostgreSQL + Redis on localhost), creates a scratch test
database (``test_<name>``) so benchmarks may write freely, imports every ``bench/bench_*.py`` and
calls its ``run()`` on a freshly flushed database, which returns a list of ``{"name", "value", "unit", "budget", "ok"}``.
Usage: ``python -m bench.run [pattern ...]`` (substring filter on module names).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_site.settings_test")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading_bench")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    results: list[dict] = []
    failures = 0
    try:
        modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
        if argv:
            modules = [m for m in modules if any(a in m for a in argv)]
        for name in modules:
            started = time.perf_counter()
            print(f"== {name}", flush=True)
            # Each benchmark starts from an empty database and cache: one module's rows (positions,
            # orders, a latched breaker) must not change what the next one measures.
            call_command("flush", interactive=False, verbosity=0)
            cache.clear()
            try:
                items = importlib.import_module(f"bench.{name}").run()
            except Exception:
                failures += 1
                traceback.print_exc()
                results.append({"name": name, "value": None, "unit": "", "budget": "runs", "ok": False})
                continue
            for item in items:
                missing = {"name", "value", "unit", "budget", "ok"} - set(item)
                if missing:
                    raise ValueError(f"{name}: result {item} lacks {missing}")
                mark = "ok " if item["ok"] else "OVER"
                print(f"   [{mark}] {item['name']}: {item['value']} {item['unit']} (budget {item['budget']})", flush=True)
            results.extend(items)
            print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    over = [r["name"] for r in results if not r["ok"]]
    print(f"\n{len(results)} results, {len(over)} over budget{': ' + ', '.join(over) if over else ''}; wrote bench/results.json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
