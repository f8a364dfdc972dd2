# The bot as a small image: Python 3.12 slim, the project installed with pip, a non-root user,
# the SQLite database on a volume at /app/data.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY providers ./providers
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app bot \
    && mkdir -p /app/data \
    && chown bot /app/data

USER bot
VOLUME ["/app/data"]
CMD ["python", "-m", "bot"]
