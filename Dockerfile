# The bot as a small image. Layers, from the least to the most often changed:
#   1. Debian 12 (bookworm) with Python 3.12: a pinned release, not whatever `slim` means today;
#   2. the runtime dependencies, exactly as requirements.lock pins them (pip checks every hash),
#      rebuilt only when the lock changes;
#   3. the project itself, installed from a wheel built in a throwaway stage: site-packages holds
#      the only copy of the code (no source tree, build/ or egg-info in the image), and that
#      installed package is what runs.
# It runs as uid:gid 10001:10001; the only place it can write is /app/data (the SQLite database;
# compose.yaml puts a named volume there).
FROM python:3.12-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The project as a wheel (setuptools, per pyproject.toml's build-system).
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY providers ./providers
COPY migrations ./migrations
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM base
RUN groupadd --gid 10001 bot \
    && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --requirement /tmp/requirements.lock \
    && rm /tmp/requirements.lock
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels

WORKDIR /app
USER 10001:10001
# At most 2 glibc malloc arenas: the SQLite driver's threads otherwise get one each, which
# holds about 3 MiB more resident set with 20 chats (benchmarks.streaming, README).
ENV MALLOC_ARENA_MAX=2
# compose.yaml sets it too; here for `docker run` without Compose.
ENV DATABASE_URL=sqlite+aiosqlite:////app/data/bot.db
VOLUME ["/app/data"]
CMD ["python", "-m", "bot"]
