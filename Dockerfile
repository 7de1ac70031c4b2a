# The worker image of docker-compose.yml: the TypeScript sources run through tsx, as in development (no build step).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. Install scripts are skipped: the worker needs none
# (the embedded Postgres is for the local stack only), and esbuild and Temporal's core bridge ship prebuilt binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY . .
# The workflow bundle is built once, here, instead of by webpack in every worker at start-up.
RUN node --require tsx/cjs worker/build-workflow-bundle.ts /app/dist/workflow-bundle.js
ENV DATAFLOW_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# As worker/worker-command.ts: at most two malloc arenas, large buffers mapped and returned to the system when freed.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072

USER node
# One process (tsx as a require hook, not a wrapper), so the SIGTERM of `docker stop` reaches the worker itself and
# it shuts down cleanly.
CMD ["node", "--require", "tsx/cjs", "worker/main.ts"]
