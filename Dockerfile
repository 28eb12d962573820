# syntax=docker/dockerfile:1
# mnist-jobs images.
#   docker build --target cpu -t mnist-jobs .                 API + worker on the wasm backend (any x86-64/arm64)
#   docker build --target cuda-worker -t mnist-jobs-gpu .     worker on @tensorflow/tfjs-node-gpu (CUDA 11.2-compatible)
# The GPU build downloads libtensorflow in tfjs-node-gpu's install script. That upstream download is
# unreliable, so point it at a mirror or a file you host:
#   --build-arg TFJS_NODE_CDN_STORAGE=https://mirror.example/          (mirror of storage.googleapis.com)
#   --build-arg LIBTENSORFLOW_URL=https://host/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- dependencies and generated Prisma client ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
COPY openapi.yaml ./
COPY src/client ./src/client
COPY web ./web
# Install scripts are skipped: the native TensorFlow packages (optional) would download libtensorflow.
# They are removed here; the GPU target installs its own. Everything else ships prebuilt binaries.
# The dashboard (web/dist) is built here, with the dev dependencies, before they are pruned.
RUN npm ci --ignore-scripts \
 && PRISMA_SCHEMA_ENGINE_BINARY="$(command -v node)" npx prisma generate \
 && npm run client:generate && npm run web:build \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf node_modules/@tensorflow/tfjs-node node_modules/@tensorflow/tfjs-node-gpu

# ---- CPU image: API and worker, wasm backend ----------------------------------------------------
FROM ${NODE_IMAGE} AS cpu
ENV NODE_ENV=production DATA_DIR=/data PORT=3000 TFJS_BACKEND=auto
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json prisma.config.ts tsconfig.json ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY --from=deps /app/src/generated ./src/generated
COPY --from=deps /app/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/main.ts", "all"]

# ---- CUDA worker: tfjs-node-gpu on the GPU ------------------------------------------------------
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS cuda-worker
ARG TFJS_NODE_CDN_STORAGE=
ARG LIBTENSORFLOW_URL=
ENV NODE_ENV=production DATA_DIR=/data TFJS_BACKEND=tensorflow-gpu
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:20-bookworm-slim /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update && apt-get install -y --no-install-recommends python3 make g++ ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
RUN if [ -n "$LIBTENSORFLOW_URL" ]; then \
      npm install --no-save --ignore-scripts @tensorflow/tfjs-node-gpu@4.22.0 \
      && printf '{"tf-lib":"%s"}' "$LIBTENSORFLOW_URL" > node_modules/@tensorflow/tfjs-node-gpu/scripts/custom-binary.json \
      && npm rebuild @tensorflow/tfjs-node-gpu; \
    else \
      TFJS_NODE_CDN_STORAGE="$TFJS_NODE_CDN_STORAGE" npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0; \
    fi
COPY prisma.config.ts tsconfig.json ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY --from=deps /app/src/generated ./src/generated
VOLUME ["/data"]
CMD ["node", "--import", "tsx", "src/main.ts", "worker"]
