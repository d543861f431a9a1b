# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are installed in a build stage, and the runtime image holds
# only production dependencies and the sources (Node 24 runs TypeScript by type stripping, so
# there is no compile step).

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency's installer is not needed in the image, which
# brings its own Node 24.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# src/ holds the store's migrations (src/store/migrations) and the scripts of the executor host
# processes and worker threads, which are started from process.execPath (this image's Node).
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
# The default store, sqlite:data/jit.sqlite, lives under the working directory, which belongs to
# root: data/ is made the node user's, and a volume, so the definitions outlive the container
# (mount a named volume there: docker run -v jit-data:/app/data ...). With DATABASE_URL=postgres://
# (replicas, deploy/) nothing is written there.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
# SIGTERM (docker stop) lets in-flight calls finish: allow MAX_CALL_TIMEOUT_MS + 5 s
# (docker stop -t 40 with the defaults; compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/server.ts"]
