"""manage.py run_platform — start web (gunicorn), a Celery worker, beat and the trade stream together;
Ctrl-C stops all.

This is what ``make run`` ends with. Each child is a normal production process (the same commands
the docker compose services run); this command only supervises them: if one exits, the others are
stopped too, so a half-running platform never pretends to be healthy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.brokers import trade_stream_expected
from trading_site.demo import DEMO_USERS, demo_password_known
from trading_site.lib import queues


def demo_logins_line() -> str:
    """The demo logins, when the demo users exist and their password is known to this machine."""
    from django.contrib.auth import get_user_model

    if not get_user_model().objects.filter(username__in=DEMO_USERS).exists():
        return ""
    password = demo_password_known(os.environ.get("DEMO_PASSWORD"))
    return f"Logins: {' / '.join(DEMO_USERS)} with password {password}" if password else ""


def process_commands(*, port: int, host: str) -> dict[str, list[str]]:
    python = sys.executable
    bindir = os.path.dirname(python)
    commands = {
        "web": [
            os.path.join(bindir, "gunicorn"),
            "trading_site.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(settings.WEB_WORKERS),
            "--threads", str(settings.WEB_THREADS),
            "--access-logfile", "-",
            "--graceful-timeout", "10",
        ],
        "worker": [
            os.path.join(bindir, "celery"), "-A", "trading_site", "worker",
            "--queues", ",".join(queues.ALL),
            "--concurrency", "2",
            "--loglevel", "INFO",
            "--hostname", "embedded@%h",
        ],
        "beat": [os.path.join(bindir, "celery"), "-A", "trading_site", "beat", "--loglevel", "INFO"],
    }
    if trade_stream_expected():
        commands["trade_stream"] = [python, "manage.py", "run_trade_stream"]
    return commands


class Command(BaseCommand):
    help = "Run web, worker and beat in the foreground until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host: str, port: int, **options):
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in process_commands(port=port, host=host).items():
            children[name] = subprocess.Popen(command, cwd=settings.BASE_DIR)
            self.stdout.write(f"started {name} (pid {children[name].pid})")
        self.stdout.write(self.style.SUCCESS(f"\nConsole: http://{host}:{port}/   Health: http://{host}:{port}/healthz"))
        logins = demo_logins_line()
        if logins:
            self.stdout.write(logins)
        self.stdout.write("Press Ctrl-C to stop every process.\n")
        exit_code = 0
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with status {child.returncode}; stopping the platform")
                        exit_code = 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("all processes stopped")
        if exit_code:
            sys.exit(exit_code)
