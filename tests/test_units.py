import pytest
from hypothesis import given
from hypothesis import strategies as st

from memgrowth.errors import UserError
from memgrowth.units import format_bytes, format_duration, parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("512MiB", 512 * 1024**2), ("1GB", 10**9), ("1.5G", 1_500_000_000), ("4096", 4096),
    ("64 KiB", 65536), ("2gib", 2 * 1024**3), ("10b", 10),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12 parsecs", "-5MB", "1..2GB", "MiB"])
def test_parse_size_rejects_garbage(text):
    with pytest.raises(UserError, match="size"):
        parse_size(text)


def test_format_bytes_units():
    assert format_bytes(0) == "0 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(10 * 1024**3) == "10 GiB"
    assert format_bytes(-2048, signed=True) == "-2 KiB"
    assert format_bytes(2048, signed=True) == "+2 KiB"
    assert format_bytes(None) == "—"


def test_format_duration():
    assert format_duration(0.25) == "250 ms"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(245) == "4 min 05 s"
    assert format_duration(3 * 3600 + 720) == "3 h 12 min"


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20))
def test_format_bytes_never_fails(value):
    assert format_bytes(value)
