"""The ASGI entry point for uvicorn: `uvicorn recsvc.main:app`."""

from recsvc.api.app import create_app
from recsvc.config import Settings

app = create_app(Settings())
