#!/usr/bin/env bash
# What can be checked of the container image without a Docker engine (CI runs this):
#   1. hadolint on the Dockerfile;
#   2. the Dockerfile's two stages replayed in fresh virtualenvs: build every wheel
#      (`pip wheel '.[heic]'`), then install from those wheels only (`--no-index`), as the
#      runtime stage does;
#   3. the image's entrypoint, with the image's config pointed at a temporary /data: `run` upgrades
#      the schema before it starts the daemon (which, unconfigured, stops with exit code 3), and
#      the installed monitor runs the demo end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
HADOLINT="${HADOLINT:-.venv/bin/hadolint}"

echo "== hadolint Dockerfile"
"$HADOLINT" Dockerfile

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "== stage 1: build wheels in a fresh virtualenv"
"$PYTHON" -m venv "$work/build"
"$work/build/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$work/build/bin/pip" wheel --quiet --disable-pip-version-check --wheel-dir "$work/wheels" '.[heic]'

echo "== stage 2: install from the wheels only"
"$PYTHON" -m venv "$work/run"
"$work/run/bin/pip" install --quiet --disable-pip-version-check --no-index \
    --find-links="$work/wheels" 'telegram-hash-monitor[heic]'

echo "== entrypoint"
mkdir -m 700 "$work/data"
sed "s#\"/data\"#\"$work/data\"#" docker/config.toml > "$work/config.toml"
export PATH="$work/run/bin:$PATH" MONITOR_CONFIG="$work/config.toml"
set +e
sh docker/entrypoint.sh run --once > "$work/run.log" 2>&1
code=$?
set -e
if [ "$code" -ne 3 ]; then
    cat "$work/run.log"
    echo "expected exit code 3 (no Telegram account configured), got $code" >&2
    exit 1
fi
current="$(sh docker/entrypoint.sh db current)"
echo "$current"
echo "$current" | grep -q "up to date" || { echo "schema was not upgraded by the entrypoint" >&2; exit 1; }
[ "$(stat -c %a "$work/data/monitor.sqlite3")" = "600" ] || { echo "store is not mode 600" >&2; exit 1; }
sh docker/entrypoint.sh demo --dir "$work/data/demo" --workers 1 > "$work/demo.log"
grep -q "vpdq video" "$work/demo.log" || { cat "$work/demo.log"; exit 1; }
echo "== container checks passed"
