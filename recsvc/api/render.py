"""Recommendation responses as JSON bytes, without a pydantic model per request.

The `items` array of an answer is rendered once, with `RecommendedItem`'s fields, when it
is ranked, and kept on the answer (`Answer.items_json`), which the answer cache shares;
a request only adds its envelope (recommendation id, model version, experiment, arm). The
body is exactly what `RecommendationResponse` documents.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

from fastapi.responses import Response

from recsvc.answer_cache import Row
from recsvc.compact_json import compact_json
from recsvc.recommend import ServingIndex
from recsvc.service import Served


def respond(served: Served) -> Response:
    """The `RecommendationResponse` JSON of `served`."""
    head = _envelope(served.model_version, served.experiment, served.arm)
    body = b'{"recommendation_id":"%s",%s"items":%s}' % (
        served.recommendation_id.encode(),
        head,
        served.answer.items_json,
    )
    return Response(body, media_type="application/json")


def items_json(rows: tuple[Row, ...], index: ServingIndex) -> bytes:
    """The `items` array, fields in `RecommendedItem`'s order: scores rounded to 6 decimals
    (0 where not finite), the catalog's name and price (4 decimals; null where unknown)."""
    catalog = index.catalog
    items = []
    for item_id, rank, score, strategy, reason, item_index in rows:
        price = float(catalog.prices[item_index])
        name = str(catalog.names[item_index])
        items.append(
            {
                "item_id": item_id,
                "rank": rank,
                "score": round(score, 6) if math.isfinite(score) else 0.0,
                "strategy": strategy,
                "reason": reason,
                "name": name or None,
                "price": round(price, 4) if math.isfinite(price) else None,
                "image_url": None,
            }
        )
    return compact_json(items)


@lru_cache(maxsize=64)
def _envelope(model_version: str, experiment: str, arm: str) -> bytes:
    """`"model_version":...,"experiment":...,"arm":...,` (a few distinct values per process)."""
    fields = {"model_version": model_version, "experiment": experiment, "arm": arm}
    return b"".join(
        b"%s:%s," % (json.dumps(k).encode(), json.dumps(v).encode()) for k, v in fields.items()
    )
