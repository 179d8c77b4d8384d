# syntax=docker/dockerfile:1
# Firn's images, built from this one file (`npm run image` picks docker, podman or buildah):
#   target "server" (the default): every server component, chosen by the command's first
#     argument: gateway, ingester, querier, compactor, symbolizer, all-in-one (the default);
#     `firn` on PATH is the admin CLI
#   target "agent": the per-node eBPF agent (DaemonSet)
# Both run compiled JavaScript (`npm run build` in the build stage): no TypeScript, no SWC and
# no devDependencies at run time. Non-root (uid/gid 1000), nothing written outside the mounted
# data, cache and /tmp volumes (read-only root filesystem), tini as PID 1 so SIGTERM reaches the
# process (which drains and flushes) and the tools it spawns are reaped.
#
# NODE_IMAGE: a Debian bookworm image with Node 20 (>= 20.19) as /usr/local/bin/node or on PATH
# and a working apt; the official node:20-bookworm-slim by default.
ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies exactly as locked (`npm install --no-save`, as scripts/ensure.sh does:
# `npm ci` refuses lockfiles without other platforms' optional binaries).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm install --omit=dev --no-save --ignore-scripts --no-audit --no-fund --loglevel=error

# Compiles every app to dist/ with SWC (a devDependency, installed beside the tree at its locked
# version so the production node_modules above stay untouched).
FROM deps AS build
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm install --prefix /opt/swc --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "@swc/core@$(node -p "require('./package-lock.json').packages['node_modules/@swc/core'].version")"
ENV NODE_PATH=/opt/swc/node_modules
COPY tsconfig.base.json tsconfig.json ./
COPY scripts ./scripts
COPY libs ./libs
COPY apps ./apps
RUN node scripts/build.cjs server agent

# The web UI (React + Vite): its build toolchain is devDependencies, installed at their locked
# versions beside the production tree of this stage only.
FROM deps AS web
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm install --prefix /opt/web --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      $(node -p "['vite','@vitejs/plugin-react','react','react-dom','uplot','@connectrpc/connect-web'].map((p) => p + '@' + require('./package-lock.json').packages['node_modules/' + p].version).join(' ')") \
 && cp -rn /opt/web/node_modules/. /app/node_modules/
COPY tsconfig.base.json tsconfig.json ./
COPY scripts ./scripts
COPY libs/proto ./libs/proto
COPY apps/web ./apps/web
RUN node scripts/build.cjs web

# The servers. binutils (addr2line) and elfutils (eu-unstrip, eu-readelf): the symbolizer;
# llvm (llvm-symbolizer: lines, start lines, inline chains, discriminators): the querier's PGO export;
# nats-server: the all-in-one's embedded JetStream (scaled components use an external NATS).
FROM ${NODE_IMAGE} AS server
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates binutils elfutils llvm nats-server \
 && rm -rf /var/lib/apt/lists/* \
 && printf '#!/bin/sh\nexec node /app/dist/server/main.js admin "$@"\n' > /usr/local/bin/firn \
 && chmod 755 /usr/local/bin/firn \
 && mkdir -p /var/lib/firn/data /var/cache/firn \
 && chown 1000:1000 /var/lib/firn/data /var/cache/firn
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=build /app/dist/server ./dist/server
COPY --from=web /app/dist/web ./dist/web
ENV NODE_ENV=production FIRN_HOST=0.0.0.0 FIRN_DATA_DIR=/var/lib/firn/data
USER 1000:1000
EXPOSE 7070 4100 4101 4102 4103 4104
VOLUME ["/var/lib/firn/data"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/server/main.js"]
CMD ["all-in-one"]

# The agent: clang and libbpf-dev compile its BPF program on the node at first start (the object
# is cached in FIRN_AGENT_BPF_CACHE_DIR); it runs as root with BPF capabilities (see the chart).
FROM ${NODE_IMAGE} AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates clang libbpf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=build /app/dist/agent ./dist/agent
ENV NODE_ENV=production
ENTRYPOINT ["/usr/bin/tini", "--", "/app/dist/agent/firn-agent"]

# The default target when none is named.
FROM server
