#!/usr/bin/env bash
# Installs the Debian packages the test suites need, when they are missing: the PostgreSQL
# and MariaDB server binaries (the harness starts throwaway instances from them) and openssl
# (test certificates), and iproute2 (`ss` shows the daemon's TCP keep-alive timers). Needs root (or sudo) only when something is missing.
set -euo pipefail
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
command -v openssl >/dev/null || missing+=(openssl)
command -v ss >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages for the tests: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
