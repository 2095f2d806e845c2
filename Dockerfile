# The Memoir image: one image, two roles, chosen by the command (`worker` or `api`; docker-compose.yml runs both).
# TypeScript runs through tsx (a runtime dependency), so there is no build step; the worker bundles the workflow
# code with webpack + SWC when it starts.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    MEMOIR_DATA_DIR=/data \
    MEMOIR_API_HOST=0.0.0.0

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. Everything the processes load at run time is in
# `dependencies` (tsx included); `--omit=dev` leaves out the test and lint tool chain.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && npm cache clean --force

# Sources, workflow code and temporal-config/ (search-attributes.json is read at start). See .dockerignore.
COPY . .

# The data directory holds what the processes create when a setting is unset (e.g. a demo API key); mount a
# volume on it to keep that across restarts.
RUN mkdir -p /data && chown node:node /data
USER node

# 8787: HTTP API (and its /metrics). 9464: worker /metrics (MEMOIR_METRICS_PORT). 9465: Temporal SDK worker
# metrics (MEMOIR_TEMPORAL_METRICS_PORT).
EXPOSE 8787 9464 9465

# Exec form, so SIGTERM from `docker stop` reaches node and the worker drains in-flight tasks.
ENTRYPOINT ["node", "bin/memoir.js"]
CMD ["worker"]
