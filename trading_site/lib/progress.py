"""Progress of a long command on a terminal: a bar with percent done and time left (rich).

Shown only when the stream is a terminal, so redirected output, pipes, cron and tests stay clean.
``with terminal_progress(stream, "importing") as progress: work(progress=progress)`` — ``progress``
is ``None`` off a terminal, else a ``(done, total)`` callable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TextIO


@contextlib.contextmanager
def terminal_progress(stream: TextIO | None, label: str) -> Iterator[Callable[[int, int], None] | None]:
    if stream is None or not (hasattr(stream, "isatty") and stream.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("left"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
