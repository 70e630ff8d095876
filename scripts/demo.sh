#!/usr/bin/env bash
# One command from a fresh clone to a running service: install, index the committed demo
# catalog into the embedded Qdrant Edge store (data/qdrant), train the LightFM model and the
# learned ranker on the demo playlists (data/models), bring the interaction database (data/musicrec.db, or
# MUSICREC_DATABASE_URL) to the current schema, then serve the API.
# Re-runs skip every unchanged track and reuse the model, so they start in seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

musicrec db upgrade
musicrec index data/demo/tracks.csv
models=${MUSICREC_MODEL_DIR:-${MUSICREC_DATA_DIR:-data}/models}
if [ ! -f "$models/latest" ] || [ ! -f "$models/ranker-latest" ]; then  # LightFM, then the ranker
    musicrec train --catalog data/demo/tracks.csv --interactions data/demo/interactions.csv
fi
# Write endpoints (POST /interactions, /model/reload) need a key: make one for the demo once.
if [ -z "${MUSICREC_API_KEY:-}" ]; then
    keyfile=${MUSICREC_DATA_DIR:-data}/demo-api-key
    [ -s "$keyfile" ] || python -c 'import secrets; print(secrets.token_urlsafe(24))' > "$keyfile"
    MUSICREC_API_KEY=$(cat "$keyfile")
    export MUSICREC_API_KEY
fi
host=${MUSICREC_API_HOST:-127.0.0.1}
port=${MUSICREC_API_PORT:-8000}
cat <<TXT

musicrec is starting on http://$host:$port  (interactive docs: http://$host:$port/docs)
Try:
  curl -s http://$host:$port/health
  curl -s "http://$host:$port/search?q=jenny+I+got+your+number&limit=3"
  curl -s -X POST http://$host:$port/recommendations -H 'content-type: application/json' \\
       -d '{"positive": ["00MI0oGDVJYM1qWbyUOIhH"], "limit": 5}'
  curl -s "http://$host:$port/users/4zNayWuATXCAA9gaXvnFnq/recommendations?limit=5"
  curl -s http://$host:$port/stats            # online evaluation (or: musicrec stats)
  curl -s -X POST http://$host:$port/interactions -H "X-API-Key: $MUSICREC_API_KEY" \\
       -H 'content-type: application/json' \\
       -d '{"events": [{"user_id": "me", "track_id": "00MI0oGDVJYM1qWbyUOIhH"}]}'
The web page: http://$host:$port/
TXT
exec musicrec-api
