# syntax=docker/dockerfile:1.7
# One multi-stage build; each component is a target:
#   docker build --target gateway -t homelab-mcp/gateway .
#   (targets: gateway, shard-traefik, shard-dozzle, shard-authentik, certs-init)
# The TypeScript is compiled once (`homelab-mcp build`, esbuild) into one ES
# module per component, which is what `npm start` runs too: no compiler and no
# TypeScript loader in the running images.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS workspace
WORKDIR /app
ENV npm_config_update_notifier=false
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY pki/package.json pki/
COPY hygiene/package.json hygiene/
COPY shard-kit/package.json shard-kit/
COPY shard-traefik/package.json shard-traefik/
COPY shard-dozzle/package.json shard-dozzle/
COPY shard-authentik/package.json shard-authentik/
COPY gateway/package.json gateway/
COPY homelab-sim/package.json homelab-sim/
COPY cli/package.json cli/

FROM workspace AS build
RUN npm ci --no-audit --no-fund
COPY . .
RUN node cli/bin/homelab-mcp.js build

FROM workspace AS deps
ENV NODE_ENV=production
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# The workspace packages the bundles still read at run time (the descriptor set, the health proto path).
COPY proto ./proto
COPY --from=build /app/dist/cli.mjs ./dist/
# The node user (uid 1000) of the official image; nothing runs as root.
USER node
ENTRYPOINT ["node"]

FROM base AS gateway
COPY --from=build /app/dist/gateway.mjs ./dist/
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/cli.mjs", "healthcheck", "--http", "http://127.0.0.1:8765/healthz"]
CMD ["dist/gateway.mjs"]

FROM base AS shard-traefik
COPY --from=build /app/dist/shard-traefik.mjs ./dist/
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/cli.mjs", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["dist/shard-traefik.mjs"]

# V8 settings as in RUNTIME_FLAGS (cli/src/supervisor.ts): a small young generation for the log streams (bench/README.md).
FROM base AS shard-dozzle
COPY --from=build /app/dist/shard-dozzle.mjs ./dist/
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/cli.mjs", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["--max-semi-space-size=2", "--no-allocation-site-pretenuring", "dist/shard-dozzle.mjs"]

FROM base AS shard-authentik
COPY --from=build /app/dist/shard-authentik.mjs ./dist/
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/cli.mjs", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["dist/shard-authentik.mjs"]

FROM base AS certs-init
CMD ["dist/cli.mjs", "certs", "init"]
