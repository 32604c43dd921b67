#!/usr/bin/env bash
# Installs the Debian packages the test suites need, when they are missing: the PostgreSQL
# and MariaDB server binaries (the harness starts throwaway instances from them) and openssl
# (test certificates), and iproute2 (`ss` shows the daemon's TCP keep-alive timers), and for the
# Python client (clients/python, test/e2e/python.test.ts): grpcio and protobuf for Debian's
# /usr/bin/python3 (a pyenv `python3` first on PATH does not see Debian's packages), and protoc
# with grpc_python_plugin (bookworm's python3-grpc-tools 1.14.1 bundles protoc 3.6, too old for
# the contract's proto3 `optional`; it still provides the well-known .proto files). Needs root
# (or sudo) only when something is missing.
set -euo pipefail
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
command -v openssl >/dev/null || missing+=(openssl)
command -v ss >/dev/null || missing+=(iproute2)
/usr/bin/python3 -c 'import grpc, grpc_tools, google.protobuf' >/dev/null 2>&1 || missing+=(python3-grpcio python3-grpc-tools python3-protobuf)
{ command -v protoc && command -v grpc_python_plugin; } >/dev/null || missing+=(protobuf-compiler protobuf-compiler-grpc)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages for the tests: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
