import pytest

from vam.core.errors import ConfigError
from vam.core.units import format_size, parse_rate, parse_size


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


@pytest.mark.parametrize("typed", ["5", 5, " 5 ", "2.5", 2000])
def test_a_rate_without_a_unit_is_refused(typed):
    """`--max-rate 5` used to mean 5 bytes a second: an upload that sits for ever, silently."""
    with pytest.raises(ConfigError) as refused:
        parse_rate(typed, where="--max-rate")
    assert str(refused.value) == (
        f"--max-rate {str(typed).strip()} has no unit; give a unit: 5MB/s, 20Mbit, 500KB/s "
        "(or 0 for no cap)"
    )


@pytest.mark.parametrize("typed", [0, "0", "off", "OFF", "none", "", None, "0MB/s"])
def test_no_cap_is_still_zero_or_off(typed):
    assert parse_rate(typed) is None


def test_bits_per_second_written_as_bps_are_bits():
    """ISPs sell 'Mbps': megabits. '20Mbps' used to be read as 20 megabytes a second."""
    assert parse_rate("20Mbps") == 2_500_000
    assert parse_rate("800kbps") == 100_000
    assert parse_rate("5MBps") == 5_000_000  # a capital B is a byte
    assert parse_rate("500KB/s") == 500_000 and parse_rate("2MiB/s") == 2 * 1024**2


def test_a_cap_under_64_kb_a_second_gets_a_warning_not_an_error():
    from vam.core.units import slow_rate_warning

    assert slow_rate_warning(64_000, where="--max-rate") is None
    assert slow_rate_warning(None, where="--max-rate") is None
    assert slow_rate_warning(40_000, where="--max-rate") == (
        "the bandwidth cap 40.0 KB/s (from --max-rate) is under 64 KB/s: "
        "1 GB takes 6h56m at that rate"
    )


def test_format_size():
    assert format_size(512) == "512 B"
    assert format_size(1_200_000_000) == "1.2 GB"


def test_timestamps_are_utc_whatever_the_zone_they_come_in():
    from datetime import datetime, timedelta, timezone

    from vam.core.units import human_utc, iso_utc

    jan_local = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso_utc(jan_local) == "2026-11-23T10:00:00Z"
    assert human_utc(jan_local) == "2026-11-23 10:00 UTC"
