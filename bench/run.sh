#!/usr/bin/env bash
# The gatesmith benchmark: direct vs gateway vs nginx, rebuild time, and the
# generated route matcher against matchit. Loopback only; about 5 minutes.
# Usage: bench/run.sh [--no-write] [--skip-matcher] [--reps N] ...  (see bench/harness.py)
set -euo pipefail

cd "$(dirname "$0")/.."

log() { echo "[bench] $*" >&2; }

install_if_missing() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v taskset >/dev/null || missing+=(util-linux)
    if ((${#missing[@]})); then
        local sudo=""
        [[ $(id -u) == 0 ]] || sudo="sudo"
        log "installing from Debian: ${missing[*]}"
        $sudo apt-get update -q
        # nginx-light is gone from newer Debian releases; plain nginx is the same server.
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"; then
            missing=("${missing[@]/nginx-light/nginx}")
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
        fi
    fi
}

if (($(nproc) < 2)); then
    log "needs at least 2 cores (the proxy is pinned to core 0, load and upstream to core 1)"
    exit 1
fi

install_if_missing

log "building release binaries"
cargo build --release -q -p gatesmith -p gatesmith-runtime

log "regenerating the 200-route table and its generated plan"
python3 bench/gen_routes200.py >&2
target/release/gatesmith emit bench/specs/routes200 > bench/matcher/src/generated_plan.rs.new
mv bench/matcher/src/generated_plan.rs.new bench/matcher/src/generated_plan.rs

exec python3 bench/harness.py "$@"
