"""The embedded Celery transport: kombu's filesystem transport, made safe to read while it is written.

kombu's own filesystem transport opens the message file under its final name and writes into it; a
worker listing the queue folder in between reads an empty or half-written file and dies with
``JSONDecodeError`` ("Unrecoverable error"). Here a message is written complete under a temporary
name in a sibling folder and then renamed into the queue folder (``os.replace`` is atomic
on one file system), so a reader only ever sees whole messages. A reader claims a message by
renaming it into the ``claimed`` folder (atomic too: of two readers exactly one wins), reads it,
and removes it. A file that still cannot be decoded is moved to ``rejected`` with one error line,
never stopping the worker. docs/ADRs/0018-embedded-transport-and-supervision.md.

Used when ``REDIS_URL`` is unset (``CELERY_BROKER_TRANSPORT`` in settings); every folder lives
under ``VAR_DIR/celery`` (the ``control`` folder included, which kombu otherwise creates in the
current directory).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

FOLDERS = ("queue", "tmp", "claimed", "rejected", "control")


def folders_prepare(root: Path) -> None:
    for name in FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)


def transport_options(root: Path) -> dict:
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "control_folder": str(root / "control"),
        "tmp_folder": str(root / "tmp"),
        "claimed_folder": str(root / "claimed"),
        "rejected_folder": str(root / "rejected"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


class Channel(filesystem.Channel):
    def _folder(self, key: str) -> str:
        folder = self.transport_options[key]
        os.makedirs(folder, exist_ok=True)
        return folder

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        tmp = os.path.join(self._folder("tmp_folder"), name)
        try:
            # No fsync: rename makes the message whole to readers; surviving a power cut is not this
            # transport's job (beat re-sends every periodic task, the database holds scheduled work).
            with open(tmp, "wb") as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise ChannelError(f"Cannot add message {name!r} to the queue folder") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        claimed_folder = self._folder("claimed_folder")
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(claimed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:  # another reader claimed it first
                continue
            try:
                with open(claimed, "rb") as fh:
                    raw = fh.read()
                os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read message {name!r}") from exc
            try:
                return loads(bytes_to_str(raw))
            except ValueError:
                self._reject(name, raw)
        raise Empty()

    def _reject(self, name: str, raw: bytes) -> None:
        path = os.path.join(self._folder("rejected_folder"), name)
        try:
            with open(path, "wb") as fh:
                fh.write(raw)
        except OSError:
            logger.exception("celery transport: could not keep undecodable message %s", name)
        logger.error("celery transport: message %s is not valid JSON (%d bytes); moved to %s", name, len(raw), path)


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = filesystem.virtual.BrokerState()
    driver_type = "filesystem"
    driver_name = "filesystem-atomic"
