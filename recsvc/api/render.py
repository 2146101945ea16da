"""Recommendation responses as JSON bytes, without a pydantic model per request.

The `items` array of an answer is rendered once, through the `RecommendedItem` schema, and
kept on the answer (`Answer.items_json`), which the answer cache shares between requests;
a request only adds its envelope (recommendation id, model version, experiment, arm). The
body is exactly what `RecommendationResponse` documents.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

from fastapi.responses import Response
from pydantic import TypeAdapter

from recsvc.api.schemas import RecommendedItem
from recsvc.service import Served

_ITEMS = TypeAdapter(list[RecommendedItem])


def respond(served: Served) -> Response:
    """The `RecommendationResponse` JSON of `served`."""
    answer = served.answer
    if answer.items_json is None:
        answer.items_json = items_json(served)
    head = _envelope(served.model_version, served.experiment, served.arm)
    body = b'{"recommendation_id":"%s",%s"items":%s}' % (
        served.recommendation_id.encode(),
        head,
        answer.items_json,
    )
    return Response(body, media_type="application/json")


def items_json(served: Served) -> bytes:
    """The `items` array: scores rounded to 6 decimals (0 where not finite), the catalog's
    name and price (4 decimals; null where unknown)."""
    catalog = served.live.index.catalog
    items = []
    for slot in served.answer.slots:
        price = float(catalog.prices[slot.item_index])
        name = str(catalog.names[slot.item_index])
        # model_construct: every value is ours and already typed
        items.append(
            RecommendedItem.model_construct(
                item_id=slot.item_id,
                rank=slot.rank,
                score=round(slot.score, 6) if math.isfinite(slot.score) else 0.0,
                strategy=slot.strategy,
                reason=slot.reason,
                name=name or None,
                price=round(price, 4) if math.isfinite(price) else None,
            )
        )
    return _ITEMS.dump_json(items)


@lru_cache(maxsize=64)
def _envelope(model_version: str, experiment: str, arm: str) -> bytes:
    """`"model_version":...,"experiment":...,"arm":...,` (a few distinct values per process)."""
    fields = {"model_version": model_version, "experiment": experiment, "arm": arm}
    return b"".join(
        b"%s:%s," % (json.dumps(k).encode(), json.dumps(v).encode()) for k, v in fields.items()
    )
