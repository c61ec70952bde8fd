"""The one typed reader of deployment settings from the environment (every app's ``conf.py`` uses it).

Each reader takes the variable's name, its default and its bounds, and either returns a value of
the right type or raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the variable,
what it must be and what it got — at import time, so a bad deployment stops at start-up with one
sentence instead of trading on a surprise. Numbers follow the one grammar of
:mod:`trading_site.lib.money` (ASCII digits, one sign, one decimal point: no ``1_0``, no exponent,
no NaN, no other scripts' digits). An empty variable counts as unset. Every reader takes an optional
``environ`` mapping instead of ``os.environ`` (the secrets layer validates a candidate environment).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m|h|d)?", re.ASCII)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


Environ = Mapping[str, str]


def _raw(name: str, environ: Environ | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _bounds_text(low, high, *, low_open: bool) -> str:
    left = "(" if low_open else "["
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def _check_bounds(name: str, value, raw: str, low, high, *, low_open: bool):
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        raise ImproperlyConfigured(f"{name} must be in {_bounds_text(low, high, low_open=low_open)}, not {raw!r}")
    return value


def env_str(name: str, default: str = "", *, environ: Environ | None = None) -> str:
    raw = _raw(name, environ)
    return default if raw is None else raw


def env_list(name: str, default: Iterable[str] = (), *, environ: Environ | None = None) -> list[str]:
    """A comma-separated list (items stripped, empty items dropped)."""
    raw = _raw(name, environ)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_bool(name: str, default: bool, *, environ: Environ | None = None) -> bool:
    raw = _raw(name, environ)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}")


def env_int(
    name: str, default: int, *, low: int | None = None, high: int | None = None, environ: Environ | None = None
) -> int:
    """An integer in ``[low, high]``."""
    raw = _raw(name, environ)
    if raw is None:
        return default
    if not _INT_RE.fullmatch(raw):
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}")
    return _check_bounds(name, int(raw), raw, low, high, low_open=False)


def env_decimal(
    name: str,
    default: str | Decimal,
    *,
    low: Decimal | None = None,
    high: Decimal | None = None,
    low_open: bool = True,
    environ: Environ | None = None,
) -> Decimal:
    """A decimal in ``(low, high]`` (``[low, high]`` with ``low_open=False``)."""
    raw = _raw(name, environ)
    text = str(default) if raw is None else raw
    if not _NUMBER_RE.fullmatch(text):
        raise ImproperlyConfigured(f"{name} must be a number, not {text!r}")
    return _check_bounds(name, Decimal(text), text, low, high, low_open=low_open)


def env_float(name: str, default: float | str, *, low: float | None = None, high: float | None = None,
              low_open: bool = True, environ: Environ | None = None) -> float:
    """A float read through the decimal grammar, in ``(low, high]`` (``[low, high]`` with ``low_open=False``)."""
    value = env_decimal(
        name,
        str(default),
        low=None if low is None else Decimal(str(low)),
        high=None if high is None else Decimal(str(high)),
        low_open=low_open,
        environ=environ,
    )
    return float(value)


def env_duration(
    name: str,
    default: float | str,
    *,
    low: float = 0.0,
    high: float | None = None,
    low_open: bool = True,
    environ: Environ | None = None,
) -> float:
    """A duration in seconds: ``30``, ``30s``, ``500ms``, ``5m``, ``2h``, ``1d``; in ``(low, high]``
    (``[low, high]`` with ``low_open=False``)."""
    raw = _raw(name, environ)
    text = str(default) if raw is None else raw
    match = _DURATION_RE.fullmatch(text)
    if not match:
        raise ImproperlyConfigured(f"{name} must be a duration such as 30, 30s, 500ms, 5m or 2h, not {text!r}")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    return _check_bounds(name, seconds, text, low, high, low_open=low_open)


def env_enum(
    name: str, default: str, choices: Iterable[str], *, lower: bool = True, environ: Environ | None = None
) -> str:
    """One of ``choices`` (compared in lower case unless ``lower=False``)."""
    allowed = tuple(choices)
    raw = _raw(name, environ)
    value = default if raw is None else (raw.lower() if lower else raw)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value
