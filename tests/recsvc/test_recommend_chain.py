"""The chain: shares, uncapped second pass, fallback, demotion, provenance."""

from __future__ import annotations

import numpy as np
import pytest
from bundle_builder import NOW, TINY_GLOBAL

from recsvc.recommend import MixConfig, RankingConfig, ServingIndex, Step, UserQuery, next_purchase
from recsvc.recommend.chain import run_chain
from recsvc.recommend.query import Context, Filters
from recsvc.recommend.resolve import make_request


def run(
    index: ServingIndex, steps: tuple[Step, ...], k: int, **request: object
) -> list[tuple[str, str]]:
    query = UserQuery("u1", now=NOW, k=k, **request)  # type: ignore[arg-type]
    config = RankingConfig(mix=MixConfig(segments={}, default=steps))
    return [(s.item_id, s.source) for s in next_purchase(index, query, config).items]


def test_share_caps_a_step_in_the_first_pass(tiny_index: ServingIndex) -> None:
    # u1's buy-again: i04 (5 orders, 35 days) before i06 (3 orders, 10 days)
    slots = run(tiny_index, (Step("buy_again", 0.25), Step("cross_sell")), k=4)
    assert [source for _, source in slots] == [
        "buy_again",
        "cross_sell",
        "cross_sell",
        "cross_sell",
    ]
    assert slots[0][0] == "i04"


def test_second_pass_lifts_the_caps_before_the_fallback(tiny_index: ServingIndex) -> None:
    slots = run(tiny_index, (Step("buy_again", 0.25), Step("buy_again_due", 0.25)), k=4)
    assert slots[:2] == [("i04", "buy_again"), ("i06", "buy_again")]
    assert [source for _, source in slots[2:]] == ["popular", "popular"]


def test_fallback_tops_up_in_global_order(tiny_index: ServingIndex) -> None:
    # u1's history: i04 (repeat rate 0.6), i06 (0.4), i00 (0.0, bought once: never again)
    slots = run(tiny_index, (Step("win_back"),), k=5)
    assert slots[:2] == [("i04", "win_back"), ("i06", "win_back")]
    top_up = [f"i{i:02d}" for i in TINY_GLOBAL if i not in {0, 4, 6}][:3]
    assert slots[2:] == [(item, "popular") for item in top_up]


def test_demoted_candidates_fill_only_leftover_slots(tiny_index: ServingIndex) -> None:
    everything = frozenset(f"i{i:02d}" for i in range(12))
    slots = run(tiny_index, (Step("buy_again"),), k=3, demote=everything - {"i07"})
    assert slots[0] == ("i07", "popular")  # the only item not demoted comes first
    assert slots[1] == ("i04", "buy_again")  # then demoted ones, sources in first-use order


def test_every_slot_records_a_source_of_the_chain(tiny_index: ServingIndex) -> None:
    steps = (Step("buy_again_due", 0.3), Step("cross_sell", 0.3), Step("trending"))
    allowed = {s.source for s in steps} | set(RankingConfig().fallback)
    assert {source for _, source in run(tiny_index, steps, k=12)} <= allowed


@pytest.mark.parametrize("k", [1, 3, 7])
def test_chain_without_steps_is_the_fallback(tiny_index: ServingIndex, k: int) -> None:
    request = make_request(
        tiny_index, RankingConfig(), k=k, context=Context(), filters=Filters(), demote=frozenset()
    )
    result = run_chain(tiny_index, request, (), ("popular",))
    assert [s.item_index for s in result.items] == list(TINY_GLOBAL[:k])
    assert [s.rank for s in result.items] == list(range(1, k + 1))
    assert np.all(np.diff([s.score for s in result.items]) <= 0)
