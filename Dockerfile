# The worker image of docker-compose.yml: the worker as `npm run build` compiles it (dist/worker.js), as in development.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. Install scripts are skipped: the worker needs none
# (the embedded Postgres is for the local stack only), and esbuild and Temporal's core bridge ship prebuilt binaries.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY . .
# The one build step (worker/build.ts): dist/worker.js and the workflow bundle it loads, dist/workflow-bundle.js. Built
# here, as root, so the worker never compiles or bundles at start and its user writes nothing.
RUN npm run build
# As worker/worker-command.ts: at most two malloc arenas, large buffers mapped and returned to the system when freed;
# and below, V8's young generation kept small.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072

USER node
# One process (no wrapper), so the SIGTERM of `docker stop` reaches the worker itself and it shuts down cleanly.
CMD ["node", "--max-semi-space-size=4", "dist/worker.js"]
