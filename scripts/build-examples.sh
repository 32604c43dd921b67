#!/usr/bin/env bash
# Installs and builds the example third-party plugins in examples/*/ (each its own npm package
# with its own package-lock.json), so that `vitest run` can load them by path and run their
# tests. Assumes the repository is installed and built (`npm ci`, `npm run build`): the
# examples take @sourced/plugin-sdk, the daemon (`sourced`), TypeScript and vitest from the
# repository's node_modules by Node's resolution up the folders (see examples/*/README.md).
#
#   bash scripts/build-examples.sh            # every example
#   bash scripts/build-examples.sh sqlite-connector
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ ! -f sdk/dist/index.js ] || [ ! -f daemon/dist/index.js ]; then
  echo "build-examples: build the repository first (npm run build)" >&2
  exit 1
fi

if [ "$#" -gt 0 ]; then
  examples=("$@")
else
  examples=()
  for dir in examples/*/; do
    [ -f "$dir/package.json" ] && examples+=("$(basename "$dir")")
  done
fi

for name in "${examples[@]}"; do
  dir="$root/examples/$name"
  echo "build-examples: $name"
  start=$SECONDS
  # npm ci when the example was never installed or its manifest or lock file changed since
  # (npm writes node_modules/.package-lock.json last, on success); always with
  # EXAMPLES_NPM_CI=always. A fresh checkout (CI) always installs. better-sqlite3 compiles
  # SQLite from source here (no prebuilt binary can be downloaded), which takes a minute or more.
  stamp="$dir/node_modules/.package-lock.json"
  if [ "${EXAMPLES_NPM_CI:-}" = always ] || [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  else
    echo "build-examples: $name: node_modules is up to date with package-lock.json (EXAMPLES_NPM_CI=always reinstalls)"
  fi
  (cd "$dir" && npx --no-install tsc -p .)
  # Type-check the tests too (vitest only strips their types).
  if [ -f "$dir/tsconfig.test.json" ]; then (cd "$dir" && npx --no-install tsc -p tsconfig.test.json); fi
  echo "build-examples: $name ready in $((SECONDS - start)) s"
done
