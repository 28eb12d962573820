# mnist-jobs images.
#   docker build --target cpu -t mnist-jobs .                 API + worker on the wasm backend (any x86-64/arm64)
#   docker build --target cuda-worker -t mnist-jobs-gpu .     worker on @tensorflow/tfjs-node-gpu (CUDA 11.2-compatible)
# Node.js 24, the current LTS (20 is past its end of life). Where Docker Hub cannot be reached, build
# the base images locally (scripts/docker-base/build.sh) and point NODE_IMAGE at the one it prints.
# Behind a TLS-inspecting proxy, hand its CA certificates (PEM) to the build; they are trusted by npm
# at build time and by the service at run time (dataset downloads, S3 over HTTPS):
#   --build-arg EXTRA_CA_CERTS="$(cat corporate-ca.pem)"
# (a build argument rather than a secret: CA certificates are public, and the classic builder that
# docker-compose 1.x drives has no secrets.)
# The GPU build downloads libtensorflow in tfjs-node-gpu's install script. That upstream download is
# unreliable, so point it at a mirror or a file you host:
#   --build-arg TFJS_NODE_CDN_STORAGE=https://mirror.example/          (mirror of storage.googleapis.com)
#   --build-arg LIBTENSORFLOW_URL=https://host/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz

ARG NODE_IMAGE=node:24-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

# ---- dependencies and generated Prisma client ------------------------------------------------
FROM ${NODE_IMAGE} AS deps
ARG EXTRA_CA_CERTS=
RUN printf '%s' "$EXTRA_CA_CERTS" > /usr/local/share/extra-ca-certs.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca-certs.pem
# The native backend's build needs a compiler, the oneDNN / OpenBLAS headers and Node's headers
# (Debian's libnode-dev: the official Node binary of the base image comes without them; the addon is
# N-API only, so another Node version's headers serve). Nothing is downloaded by node-gyp.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ libdnnl-dev libopenblas-dev libnode-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts tsconfig.json openapi.yaml ./
COPY prisma ./prisma
COPY native ./native
COPY web ./web
COPY src ./src
# Install scripts are skipped: the native TensorFlow packages (optional) would download libtensorflow.
# They are removed here; the GPU target installs its own. Everything else ships prebuilt binaries.
# Then what postinstall does: the Prisma client, the native addon (strict: the image must have it),
# the typed client and the dashboard (web/dist), before the dev dependencies go.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && PRISMA_SCHEMA_ENGINE_BINARY="$(command -v node)" npx prisma generate \
 && node native/build.mjs --strict \
 && npm run -s client:generate && npm run -s web:build \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf node_modules/@tensorflow/tfjs-node node_modules/@tensorflow/tfjs-node-gpu \
 && npm cache clean --force

# ---- CPU image: API and worker, native backend (oneDNN + OpenBLAS; wasm where it is absent) ------
FROM ${NODE_IMAGE} AS cpu
ENV NODE_ENV=production DATA_DIR=/data PORT=3000 TFJS_BACKEND=auto NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca-certs.pem
# The native addon's run-time libraries only (no compiler).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libdnnl2 libopenblas0 >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY --from=deps /usr/local/share/extra-ca-certs.pem /usr/local/share/extra-ca-certs.pem
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json prisma.config.ts tsconfig.json ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src
COPY --from=deps /app/src/generated ./src/generated
COPY --from=deps /app/src/client/schema.d.ts ./src/client/schema.d.ts
COPY --from=deps /app/native/build/Release/mnist_native.node ./native/build/Release/mnist_native.node
COPY --from=deps /app/web/dist ./web/dist
# Not root: the service needs to write only under /data.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
# The API answers /health; a worker container (same image) is checked its own way (see the script).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
CMD ["node", "--import", "tsx", "src/main.ts", "all"]

# ---- CUDA worker: tfjs-node-gpu on the GPU ------------------------------------------------------
FROM ${NODE_IMAGE} AS node-binary
FROM ${CUDA_IMAGE} AS cuda-worker
ARG TFJS_NODE_CDN_STORAGE=
ARG LIBTENSORFLOW_URL=
ENV NODE_ENV=production DATA_DIR=/data TFJS_BACKEND=tensorflow-gpu NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca-certs.pem
COPY --from=deps /usr/local/share/extra-ca-certs.pem /usr/local/share/extra-ca-certs.pem
COPY --from=node-binary /usr/local/bin/node /usr/local/bin/node
COPY --from=node-binary /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update && apt-get install -y --no-install-recommends python3 make g++ ca-certificates && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node
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
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
CMD ["node", "--import", "tsx", "src/main.ts", "worker"]
