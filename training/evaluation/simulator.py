"""REPLAY traffic simulator: held-out shoppers replayed against the running HTTP service.

This is a REPLAY, not a real experiment: the shoppers' behaviour is what they really did
after the cut-off, whatever the service showed them. The service assigns the arm of every
request (as in production) and logs its own impressions; the simulator only posts the
answering events, for recommended items the shopper really went on to view or buy, by
the definitions of `training.evaluation.tasks`:

- `next_order` requests: GET /v1/users/{user}/recommendations with the shopper's country
  and the hour of their next order;
- `related` requests: GET /v1/items/{seed}/related with the shopper's user id (when known);
- for each recommended item among the request's outcome: `bid` (kind "bid"), plus
  `purchase`, both with amount = Σ price × quantity, when that revenue is positive; `click` for
  kind "click" (only data with views, e.g. REES46; never on purchase-only data).

Event ids are a hash of (request id, item, event type), so re-running is idempotent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from training.data.schema import COUNTRY, HOUR, ITEM, SESSION, TS, USER
from training.data.split import time_split
from training.evaluation.metrics import KIND, REQUEST, REVENUE
from training.evaluation.tasks import BID, CLICK, NEXT_ORDER, SEEDS, TaskSet, build_tasks

LABEL = "REPLAY (simulated traffic from held-out data; not a real experiment)"


class Response(Protocol):
    """The part of an httpx response the simulator uses."""

    status_code: int

    def json(self) -> Any: ...

    def raise_for_status(self) -> Any: ...


class HttpClient(Protocol):
    """An httpx.Client-like object (httpx.Client, fastapi.testclient.TestClient)."""

    def get(self, url: str, *, params: dict[str, Any] | None = None) -> Any: ...

    def post(self, url: str, *, json: Any = None) -> Any: ...


@dataclass
class ReplaySummary:
    """Counts of one replay: requests per arm, events posted per (arm, type)."""

    label: str = LABEL
    requests: Counter[str] = field(default_factory=Counter)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "label": self.label,
            "requests_by_arm": dict(self.requests),
            "events_by_arm": {f"{arm}/{kind}": n for (arm, kind), n in self.events.items()},
            "events_posted": sum(self.events.values()),
        }


def event_id(request_id: str, item_id: str, kind: str) -> str:
    """Deterministic event id of one answering event."""
    return hashlib.sha256(f"{request_id}|{item_id}|{kind}".encode()).hexdigest()[:32]


def replay_tasks(
    events: pl.DataFrame, cutoff: Any, *, shoppers: int | None, seed: int
) -> dict[str, TaskSet]:
    """The held-out tasks: requests after `cutoff` by shoppers active before it, each task
    sampled to at most `shoppers` requests (seeded)."""
    train, _ = time_split(events, cutoff)
    known = train[USER].drop_nulls().unique().to_list()
    return build_tasks(events, cutoff, known, max_requests=shoppers, seed=seed)


def simulate(client: HttpClient, tasks: dict[str, TaskSet], *, k: int = 10) -> ReplaySummary:
    """Replay every request of `tasks` through `client` and post the answering events."""
    summary = ReplaySummary()
    for task in tasks.values():
        outcome = task.outcome.group_by(REQUEST, ITEM, KIND).agg(pl.col(REVENUE).sum())
        by_request: dict[str, list[dict[str, Any]]] = {}
        for row in outcome.iter_rows(named=True):
            by_request.setdefault(row[REQUEST], []).append(row)
        for request in task.requests.iter_rows(named=True):
            body = _ask(client, task.name, request, k)
            if body is None:
                continue
            arm = str(body.get("arm"))
            summary.requests[arm] += 1
            posted = _answer(request, body, by_request.get(request[REQUEST], []))
            if posted:
                client.post("/v1/events", json={"events": posted}).raise_for_status()
            for event in posted:
                summary.events[(arm, event["type"])] += 1
    return summary


def _ask(client: HttpClient, task: str, request: dict[str, Any], k: int) -> Any:
    params: dict[str, Any] = {"k": k}
    if request[COUNTRY] is not None:
        params["country"] = request[COUNTRY]
    if request[HOUR] is not None:
        params["hour"] = int(request[HOUR])
    if task == NEXT_ORDER:
        url = f"/v1/users/{request[USER]}/recommendations"
    else:
        if not request[SEEDS]:
            return None
        url = f"/v1/items/{request[SEEDS][0]}/related"
        if request[USER] is not None:
            params["user_id"] = request[USER]
    response = client.get(url, params=params)
    return response.json() if response.status_code == 200 else None


def _answer(
    request: dict[str, Any], body: dict[str, Any], outcome: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events for recommended items among the request's outcome rows."""
    ranks = {item["item_id"]: int(item["rank"]) for item in body["items"]}
    timestamp = request[TS].isoformat()
    events = []
    for row in outcome:
        rank = ranks.get(row[ITEM])
        if rank is None:
            continue
        kinds = [row[KIND]] if row[KIND] in (BID, CLICK) else []
        if row[KIND] == BID and row[REVENUE] > 0:
            kinds.append("purchase")
        for kind in kinds:
            event: dict[str, Any] = {
                "event_id": event_id(request[REQUEST], row[ITEM], kind),
                "type": kind,
                "user_id": request[USER],
                "session_id": request[SESSION] or request[REQUEST],
                "item_id": row[ITEM],
                "timestamp": timestamp,
                "recommendation_id": body["recommendation_id"],
                "position": rank,
            }
            if kind != CLICK:
                event["amount"] = float(row[REVENUE])
            events.append(event)
    return events
