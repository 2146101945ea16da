"""Hour bands: the one definition shared by serving (popular at this hour, cold-start
features) and training (popularity per hour band, hybrid user features).

Bands: night 0-5, morning 6-11, afternoon 12-17, evening 18-23 (hours inclusive).
`build_index` refuses a bundle whose popularity meta records other bands.
"""

from __future__ import annotations

from typing import Final

# (label, first hour, last hour), inclusive, covering 0..23 once, in order.
HOUR_BANDS: Final = (
    ("night", 0, 5),
    ("morning", 6, 11),
    ("afternoon", 12, 17),
    ("evening", 18, 23),
)
_BAND_OF_HOUR: Final = tuple(
    label for label, first, last in HOUR_BANDS for _ in range(first, last + 1)
)


def hour_band(hour: int) -> str:
    """The label of the band containing `hour`; raises `ValueError` outside 0..23."""
    if not 0 <= hour < len(_BAND_OF_HOUR):
        raise ValueError(f"hour must be within 0..23, got {hour}")
    return _BAND_OF_HOUR[hour]
