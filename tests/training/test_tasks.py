"""Evaluation tasks from hand-made logs whose requests and outcomes are known."""

from __future__ import annotations

import polars as pl

from tests.training.fixtures_eval import E, at, events
from training.evaluation.tasks import BID, CLICK, NEXT_ORDER, RELATED, build_tasks

CUT = at(10)


def _outcome(frame: pl.DataFrame, request: str) -> dict[tuple[str, str], float | None]:
    rows = frame.filter(pl.col("request_id") == request)
    return {(r["item_id"], r["kind"]): r["revenue"] for r in rows.iter_rows(named=True)}


PURCHASES = [
    E("u1", "a", 1),
    E("u1", "b", 1),
    E("u1", "x", 9.5),  # recent purchase, 2.5 days before u1's request
    E("u1", "y", 5),  # 7 days before: outside the 3-day window
    E("u1", "a", 12, qty=3, price=2.0),  # u1's next order: a, c
    E("u1", "a", 12, qty=1, price=2.0),  # a second line of a in the same order
    E("u1", "c", 12, price=5.0),
    E("u1", "d", 15),  # a later order is not the next one
    E("u2", "a", 11),  # u2 unknown to the bundle: no next-order request
    E("u2", "b", 11),
    E(None, "c", 13, order="anon-1"),  # anonymous basket of two items
    E(None, "d", 13, order="anon-1"),
    E("u3", "c", 14),  # single-item basket: no related request
]


def test_next_order_is_the_first_basket_after_the_cutoff_of_known_shoppers() -> None:
    tasks = build_tasks(events(PURCHASES), CUT, ["u1", "u3"])
    next_order = tasks[NEXT_ORDER]
    assert next_order.requests["request_id"].to_list() == ["next_order:u1", "next_order:u3"]
    first = next_order.requests.row(0, named=True)
    assert first["timestamp"] == at(12)
    assert first["is_new"] is False
    assert first["seeds"] == []
    # a: 3 × 2 + 1 × 2 = 8 (both lines), c: 5; the later order's d is not relevant
    assert _outcome(next_order.outcome, "next_order:u1") == {("a", BID): 8.0, ("c", BID): 5.0}


def test_clicks_are_not_invented_on_purchase_only_data() -> None:
    tasks = build_tasks(events(PURCHASES), CUT, ["u1"])
    for task in tasks.values():
        assert task.kinds == (BID,)
        assert task.outcome["kind"].unique().to_list() == [BID]


def test_related_seeds_the_first_line_and_targets_the_other_items() -> None:
    related = build_tasks(events(PURCHASES), CUT, ["u1", "u3"])[RELATED]
    requests = {r["request_id"]: r for r in related.requests.iter_rows(named=True)}
    assert set(requests) == {"related:u1@12", "related:u2@11", "related:anon-1"}
    assert requests["related:u1@12"]["seeds"] == ["a"]
    assert _outcome(related.outcome, "related:u1@12") == {("c", BID): 5.0}
    assert _outcome(related.outcome, "related:anon-1") == {("d", BID): 1.0}
    new = {key: r["is_new"] for key, r in requests.items()}
    assert new == {"related:u1@12": False, "related:u2@11": True, "related:anon-1": None}


def test_recent_activity_is_the_window_before_the_request_newest_first() -> None:
    next_order = build_tasks(events(PURCHASES), CUT, ["u1"])[NEXT_ORDER]
    recent = next_order.requests.row(0, named=True)["recent"]
    assert [(r["item_id"], r["event_type"]) for r in recent] == [("x", "purchase")]
    assert recent[0]["timestamp"] == int(at(9.5).timestamp())


SESSION = [
    E("v1", "p", 9.9, event="view", session="s0"),  # before the cut: recent activity only
    E("v1", "s", 10.1, event="view", session="s1"),  # the seed
    E("v1", "t", 10.2, event="view", session="s1"),  # click
    E("v1", "s", 10.25, event="view", session="s1"),  # the seed again: never relevant
    E("v1", "t", 10.3, event="bid", price=4.0, session="s1"),  # bid (cart)
    E("v1", "u", 10.4, event="bid", price=3.0, session="s1"),  # cart then purchase of 2
    E("v1", "u", 10.5, event="purchase", price=3.0, qty=2, session="s1"),
    E("v1", "w", 10.6, event="view", session="s2"),  # another session
]


def test_sessions_with_views_define_clicks_and_bids_after_the_seed() -> None:
    tasks = build_tasks(events(SESSION), CUT, ["v1"])
    related = tasks[RELATED]
    assert related.kinds == (CLICK, BID)
    assert related.requests["request_id"].to_list() == ["related:s1", "related:s2"]
    assert related.requests.row(0, named=True)["seeds"] == ["s"]
    assert _outcome(related.outcome, "related:s1") == {
        ("t", CLICK): None,
        ("t", BID): 4.0,
        ("u", BID): 6.0,  # the purchase's value, not the cart's plus the purchase's
    }
    recent = related.requests.row(0, named=True)["recent"]
    assert [(r["item_id"], r["event_type"]) for r in recent] == [("p", "view")]


def test_sampling_is_seeded_and_keeps_outcomes_of_the_sample_only() -> None:
    many = [E(f"u{i}", item, 11 + i / 100) for i in range(40) for item in ("a", "b")]
    first = build_tasks(events(many), CUT, [], max_requests=7, seed=3)[RELATED]
    again = build_tasks(events(many), CUT, [], max_requests=7, seed=3)[RELATED]
    other = build_tasks(events(many), CUT, [], max_requests=7, seed=4)[RELATED]
    assert first.requests.height == 7
    assert first.requests.equals(again.requests)
    assert not first.requests.equals(other.requests)
    assert set(first.outcome["request_id"]) == set(first.requests["request_id"])
