# syntax=docker/dockerfile:1
# The injector image: `outrigger serve`, the admission webhook the chart deploys
# as ghcr.io/outrigger/injector.
#
# Build from the repository root, after `npm ci && npm run build`:
#   docker build -t outrigger-injector:dev .

# Production dependencies only, resolved from the lock file.
FROM node:24-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-alpine
WORKDIR /app
ENV NODE_ENV=production
# A smaller young generation keeps resident memory near 125 MiB under thousands
# of reviews a second at no measurable cost in throughput (docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY dist ./dist
COPY examples ./examples
# The chart runs it as 65532 with a read-only root filesystem and /tmp on an emptyDir.
USER 65532:65532
EXPOSE 8443
# Single-threaded GC: the injector's work is one event loop, and V8's parallel GC
# helpers mostly compete with it for the same CPU time. On one core they made
# p99 latency at 1,000 reviews/s over twice as bad, for no gain in throughput
# (docs/performance.md). Node refuses this flag in NODE_OPTIONS, hence here.
ENTRYPOINT ["node", "--single-threaded-gc", "/app/dist/src/cli/main.js"]
CMD ["serve"]
