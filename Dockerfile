# The musicrec image (API, and the `musicrec` CLI for one-shot jobs) used by docker-compose.yml
# and deploy/cluster.yml (Qdrant server mode via QDRANT_URL).
# The web app is built in its own stage (Node 20, npm ci from the committed lock): the image
# carries web/dist, not Node.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
# Dependencies first, from the lock (hash-checked, the versions CI tested), so this layer is
# rebuilt only when the lock changes; then the project itself, without dependencies.
COPY requirements-runtime.lock ./
RUN pip install --require-hashes --no-deps -r requirements-runtime.lock && pip check
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY core ./core
COPY indexer ./indexer
COPY jobs ./jobs
COPY cli ./cli
COPY evaluation ./evaluation
COPY api ./api
RUN pip install --no-deps --no-build-isolation .
COPY --from=web /web/dist ./web/dist
ENV MUSICREC_WEB_DIST=/app/web/dist
COPY data/demo ./data/demo
EXPOSE 8000
CMD ["musicrec-api"]
