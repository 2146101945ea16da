"""The app factory: `create_app(settings)` builds a FastAPI app; nothing happens at import.

The lifespan loads the live bundle (refusing to start only when no valid bundle exists),
opens the event store (an unavailable one answers 503 until it can be opened), starts the
reload poller and the retention job, and stops them.
Tests pass their own `store` (e.g. `open_store("memory://")`).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from recsvc import __version__
from recsvc.api.deps import ServiceState
from recsvc.api.errors import install_error_handlers
from recsvc.api.hot_path import HotPath
from recsvc.api.middleware import ServiceMiddleware
from recsvc.api.render import items_json
from recsvc.api.routes import admin, demo, events, ops, recommendations
from recsvc.config import Settings
from recsvc.events import EventStore
from recsvc.events.reopening import ReopeningStore
from recsvc.events.retention import RetentionJob
from recsvc.events.writer import StoreWriter
from recsvc.gc_timer import GcPauseTimer
from recsvc.live import BundleHolder
from recsvc.logs import configure_logging
from recsvc.metrics import Metrics
from recsvc.recommend import ServingIndex, build_index
from recsvc.service import Recommender

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings, *, store: EventStore | None = None) -> FastAPI:
    """A configured app; its state is built when the lifespan starts."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        sys.setswitchinterval(settings.gil_switch_interval_seconds)
        holder: BundleHolder[ServingIndex] = BundleHolder(settings.models_dir, build_index, metrics)
        holder.load_initial()
        event_store = store or ReopeningStore(settings.event_store_url)
        writer = StoreWriter(
            event_store, commit_interval=settings.impression_commit_interval_seconds
        )
        retention = RetentionJob(event_store, settings.retention_days)
        app.state.recsvc = ServiceState(
            settings=settings,
            holder=holder,
            store=event_store,
            writer=writer,
            metrics=metrics,
            recommender=Recommender(
                settings, holder, event_store, writer, metrics, render_items=items_json
            ),
        )
        # everything built so far (modules, the bundle's index) lives as long as the process:
        # keep it out of the cyclic GC's full collections, which otherwise scan it every time
        gc.freeze()
        holder.start_polling(settings.reload_poll_seconds)
        retention.start()
        try:
            with GcPauseTimer(metrics.gc_pauses):
                yield
        finally:
            holder.stop()
            retention.stop()
            writer.close()
            if store is None:
                event_store.close()

    app = FastAPI(
        title="recsvc",
        version=__version__,
        summary="Cross-sell recommendations: related items, cart completion, next purchase.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (recommendations.router, events.router, admin.router, ops.router):
        app.include_router(router)
    if settings.demo:
        app.include_router(demo.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # the router's own routes: it is included as is (no extra prefix or dependencies)
    app.add_middleware(HotPath, routes=recommendations.router.routes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-request-id"],
        )
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app
