# syntax=docker/dockerfile:1.7
# One multi-stage build; each component is a target:
#   docker build --target gateway -t homelab-mcp/gateway .
#   (targets: gateway, shard-traefik, shard-dozzle, shard-authentik, certs-init)
# The sources are TypeScript run through tsx, exactly as `npm start` runs them.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production npm_config_update_notifier=false
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
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY pki ./pki
COPY hygiene ./hygiene
COPY shard-kit ./shard-kit
COPY cli ./cli
# The node user (uid 1000) of the official image; nothing runs as root.
USER node
ENTRYPOINT ["node", "--import", "tsx"]

FROM base AS gateway
COPY --chown=root:root gateway ./gateway
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "--import", "tsx", "cli/src/main.ts", "healthcheck", "--http", "http://127.0.0.1:8765/healthz"]
CMD ["gateway/src/main.ts"]

FROM base AS shard-traefik
COPY --chown=root:root shard-traefik ./shard-traefik
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "--import", "tsx", "cli/src/main.ts", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["shard-traefik/src/main.ts"]

FROM base AS shard-dozzle
COPY --chown=root:root shard-dozzle ./shard-dozzle
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "--import", "tsx", "cli/src/main.ts", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["shard-dozzle/src/main.ts"]

FROM base AS shard-authentik
COPY --chown=root:root shard-authentik ./shard-authentik
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["node", "--import", "tsx", "cli/src/main.ts", "healthcheck", "--grpc", "127.0.0.1:50051"]
CMD ["shard-authentik/src/main.ts"]

FROM base AS certs-init
CMD ["cli/src/main.ts", "certs", "init"]
