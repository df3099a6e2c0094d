# syntax=docker/dockerfile:1
# Build: docker build -t telegram-hash-monitor .
# Run:   docker run --rm -v monitor-data:/data telegram-hash-monitor demo --dir /data/demo
#
# Stage 1 builds wheels (pdqhash compiles C++ on platforms without a published wheel), so the
# runtime image carries no compiler.
FROM python:3.11-slim-bookworm AS build
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
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /etc/monitor \
    && chown monitor:monitor /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'telegram-hash-monitor[heic]' \
    && rm -rf /wheels
COPY --chmod=0644 docker/config.toml /etc/monitor/config.toml
USER monitor
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["monitor"]
CMD ["--help"]
