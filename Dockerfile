# The worker image of docker-compose.yml: the TypeScript sources compiled by the worker's own launcher, as in development.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. Install scripts are skipped: the worker needs none
# (the embedded Postgres is for the local stack only), and esbuild and Temporal's core bridge ship prebuilt binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY . .
# The workflow bundle and the worker's JavaScript are built once, here, instead of at every start.
RUN node --require tsx/cjs worker/build-workflow-bundle.ts /app/dist/workflow-bundle.js && node worker/launch.js --build-only
ENV DATAFLOW_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# As worker/worker-command.ts: at most two malloc arenas, large buffers mapped and returned to the system when freed.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072

USER node
# One process (no wrapper), so the SIGTERM of `docker stop` reaches the worker itself and it shuts down cleanly.
CMD ["node", "worker/launch.js"]
