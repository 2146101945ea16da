# Serving image: the recsvc HTTP service only. No training libraries (polars, scipy,
# implicit, lightfm) are installed: the service reads the bundle with numpy.
#
#   docker build -t recsvc .
#   docker run -p 8000:8000 \
#     -v "$PWD/models:/models:ro" -v recsvc-events:/var/lib/recsvc \
#     -e RECSVC_ADMIN_TOKEN=... -e RECSVC_USER_HASH_KEY=... recsvc
#
# CI mirrors these steps without Docker in scripts/image-check.sh.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECSVC_MODELS_DIR=/models \
    RECSVC_EVENT_STORE_URL=sqlite:////var/lib/recsvc/events.db \
    RECSVC_RELOAD_POLL_SECONDS=10

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY recsvc ./recsvc
COPY training ./training
RUN pip install -c requirements.lock . \
    && useradd --system --uid 10001 --home-dir /app recsvc \
    && mkdir -p /models /var/lib/recsvc \
    && chown recsvc /var/lib/recsvc

USER recsvc
VOLUME ["/models", "/var/lib/recsvc"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"
CMD ["recsvc", "serve", "--models", "/models", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
