"""The answer cache: reuse within one bundle, LRU eviction, invalidation on a swap, counts in
/metrics, and personalisation that still changes the next answer at once."""

from __future__ import annotations

import gc
import json
import shutil
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from test_api import TOKEN, make_settings

from recsvc.answer_cache import Answer, AnswerCache
from recsvc.api.app import create_app
from recsvc.artifacts import write_current
from recsvc.experiments import Arm
from recsvc.metrics import Metrics
from recsvc.recommend import Recommendation, ServingIndex, Slot
from recsvc.service import Recommender

ONE_ARM = [Arm("model", 1.0, strategy="blend")]
CACHE = 64  # entries per endpoint


def _ranking(item: str) -> Answer:
    ranked = Recommendation([Slot(item, 1, 1.0, "rules", "because", 0, "related_blend")])
    no_index = cast(ServingIndex, None)  # the renderer below does not read it
    return Answer.of(ranked, no_index, lambda rows, _: repr(rows).encode(), 0.9)


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, item: str) -> Answer:
        self.calls += 1
        return _ranking(item)


def _count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "recsvc_answer_cache_total", {"endpoint": "related", "outcome": outcome}
    )
    return value or 0.0


def test_same_key_same_bundle_ranks_once_and_counts_hits() -> None:
    metrics, rank = Metrics(), Counting()
    cache = AnswerCache(10, metrics)
    bundle = object()
    first = cache.answer(bundle, "related", "k1", lambda: rank("a"))
    again = cache.answer(bundle, "related", "k1", lambda: rank("a"))
    assert again == first and rank.calls == 1
    assert (_count(metrics, "miss"), _count(metrics, "hit")) == (1.0, 1.0)
    assert first.strategy_counts == (("rules", 1),)
    assert first.items_json == repr(first.rows).encode()
    assert json.loads(first.slate_for(0.9).items_json) == [["a", 1, 1.0, "rules", 0.9]]
    assert json.loads(first.slate_for(0.1).items_json) == [["a", 1, 1.0, "rules", 0.1]]
    assert first.slate_for(0.1).slate_id != first.slate_for(0.9).slate_id == first.slate_id


def test_another_bundle_empties_the_cache() -> None:
    rank = Counting()
    cache = AnswerCache(10, Metrics())
    old, new = object(), object()
    cache.answer(old, "related", "k1", lambda: rank("a"))
    cache.answer(new, "related", "k1", lambda: rank("b"))
    assert rank.calls == 2 and len(cache) == 1
    # a request still running on the old bundle neither reads nor stores there
    stale = cache.answer(old, "related", "k1", lambda: rank("c"))
    assert stale.rows[0][0] == "c" and rank.calls == 3


def test_least_recently_used_is_evicted_first() -> None:
    rank = Counting()
    cache = AnswerCache(2, Metrics())
    bundle = object()
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        cache.answer(bundle, "related", key, partial(rank, key))
    assert rank.calls == 3
    cache.answer(bundle, "related", "a", lambda: rank("a"))
    assert rank.calls == 3
    cache.answer(bundle, "related", "b", lambda: rank("b"))
    assert rank.calls == 4


def test_each_endpoint_has_its_own_capacity() -> None:
    rank = Counting()
    cache = AnswerCache(2, Metrics())
    bundle = object()
    cache.answer(bundle, "related", "page", lambda: rank("a"))
    for n in range(5):  # a stream of one-off carts
        cache.answer(bundle, "cart", f"cart{n}", partial(rank, f"c{n}"))
    assert len(cache) == 3 and rank.calls == 6
    cache.answer(bundle, "related", "page", lambda: rank("a"))
    assert rank.calls == 6  # the product page's answer survived


def test_cached_answers_are_invisible_to_the_cyclic_gc_once_seen() -> None:
    cache = AnswerCache(10, Metrics())
    answer = cache.answer(object(), "related", "k1", lambda: _ranking("a"))
    gc.collect()  # untracks the rows, then (next pass) the tuples holding them
    gc.collect()
    assert answer.rows[0][:4] == ("a", 1, 1.0, "rules")
    assert not gc.is_tracked(answer.rows)
    assert not any(gc.is_tracked(row) for row in answer.rows)


def test_capacity_zero_ranks_every_request() -> None:
    metrics, rank = Metrics(), Counting()
    cache = AnswerCache(0, metrics)
    bundle = object()
    for _ in range(3):
        cache.answer(bundle, "related", "k1", lambda: rank("a"))
    assert rank.calls == 3 and len(cache) == 0 and _count(metrics, "off") == 3.0


def _metric(client: TestClient, endpoint: str, outcome: str) -> float:
    needle = f'recsvc_answer_cache_total{{endpoint="{endpoint}",outcome="{outcome}"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(needle):
            return float(line.split()[-1])
    return 0.0


def test_repeated_request_is_a_hit_with_the_same_items_and_a_new_id(models_dir: Path) -> None:
    with TestClient(
        create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    ) as client:
        first = client.get("/v1/items/i00/related", params={"k": 3}).json()
        second = client.get("/v1/items/i00/related", params={"k": 3}).json()
        assert second["items"] == first["items"]
        assert second["recommendation_id"] != first["recommendation_id"]
        assert _metric(client, "related", "miss") == 1.0
        assert _metric(client, "related", "hit") == 1.0
        client.get("/v1/items/i00/related", params={"k": 4})  # another query: ranked
        assert _metric(client, "related", "miss") == 2.0


