#!/usr/bin/env bash
# Runs every test of the workspace (unit, snapshot, end-to-end), installing
# what the tests need first: a Python venv with the official SDKs pinned in
# tests/python/requirements.txt, and cargo-nextest. Safe to re-run: each step
# is skipped when already done. CI runs this through .ci/run with CI=true.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

venv="$repo/.venv"
requirements="$repo/tests/python/requirements.txt"
stamp="$venv/.gatesmith-requirements"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "==> creating Python venv in .venv"
    python3 -m venv "$venv"
fi
# Reinstall only when the pinned requirements changed since the last install.
if ! cmp -s "$requirements" "$stamp"; then
    echo "==> installing Python test dependencies (tests/python/requirements.txt)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

export GATESMITH_PYTHON="$venv/bin/python"
if [[ -n "${CI:-}" ]]; then
    # Snapshot mismatches fail; nothing rewrites a snapshot in CI.
    export INSTA_UPDATE=no
fi

# The end-to-end tests build gateways in release mode; compile the runtime's
# release dependencies once here, with visible progress, so no single test
# spends its deadline waiting for a cold build.
echo "==> cargo build --release -p gatesmith-runtime --lib (shared by every generated gateway)"
cargo build --release -p gatesmith-runtime --lib

echo "==> cargo nextest run --workspace --no-fail-fast"
exec cargo nextest run --workspace --no-fail-fast "$@"
