"""Pre-flight for ``make test``/``make bench``: do PostgreSQL and Redis answer? Exit 1 with advice if not."""

from __future__ import annotations

import os
import sys


def main() -> int:
    import psycopg
    import redis

    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trading")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    problems = []
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        problems.append(
            f"PostgreSQL does not answer at {admin_url.split('@')[-1]} ({exc.__class__.__name__}: {str(exc).strip()[:200]}).\n"
            "  Start it (Debian): pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "  or point DATABASE_URL at a running server."
        )
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(
            f"Redis does not answer at {redis_url} ({exc.__class__.__name__}).\n"
            "  Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no\n"
            "  or point REDIS_URL at a running server."
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("PostgreSQL and Redis answer.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
