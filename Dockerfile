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
# NODE_COMPILE_CACHE: Node keeps the transpiled and compiled sources there (as npm start does,
# package.json); written at build below, so the server never loads the TypeScript stripper.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 NODE_COMPILE_CACHE=/home/node/.cache/node-compile
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
# Start the server once, in memory, to write the compile cache into the image (the server writes
# it as soon as it listens; /health answering means it is there). Cache entries are keyed by path
# and content, so they stay valid for exactly these sources. The executors' host processes and
# threads add their own entries on first use; the cache stays writable by the node user.
RUN DATABASE_URL=memory: PORT=18080 LOG_LEVEL=warn node src/server.ts & pid=$!; \
    node -e "const end=Date.now()+60000;(async function poll(){try{if((await fetch('http://127.0.0.1:18080/health')).status<500)process.exit(0)}catch{}if(Date.now()>end)process.exit(1);setTimeout(poll,200)})()"; \
    ok=$?; kill -TERM $pid; wait $pid; test $ok -eq 0 && test -n "$(ls -A /home/node/.cache/node-compile)"
EXPOSE 8080
# SIGTERM (docker stop) lets in-flight calls finish: allow MAX_CALL_TIMEOUT_MS + 5 s
# (docker stop -t 40 with the defaults; compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/server.ts"]
