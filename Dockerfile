# The Memoir image: one image, two roles, chosen by the command (`worker` or `api`; docker-compose.yml runs both).
# Two stages: `build` compiles TypeScript to dist/ and prebuilds the workflow bundle (`npm run build`); the
# runtime stage holds production dependencies and dist/ only, so no TypeScript tool chain runs in production and
# a worker loads the prebuilt bundle instead of running webpack when it starts.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# What the build reads (see .dockerignore): the sources, temporal-config/, tsconfig*.json, scripts/build*.ts,
# packages/client (the client package is built alongside).
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MEMOIR_DATA_DIR=/data \
    MEMOIR_API_HOST=0.0.0.0

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. `--omit=dev` leaves out the build, test and lint
# tool chain (tsx and TypeScript included): everything the processes load at run time is in `dependencies`.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
    && npm cache clean --force

# The compiled output (with SQL migrations, temporal-config/*.json and dist/workflow-bundles/) and the command.
COPY --from=build /app/dist ./dist
COPY bin ./bin

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
