"""Popularity: global, trending and grouped rankings (category, segment, country, hour band)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from recsvc.artifacts import Part
from recsvc.artifacts.contract import POPULARITY_GROUPS
from recsvc.recommend.context import HOUR_BANDS, hour_band
from tests.training.fixtures_models import Ev, assert_matches_contract, retail_slice, tiny_data
from training.data.dataset import TrainingData
from training.errors import ModelFitError
from training.models import popularity, segments
from training.models.popularity import PopularityConfig

CONFIG = PopularityConfig()


def _names(data: TrainingData, items: NDArray[Any]) -> list[str]:
    return [str(data.item_ids[i]) for i in items]


def _group(part: Part, key: str, group: str) -> tuple[list[int], list[float]]:
    groups = part.arrays[f"{key}_groups"].tolist()
    indptr = part.arrays[f"{key}_indptr"]
    j = groups.index(group)
    rows = slice(indptr[j], indptr[j + 1])
    return part.arrays[f"{key}_items"][rows].tolist(), part.arrays[f"{key}_scores"][rows].tolist()


def test_global_counts_distinct_buyers_and_anonymous_baskets() -> None:
    events = [
        *(Ev(u, "a", day) for u, day in (("u1", 0), ("u1", 1), ("u2", 0), ("u3", 0))),
        Ev("u1", "b", 0, qty=10),
        Ev(None, "c", 0, order="x1"),
        Ev(None, "c", 0, order="x2"),
        Ev("u2", "d", 0),
        Ev("u2", "d", 1, event="return"),
        Ev("u1", "e", 2),  # ties with b: the lower item index (b) comes first
    ]
    data = tiny_data(events)
    part = popularity.fit(data, CONFIG)
    assert_matches_contract(part)
    assert _names(data, part.arrays["global_items"]) == ["a", "c", "b", "e"]
    assert part.arrays["global_scores"].tolist() == [3.0, 2.0, 1.0, 1.0]
    assert part.arrays["global_scores"].dtype == np.float32
    assert part.arrays["global_items"].dtype == np.int32


def test_half_life_discounts_old_buyers() -> None:
    events = [Ev("u1", "a", 0, hour=0), Ev("u2", "a", 10, hour=0), Ev("u3", "b", 10, hour=0)]
    part = popularity.fit(tiny_data(events, reference_day=10), PopularityConfig(half_life_days=10))
    assert part.arrays["global_scores"].tolist() == [1.5, 1.0]


def test_trending_compares_recent_and_long_rates() -> None:
    recent = [(f"r{i}", 95 - i * 0.1) for i in range(6)]
    older = [(f"o{i}", 30 + i) for i in range(30)]
    events = [
        *(Ev(u, "new_hit", day) for u, day in recent),
        *(Ev(u, "steady", day) for u, day in recent + older),
        *(Ev(f"f{i}", "few", 95) for i in range(3)),
        *(Ev(f"x{i}", "stale", 5) for i in range(20)),  # outside the 90-day window
    ]
    data = tiny_data(events, reference_day=100)
    part = popularity.fit(data, CONFIG)
    assert _names(data, part.arrays["trending_items"]) == ["new_hit", "steady"]
    expected_hit = (6 / 14) / ((6 + 5) / 90)
    expected_steady = (6 / 14) / ((36 + 5) / 90)
    np.testing.assert_allclose(
        part.arrays["trending_scores"], [expected_hit, expected_steady], rtol=1e-6
    )


def test_category_groups_cover_every_path_prefix() -> None:
    events = [Ev("u1", "phone", 0), Ev("u2", "phone", 0), Ev("u1", "tv", 0), Ev("u1", "pen", 0)]
    categories = {
        "phone": ("electronics", "smartphone"),
        "tv": ("electronics", "video", "tv"),
        "pen": ("stationery",),
    }
    data = tiny_data(events, categories=categories)
    part = popularity.fit(data, CONFIG)
    assert part.arrays["category_groups"].tolist() == [
        "1:electronics",
        "1:stationery",
        "2:electronics.smartphone",
        "2:electronics.video",
        "3:electronics.video.tv",
    ]
    items, scores = _group(part, "category", "1:electronics")
    assert _names(data, np.array(items)) == ["phone", "tv"] and scores == [2.0, 1.0]


def test_segment_country_and_hour_band_groups() -> None:
    events = [
        Ev("u1", "a", 0, country="FR", hour=3),
        Ev("u2", "a", 0, country="FR", hour=13),
        Ev("u2", "b", 1, country="DE", hour=20),
        Ev(None, "b", 1, country="DE", hour=7, order="anon"),
    ]
    data = tiny_data(events)
    labels = np.array(["vip" if u == "u1" else "other" for u in data.user_ids])
    part = popularity.fit(data, CONFIG, segments=labels)
    a, b = (int(np.flatnonzero(data.item_ids == i)[0]) for i in ("a", "b"))
    assert part.arrays["segment_groups"].tolist() == ["other", "vip"]
    assert _group(part, "segment", "vip") == ([a], [1.0])
    assert _group(part, "segment", "other") == ([a, b], [1.0, 1.0])
    assert _group(part, "country", "DE") == ([b], [2.0])
    assert _group(part, "country", "FR") == ([a], [2.0])
    assert part.arrays["hour_band_groups"].tolist() == ["afternoon", "evening", "morning", "night"]
    assert _group(part, "hour_band", "night") == ([a], [1.0])
    assert _group(part, "hour_band", "morning") == ([b], [1.0])


def test_without_segments_the_segment_ranking_is_empty() -> None:
    part = popularity.fit(tiny_data([Ev("u", "a", 0)]), CONFIG)
    assert len(part.arrays["segment_groups"]) == 0
    assert part.arrays["segment_indptr"].tolist() == [0]


def test_segments_must_label_every_user() -> None:
    with pytest.raises(ModelFitError, match="labels for 2 users"):
        popularity.fit(
            tiny_data([Ev("u1", "a", 0), Ev("u2", "a", 0)]), CONFIG, segments=np.array(["x"])
        )


def test_groups_keep_their_top_items() -> None:
    events = [Ev(f"u{k}", f"i{i}", 0) for i in range(5) for k in range(i + 1)]
    data = tiny_data(events)
    part = popularity.fit(data, PopularityConfig(max_items_per_group=2))
    assert _names(data, np.array(_group(part, "country", "GB")[0])) == ["i4", "i3"]
    assert len(part.arrays["global_items"]) == 5  # the global ranking is not cut


def test_hour_bands_partition_the_day() -> None:
    assert [hour_band(h) for h in (0, 5, 6, 11, 12, 17, 18, 23)] == [
        "night",
        "night",
        "morning",
        "morning",
        "afternoon",
        "afternoon",
        "evening",
        "evening",
    ]
    covered = sorted(h for _, first, last in HOUR_BANDS for h in range(first, last + 1))
    assert covered == list(range(24))
    with pytest.raises(ValueError, match=r"0\.\.23"):
        hour_band(24)


def _assert_well_formed(part: Part, n_items: int) -> None:
    assert_matches_contract(part)
    for key in POPULARITY_GROUPS:
        groups, indptr = part.arrays[f"{key}_groups"], part.arrays[f"{key}_indptr"]
        items, scores = part.arrays[f"{key}_items"], part.arrays[f"{key}_scores"]
        assert groups.tolist() == sorted(set(groups.tolist()))
        assert indptr[0] == 0 and indptr[-1] == len(items) == len(scores)
        assert len(indptr) == len(groups) + 1
        for j in range(len(groups)):
            _assert_ranked(items[indptr[j] : indptr[j + 1]], scores[indptr[j] : indptr[j + 1]])
            assert indptr[j + 1] > indptr[j]
        assert ((items >= 0) & (items < n_items)).all()
    for key in ("global", "trending"):
        _assert_ranked(part.arrays[f"{key}_items"], part.arrays[f"{key}_scores"])


def _assert_ranked(items: NDArray[Any], scores: NDArray[Any]) -> None:
    assert len(set(items.tolist())) == len(items)
    assert (scores > 0).all()
    order = sorted(range(len(items)), key=lambda k: (-scores[k], items[k]))
    assert order == list(range(len(items)))


event_rows = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3", None]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, 100),
        st.sampled_from(["purchase", "purchase", "return"]),
        st.sampled_from(["GB", "FR"]),
        st.integers(0, 23),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(event_rows)
def test_rankings_are_sorted_and_duplicate_free(
    rows: list[tuple[str | None, str, int, str, str, int]],
) -> None:
    events = [Ev(u, i, day, event=kind, country=c, hour=h) for u, i, day, kind, c, h in rows]
    data = tiny_data(events, categories={"a": ("x", "y"), "b": ("x",)})
    labels = np.array([f"s{k % 2}" for k in range(data.n_users)])
    part = popularity.fit(data, PopularityConfig(max_items_per_group=3), segments=labels)
    _assert_well_formed(part, data.n_items)


@pytest.mark.realdata
def test_popularity_on_online_retail_slice() -> None:
    data = retail_slice()
    labels = segments.lifecycle_label_array(segments.fit(data, segments.SegmentsConfig()))
    part = popularity.fit(data, CONFIG, segments=labels)
    _assert_well_formed(part, data.n_items)
    assert len(part.arrays["category_groups"]) == 0
    assert "United Kingdom" in part.arrays["country_groups"].tolist()
    assert set(part.arrays["segment_groups"].tolist()) <= set(labels.tolist()) - {"prospect"}
    indptr = part.arrays["country_indptr"]
    assert np.diff(indptr).max() == CONFIG.max_items_per_group
    # the best seller is bought by a few percent of all buyers; trending lists something
    assert 0.01 < part.arrays["global_scores"][0] / part.meta["n_buyers"] < 0.5
    assert len(part.arrays["trending_items"]) > 0
