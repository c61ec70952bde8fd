"""manage.py run_platform — start web (gunicorn), a Celery worker, beat and the trade stream together
and keep them running; Ctrl-C (or SIGTERM) stops all.

This is what ``make run`` ends with. Each child is a normal production process (the same commands
the docker compose services run). A child that exits unexpectedly is restarted with back-off
(:mod:`ops.supervisor`); only Ctrl-C / SIGTERM stops the platform. The console URL and the
demo logins are printed last, once ``/healthz`` answers 200.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from ops.supervisor import HEARTBEAT_NAME, Supervisor
from orders.brokers import trade_stream_expected
from trading_site.demo import DEMO_USERS, demo_password_file, demo_password_known
from trading_site.health import heartbeat_record
from trading_site.instance import AlreadyRunning, instance_lock
from trading_site.lib import queues

HEALTHY_WAIT_SECONDS = 180


def demo_logins_line(*, show_password: bool = True) -> str:
    """The demo logins, when the demo users exist and their password is known to this machine.

    ``show_password=False`` (output that is not a terminal: a log file, a CI log) names where the
    password is kept instead of printing it.
    """
    from django.contrib.auth import get_user_model

    if not get_user_model().objects.filter(username__in=DEMO_USERS).exists():
        return ""
    explicit = os.environ.get("DEMO_PASSWORD")
    password = demo_password_known(explicit)
    if not password:
        return ""
    if show_password:
        return f"Logins: {' / '.join(DEMO_USERS)} with password {password}"
    where = "the DEMO_PASSWORD environment variable" if explicit else str(demo_password_file())
    return f"Logins: {' / '.join(DEMO_USERS)} with the demo password kept in {where}"


def healthz_wait(url: str, *, timeout: float, stopping) -> dict | None:
    """Poll ``url`` until it answers 200; returns its report, or ``None`` on timeout or stop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    return None


def platform_status_record(snapshot: dict) -> None:
    """The supervisor's snapshot as the ``platform`` heartbeat (runs on the publisher thread)."""
    try:
        heartbeat_record(name=HEARTBEAT_NAME, detail=snapshot)
    finally:
        close_old_connections()


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
            # Import the application once in the master and fork the workers from it: a restarted
            # web is serving in seconds, not after four concurrent Django imports on two cores.
            "--preload",
        ],
        "worker": [
            os.path.join(bindir, "celery"), "-A", "trading_site", "worker",
            "--queues", ",".join(queues.ALL),
            "--concurrency", "2",
            "--loglevel", "INFO",
            "--hostname", "embedded@%h",
        ],
        # WARNING: beat logs every dispatch ("Sending due task ...", several a second) at INFO.
        "beat": [os.path.join(bindir, "celery"), "-A", "trading_site", "beat", "--loglevel", "WARNING"],
    }
    if trade_stream_expected():
        commands["trade_stream"] = [python, "manage.py", "run_trade_stream"]
    return commands


class Command(BaseCommand):
    help = "Run web, worker, beat (and the trade stream) in the foreground, restarting any that exits, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, host: str, port: int, **options):
        try:
            with instance_lock():
                self._run(host=host, port=port)
        except AlreadyRunning as exc:
            raise CommandError(str(exc)) from None

    def _run(self, *, host: str, port: int) -> None:
        os.environ.setdefault("LOG_QUIET_FREQUENT_TASKS", "true")  # inherited by every child
        supervisor = Supervisor(process_commands(port=port, host=host), cwd=settings.BASE_DIR,
                                write=lambda line: self.stderr.write(line), publish=platform_status_record)

        def stop(*_):
            supervisor.stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        supervisor.start_all()
        for name, child in supervisor.children.items():
            self.stdout.write(f"started {name} (pid {child.proc.pid})")
        try:
            self._announce(supervisor, host=host, port=port)
            supervisor.run()
        finally:
            supervisor.stop_all()
            self.stdout.write("all processes stopped")

    def _announce(self, supervisor: Supervisor, *, host: str, port: int) -> None:
        """Print the console URL and the logins as the last lines, once /healthz answers 200."""
        base = f"http://{host}:{port}"
        deadline = time.monotonic() + HEALTHY_WAIT_SECONDS
        report = None
        while report is None and time.monotonic() < deadline and not supervisor.stopping.is_set():
            supervisor.step()  # restart a child that died while starting
            report = healthz_wait(f"{base}/healthz", timeout=1.0, stopping=supervisor.stopping.is_set)
        if supervisor.stopping.is_set():
            return
        if report is None:
            self.stderr.write(f"{base}/healthz is not 200 after {HEALTHY_WAIT_SECONDS} s; the platform keeps "
                              "trying (open it to see which check fails)")
        self.stdout.write(self.style.SUCCESS(f"\nConsole: {base}/   Health: {base}/healthz"))
        logins = demo_logins_line(show_password=sys.stdout.isatty())
        if logins:
            self.stdout.write(logins)
        self.stdout.write("Press Ctrl-C to stop every process.\n")
