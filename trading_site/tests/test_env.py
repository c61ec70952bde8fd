"""The one typed settings reader (trading_site/lib/env.py): bounds, strict numbers, one sentence."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from trading_site.lib.env import (
    env_bool,
    env_decimal,
    env_duration,
    env_enum,
    env_float,
    env_int,
    env_list,
    env_str,
)


def test_unset_or_empty_is_the_default():
    assert env_int("X", 7, environ={}) == 7
    assert env_int("X", 7, environ={"X": "  "}) == 7
    assert env_str("X", "a", environ={"X": ""}) == "a"
    assert env_list("X", ["h"], environ={}) == ["h"]


def test_values_are_typed_and_bounded():
    env = {"I": "12", "D": "0.25", "F": "1.5", "B": "Yes", "E": "SIP", "L": " a, ,b ", "T": "5m", "MS": "250ms"}
    assert env_int("I", 0, low=1, high=12, environ=env) == 12
    assert env_decimal("D", "0", low=Decimal(0), high=Decimal(1), environ=env) == Decimal("0.25")
    assert env_float("F", 0, low=0, high=2, environ=env) == 1.5
    assert env_bool("B", False, environ=env) is True
    assert env_enum("E", "iex", ("iex", "sip"), environ=env) == "sip"
    assert env_list("L", environ=env) == ["a", "b"]
    assert env_duration("T", 1, environ=env) == 300.0
    assert env_duration("MS", 1, environ=env) == 0.25


@pytest.mark.parametrize(("reader", "raw", "message"), [
    (lambda e: env_int("N", 1, low=1, high=10, environ=e), "11", r"N must be in \[1, 10\], not '11'"),
    (lambda e: env_int("N", 1, environ=e), "1_0", "N must be a whole number, not '1_0'"),
    (lambda e: env_int("N", 1, environ=e), "١٢", "N must be a whole number"),
    (lambda e: env_int("N", 1, environ=e), "1.5", "N must be a whole number"),
    (lambda e: env_decimal("N", "1", low=Decimal(0), high=Decimal(1), environ=e), "NaN", "N must be a number"),
    (lambda e: env_decimal("N", "1", low=Decimal(0), high=Decimal(1), environ=e), "1e3", "N must be a number"),
    (lambda e: env_decimal("N", "1", low=Decimal(0), high=Decimal(1), environ=e), "0", r"N must be in \(0, 1\]"),
    (lambda e: env_decimal("N", "1", low=Decimal(0), high=Decimal(1), low_open=False, environ=e), "-0.1",
     r"N must be in \[0, 1\]"),
    (lambda e: env_float("N", 1, low=0, high=1, environ=e), "inf", "N must be a number"),
    (lambda e: env_bool("N", False, environ=e), "maybe", "N must be true or false"),
    (lambda e: env_enum("N", "a", ("a", "b"), environ=e), "c", "N must be one of a, b, not 'c'"),
    (lambda e: env_duration("N", 1, high=60, environ=e), "2h", r"N must be in \(0.0, 60\]"),
    (lambda e: env_duration("N", 1, environ=e), "5 min", "N must be a duration"),
])
def test_bad_values_stop_start_up_with_one_sentence_naming_the_variable(reader, raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        reader({"N": raw})


def test_every_conf_module_reads_through_the_one_reader():
    """No app reads the environment its own way (ADR 0029): only lib/env.py touches os.environ for settings."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    confs = [*root.glob("*/conf.py"), root / "trading_site/secret_store/conf.py", root / "trading_site/settings.py"]
    assert len(confs) >= 8
    for path in confs:
        text = path.read_text()
        assert "environ.Env()" not in text and "os.environ" not in text and "os.getenv" not in text, path
        assert "trading_site.lib.env import" in text, path