def test_a_hit_is_still_logged_as_an_impression(models_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    settings = make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE, event_store_url=url)
    with TestClient(create_app(settings)) as client:
        ids = [client.get("/v1/items/i00/related").json()["recommendation_id"] for _ in range(3)]
        clicks = [
            {
                "event_id": f"c{n}",
                "type": "click",
                "session_id": "s1",
                "item_id": "i01",
                "timestamp": "2026-11-23T12:00:00Z",
                "recommendation_id": rec,
            }
            for n, rec in enumerate(ids)
        ]
        result = client.post("/v1/events", json={"events": clicks}).json()
        assert _metric(client, "related", "hit") == 2.0
    assert result == {"accepted": 3, "duplicates": 0, "unattributed": 0}


def test_a_new_purchase_changes_the_cached_next_purchase_at_once(models_dir: Path) -> None:
    with TestClient(
        create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    ) as client:
        url = "/v1/users/u1/recommendations"
        before = [i["item_id"] for i in client.get(url).json()["items"]]
        assert [i["item_id"] for i in client.get(url).json()["items"]] == before
        hits = _metric(client, "next_purchase", "hit")
        assert hits >= 1.0
        event = {
            "event_id": "p1",
            "type": "purchase",
            "user_id": "u1",
            "item_id": before[0],
            "timestamp": "2026-11-23T12:00:00Z",
            "amount": 3.0,
        }
        assert client.post("/v1/events", json={"events": [event]}).status_code == 200
        after = [i["item_id"] for i in client.get(url).json()["items"]]
        assert before[0] not in after
        assert _metric(client, "next_purchase", "hit") == hits  # ranked afresh


def test_a_full_cache_holds_nothing_the_gc_tracks(models_dir: Path) -> None:
    app = create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    with TestClient(app) as client:
        for item in ("i00", "i01", "unknown"):
            client.get(f"/v1/items/{item}/related", params={"country": "UK"})
        client.post("/v1/cart/recommendations", json={"items": ["i00", "i01"]})
        client.get("/v1/users/u1/recommendations")
        client.get("/v1/users/u1/recommendations", params={"session_id": "s1", "hour": 3})
        lru = app.state.recsvc.recommender.answers._answers  # white box: what the GC walks
        gc.collect()  # the GC stops tracking tuples of plain values as it meets them
        gc.collect()
        gc.collect()
        kept = gc.get_referents(*lru.values())  # keys and answers
        assert len(kept) == 2 * 6
        assert [type(obj) for obj in kept].count(tuple) == 6
        assert not [obj for obj in kept if gc.is_tracked(obj)]


def test_anonymous_related_answers_outlive_the_ranking_time_step(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(
        create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    ) as client:
        for step in range(3):  # three ranking times
            monkeypatch.setattr(Recommender, "_ranking_time", lambda *_, n=step: 3600 * n)
            client.get("/v1/items/i00/related")
            client.get("/v1/items/i00/related", params={"user_id": "u1"})
        assert _metric(client, "related", "miss") == 1.0 + 3.0  # the user's: once a step
        assert _metric(client, "related", "hit") == 2.0


def test_the_ranking_time_is_server_time_rounded_down_to_the_hour(models_dir: Path) -> None:
    with TestClient(create_app(make_settings(models_dir, arms=ONE_ARM))) as client:
        recommender = client.app.state.recsvc.recommender
        live = recommender.holder.current
        ten = datetime(2026, 11, 23, 10, tzinfo=UTC)
        at = [ten, ten + timedelta(minutes=59, seconds=59), ten + timedelta(hours=1)]
        times = [recommender._ranking_time(live, moment) for moment in at]
    assert times == [int(ten.timestamp())] * 2 + [int(ten.timestamp()) + 3600]


def test_a_reload_empties_the_cache(models_dir: Path, tiny_bundle_path: Path) -> None:
    with TestClient(
        create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    ) as client:
        client.get("/v1/items/i00/related")
        client.get("/v1/items/i00/related")
        assert _metric(client, "related", "miss") == 1.0
        shutil.copytree(tiny_bundle_path, models_dir / "tiny-2")
        write_current(models_dir, "tiny-2")
        reload = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reload.json()["outcome"] == "swapped"
        client.get("/v1/items/i00/related")
        assert _metric(client, "related", "miss") == 2.0


def test_fast_validation_reads_repeated_list_parameters(models_dir: Path) -> None:
    with TestClient(
        create_app(make_settings(models_dir, arms=ONE_ARM, answer_cache_size=CACHE))
    ) as client:
        plain = client.get("/v1/items/i00/related", params={"k": 3}).json()["items"]
        excluded = [plain[0]["item_id"], plain[1]["item_id"]]
        params: dict[str, int | list[str]] = {"k": 3, "exclude": excluded}
        items = client.get("/v1/items/i00/related", params=params).json()["items"]
    assert items and not set(excluded) & {item["item_id"] for item in items}
