import pytest

from vam.errors import ConfigError
from vam.units import format_size, parse_rate, parse_size


def test_sizes():
    assert parse_size("100MB") == 100_000_000
    assert parse_size("2GiB") == 2 * 1024**3
    assert parse_size("4096") == 4096


def test_rates_in_bytes_and_bits():
    assert parse_rate("5MB/s") == 5_000_000
    assert parse_rate("20Mbit") == 2_500_000
    assert parse_rate("800k") == 800_000
    assert parse_rate("0") is None and parse_rate(None) is None and parse_rate("") is None


def test_unreadable_rate_is_a_clear_error():
    with pytest.raises(ConfigError, match="cannot read 'fast' as a rate"):
        parse_rate("fast")


def test_format_size():
    assert format_size(512) == "512 B"
    assert format_size(1_200_000_000) == "1.2 GB"


def test_timestamps_are_utc_whatever_the_zone_they_come_in():
    from datetime import datetime, timedelta, timezone

    from vam.units import human_utc, iso_utc

    jan_local = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso_utc(jan_local) == "2026-11-23T10:00:00Z"
    assert human_utc(jan_local) == "2026-11-23 10:00 UTC"
