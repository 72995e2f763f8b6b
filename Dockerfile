# One image for every service of the cluster. The command selects the service:
#   node services/acceptor/src/main.ts   (needs PAXOS_ACCEPTOR_ID, REDIS_URL, PAXOS_ACCEPTOR_IDS)
#   node services/acceptor/src/init.ts --once /var/lib/paxos/acceptor-initialised   (one-off init)
#   node services/proposer/src/main.ts
#   node services/learner/src/main.ts    (PAXOS_DATA_DIR on a volume, e.g. /var/lib/paxos)
#   node services/gateway/src/main.ts    (the default)
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step, so the
# image holds the sources and the production dependencies only.
#
# No HEALTHCHECK here: the port to probe differs by service (PAXOS_ADMIN_PORT, the gateway's
# PAXOS_HTTP_PORT), Kubernetes ignores HEALTHCHECK and probes the admin port itself, and
# docker-compose.yml gives every service its own check on /readyz.

ARG NODE_IMAGE=node:24.19.0-bookworm-slim

# Only the package manifests, so the dependency layer below is rebuilt when a manifest or the
# lockfile changes, not on every source change (a COPY --from is cached by its content).
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
  && cp package.json package-lock.json /manifests/ \
  && find packages services -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# Production dependencies only: the root devDependencies (TypeScript, vitest, the `node` package
# that pins Node for `npm run`: the base image is Node 24 already) stay out. No install scripts:
# no production dependency needs one.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN npm ci --omit=dev --workspaces --include-workspace-root --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to the service (which drains and exits 0) and reaps zombies.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /var/lib/paxos \
  && chown 1000:1000 /var/lib/paxos
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/ ./
COPY packages/ packages/
COPY services/ services/
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can verify it. Named volumes
# mounted on /var/lib/paxos start out owned by it.
USER 1000:1000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "services/gateway/src/main.ts"]
