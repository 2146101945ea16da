"""The peer of the service benchmarks: a bare FastAPI app with one endpoint.

`GET /v1/items/{item_id}/related?k=10` answers a constant JSON body shaped like the
service's `RecommendationResponse` with 10 items, so the same wrk request set can be sent
to both. Nothing else: no middleware, no dependencies, no validation beyond the path and
query parameters, no ranking, no impression log. It is what FastAPI and uvicorn cost on
their own; the service's throughput is reported as a ratio to it.

Served by `benchmarks/bench_service.py` with the same uvicorn settings as the service:
    uvicorn bare_app:app --app-dir benchmarks --host 127.0.0.1 --port 8001 \
        --workers 1 --log-level warning --no-access-log
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import FastAPI, Query

N_ITEMS: Final = 10

RESPONSE: Final[dict[str, Any]] = {
    "recommendation_id": "5f0c3a9e8d1b4c3f9a7e2d1c0b9a8f7e",
    "model_version": "20261123T120000Z-1a2b3c4d",
    "experiment": "recs-2026-11",
    "arm": "model",
    "items": [
        {
            "item_id": f"{22400 + rank}",
            "rank": rank,
            "score": round(1.0 / rank, 6),
            "strategy": "rules",
            "reason": f"bought together with 'WHITE HANGING HEART T-LIGHT HOLDER' in "
            f"{400 - 10 * rank} orders, lift 5.3",
            "name": "REGENCY CAKESTAND 3 TIER",
            "price": 12.75,
            "image_url": None,
        }
        for rank in range(1, N_ITEMS + 1)
    ],
}

app = FastAPI(title="bare peer")


@app.get("/v1/items/{item_id}/related")
async def related(item_id: str, k: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
    """The constant body, whatever the item and k."""
    del item_id, k
    return RESPONSE


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
