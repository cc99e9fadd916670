# One multi-stage build; each component is a target:
#   docker build --target gateway -t homelab-mcp/gateway .
#   (targets: gateway, shard-traefik, shard-dozzle, shard-authentik, certs-init,
#    and homelab-sim, the stand-ins of the demo: deploy/docker-compose.demo.yaml)
# The TypeScript is compiled once (`homelab-mcp build`, esbuild) into one ES
# module per component, which is what `npm start` runs too: no compiler and no
# TypeScript loader in the running images. Each image gets its own bundles and
# only the node_modules they import (`build --runtime`, cli/src/runtime-tree.ts).
# No `# syntax=` line: BuildKit's built-in frontend and the classic builder both
# build this file, and nothing but npm packages is fetched (offline hosts too).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false
COPY package.json package-lock.json .npmrc ./
COPY proto/package.json proto/
COPY pki/package.json pki/
COPY component-kit/package.json component-kit/
COPY hygiene/package.json hygiene/
COPY upstream-types/package.json upstream-types/
COPY plan-binding/package.json plan-binding/
COPY shard-kit/package.json shard-kit/
COPY shard-traefik/package.json shard-traefik/
COPY shard-dozzle/package.json shard-dozzle/
COPY shard-authentik/package.json shard-authentik/
COPY composites/package.json composites/
COPY gateway/package.json gateway/
COPY homelab-sim/package.json homelab-sim/
COPY cli/package.json cli/
COPY bench/package.json bench/
COPY deploy/package.json deploy/
COPY e2e/package.json e2e/
RUN npm ci --no-audit --no-fund
COPY . .
RUN node cli/bin/homelab-mcp.js build --runtime /runtime

# What every image shares: Node and the node user (uid 1000) of the official
# image; the application is root's and read-only to it. Nothing runs as root
# but the owners-init service (docker-compose.mcp.yaml), which only chowns.
FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NODE_ENV=production
ENTRYPOINT ["node"]

FROM base AS gateway
COPY --from=build /runtime/gateway/ ./
# A fresh named volume on /data takes this directory's owner, so the gateway can write its token and audit log.
RUN install -d -o node -g node -m 0700 /data
USER node
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/healthcheck.mjs", "--http", "http://127.0.0.1:8765/healthz"]
CMD ["dist/gateway.mjs"]

FROM base AS shard-traefik
COPY --from=build /runtime/shard-traefik/ ./
# Traefik's file-provider directory is mounted here; a named volume would take this owner.
RUN install -d -o node -g node /dynamic
USER node
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/healthcheck.mjs", "--grpc", "127.0.0.1:50051", "--identity", "shard-traefik"]
CMD ["dist/shard-traefik.mjs"]

# V8 settings as in RUNTIME_FLAGS (cli/src/supervisor.ts): a small young generation for the log streams (bench/README.md).
FROM base AS shard-dozzle
COPY --from=build /runtime/shard-dozzle/ ./
USER node
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/healthcheck.mjs", "--grpc", "127.0.0.1:50051", "--identity", "shard-dozzle"]
CMD ["--max-semi-space-size=2", "--no-allocation-site-pretenuring", "dist/shard-dozzle.mjs"]

# V8 settings as in RUNTIME_FLAGS (cli/src/supervisor.ts): a small young generation for few, small calls.
FROM base AS shard-authentik
COPY --from=build /runtime/shard-authentik/ ./
USER node
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "dist/healthcheck.mjs", "--grpc", "127.0.0.1:50051", "--identity", "shard-authentik"]
CMD ["--max-semi-space-size=2", "dist/shard-authentik.mjs"]

FROM base AS certs-init
COPY --from=build /runtime/certs-init/ ./
USER node
CMD ["dist/cli.mjs", "certs", "init"]

# The demo homelab: stand-ins for the Traefik and Authentik APIs (deploy/docker-compose.demo.yaml).
FROM base AS homelab-sim
COPY --from=build /runtime/homelab-sim/ ./
USER node
EXPOSE 8080 9000
CMD ["dist/homelab-sim.mjs"]
