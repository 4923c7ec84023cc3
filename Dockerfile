# syntax=docker/dockerfile:1
# One image for every node: SERVICES picks what a container runs (api, users, content,
# progress, notify, billing). The first stage compiles the TypeScript to JavaScript
# (`npm run build` → dist/, source maps beside it); the second installs only the production
# dependencies; the last copies both, without the sources, tsx or any devDependency, and
# drops root. A node then runs on plain Node: no transpiler in memory (docs/benchmarks.md).

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing the build runs needs an install script (esbuild and swc ship
# their binaries as optional packages); it also keeps the `node` devDependency's installer
# out, so the build runs on the image's own Node 24 (node --import tsx, not npm run).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node --import tsx scripts/build.ts

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts: nothing in the production tree needs an install script (argon2 ships
# prebuilt binaries, PGlite is WebAssembly). The cache mount keeps npm's download cache
# out of the layer.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="lingomesh" \
      org.opencontainers.image.description="Lingomesh Moleculer node (SERVICES selects the services)"
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    PORT=3000 \
    METRICS_PORT=3030 \
    DATA_DIR=/var/lib/lingomesh
# A node's live heap is 20–50 MiB; without bounds V8 lets a busy node grow to 300–400 MiB
# before collecting (docs/benchmarks.md). One libuv thread per core (password hashes run
# there): raise both with the container's CPU and memory limits. glibc: two malloc arenas,
# and Node's large blocks unmapped when freed (Argon2's 19 MiB blocks are the addon's own
# mimalloc's, mapped and unmapped per hash whatever these say).
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2" \
    UV_THREADPOOL_SIZE=2 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
# The unprivileged `node` user (uid 1000) of the official image owns only the data dir.
RUN mkdir -p /var/lib/lingomesh && chown node:node /var/lib/lingomesh
COPY --from=deps /app/node_modules ./node_modules
# The compiled build only (its templates and data files included), read-only for the
# runtime user.
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000 3030
# Readiness of this node (transporter, cache, databases, broker) on METRICS_PORT — every
# node serves it there, the gateway too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||3030)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node itself is the container's process (no npm, no tsx in between): on SIGTERM the broker
# stops taking work, finishes in-flight calls (tracking.shutdownTimeout 10 s) and leaves.
# Stack traces name the TypeScript files and lines (the source maps in dist/).
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "dist/server.js"]
