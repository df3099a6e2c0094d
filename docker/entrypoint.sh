#!/bin/sh
# Container entrypoint: `run` (the default) first brings the store's schema up to date, then the
# daemon replaces this shell (signals reach it directly). Any other command runs as given, e.g.
#   docker run -it ... login        (log the Telegram account in, once)
#   docker run ... hits list --status new
set -eu
if [ "${1:-run}" = "run" ]; then
    monitor db upgrade
    exec monitor "$@"
fi
exec monitor "$@"
