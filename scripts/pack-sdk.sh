#!/usr/bin/env bash
# Packs what a plugin author installs, as versioned npm tarballs, into one folder (default
# dist-packages/, git-ignored): @sourced/plugin-sdk, what it depends on (@sourced/api,
# @sourced/core), the daemon its testing kit starts in-process (@sourced/daemon), the built-in
# plugins (@sourced/plugin-*: optional peer dependencies of the daemon, which an operator
# installs next to it and a plugin's tests do without), and the `sourced` command (@sourced/cli).
#
# Each package is packed separately rather than bundled into the SDK: the daemon and the SDK
# must share ONE @sourced/core, whose error classes and plugin brand the daemon recognises.
# The workspaces depend on each other by exact version, never `file:` or `workspace:`; the
# check below fails if a tarball's package.json says otherwise, or names a @sourced package
# that is not among the tarballs.
#
#   npm run pack:sdk                 # build first (npm run build)
#   bash scripts/pack-sdk.sh DIR     # another folder
#
# Install them in a plugin package without a registry (docs/plugins.md, "Install"):
#   npm install --no-save DIR/sourced-api-*.tgz DIR/sourced-core-*.tgz DIR/sourced-daemon-*.tgz DIR/sourced-plugin-sdk-*.tgz
# An operator installs every tarball but the SDK's: the CLI, the daemon and the built-ins (docs/plugins.md, section 7).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist-packages}"
workspaces=(api core sdk daemon plugins/postgres plugins/mysql plugins/mongodb plugins/aws plugins/azure cli)

for w in "${workspaces[@]}"; do
  if [ ! -d "$w/dist" ]; then
    echo "pack:sdk: $w/dist is missing: build the repository first (npm run build)" >&2
    exit 1
  fi
done

rm -rf "$out"
mkdir -p "$out"
args=()
for w in "${workspaces[@]}"; do args+=(-w "$w"); done
# --ignore-scripts: the root's prepare (a build) is not the packages'; they are built already.
npm pack --silent --ignore-scripts --pack-destination "$out" "${args[@]}" >/dev/null

node - "$out" <<'NODE'
const { execFileSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const out = process.argv[2];
const tarballs = readdirSync(out).filter((f) => f.endsWith('.tgz')).sort();
const manifests = tarballs.map((file) => ({ file, pkg: JSON.parse(execFileSync('tar', ['-xzOf', join(out, file), 'package/package.json'], { encoding: 'utf8' })) }));
const packed = new Map(manifests.map(({ pkg }) => [pkg.name, pkg.version]));
const problems = [];
for (const { file, pkg } of manifests) {
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies']) {
    for (const [name, spec] of Object.entries(pkg[field] ?? {})) {
      if (/^(file|link|workspace|git\+?[a-z]*|https?):/.test(spec) || spec.startsWith('.') || spec.startsWith('/')) problems.push(`${file}: ${field}.${name} is "${spec}" (not a version range)`);
      if (name.startsWith('@sourced/') && field !== 'devDependencies' && !packed.has(name)) problems.push(`${file}: ${field}.${name} is not among the tarballs`);
    }
  }
}
if (problems.length) {
  console.error(`pack:sdk: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
for (const { file, pkg } of manifests) console.log(`${join(out, file)}  ${pkg.name}@${pkg.version}`);
NODE
