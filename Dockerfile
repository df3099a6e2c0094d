# syntax=docker/dockerfile:1
# Build: docker build -t telegram-hash-monitor .
# Try:   docker run --rm -v monitor-data:/data telegram-hash-monitor demo --dir /data/demo
# Run:   docker run -it --rm -v monitor-data:/data -e MONITOR_TELEGRAM_API_ID=... \
#            -e MONITOR_TELEGRAM_API_HASH_FILE=/run/secrets/api_hash ... telegram-hash-monitor login
#        then the same without -it and with `run` (the default): the schema is upgraded first.
#        deploy/compose.yaml runs it with PostgreSQL.
#
# Stage 1 builds wheels (pdqhash compiles C++ on platforms without a published wheel), so the
# runtime image carries no compiler.
FROM python:3.11-slim-bookworm AS build
# build-essential is only the build stage's compiler; Debian's stable point releases pin it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[heic]'

# Stage 2: the runtime, as a non-root user, with state in the /data volume.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONITOR_CONFIG=/etc/monitor/config.toml
RUN groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /etc/monitor \
    && chown monitor:monitor /data \
    && chmod 700 /data
COPY --from=build /wheels /wheels
# Installs this very project's wheels, built above with their dependencies, from /wheels only.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'telegram-hash-monitor[heic]' \
    && rm -rf /wheels
COPY --chmod=0644 docker/config.toml /etc/monitor/config.toml
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/monitor-entrypoint
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# Healthy once the daemon is ready: hash lists loaded, Telegram connected, updates received
# (`monitor health` asks its /readyz, on [observability] bind and port; 127.0.0.1:9464 here).
HEALTHCHECK --interval=30s --timeout=15s --start-period=120s --retries=3 \
    CMD ["monitor", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/monitor-entrypoint"]
CMD ["run"]
