#!/usr/bin/env bash
# Installs the Debian packages the test suites need, when they are missing: the PostgreSQL
# and MariaDB server binaries (the harness starts throwaway instances from them) and openssl
# (test certificates), and iproute2 (`ss` shows the daemon's TCP keep-alive timers), and for the
# Python client (clients/python, test/e2e/python.test.ts): grpcio, protobuf and PyYAML (YAML data-source files) for Debian's
# /usr/bin/python3 (a pyenv `python3` first on PATH does not see Debian's packages), and protoc
# with grpc_python_plugin (bookworm's python3-grpc-tools 1.14.1 bundles protoc 3.6, too old for
# the contract's proto3 `optional`; it still provides the well-known .proto files); for the Go
# client (clients/go, test/e2e/go.test.ts): Debian's Go toolchain, protoc-gen-go(-grpc) and the
# Go libraries in /usr/share/gocode, naming golang-github-golang-protobuf-1-5-dev explicitly
# (golang-google-grpc-dev alone pulls -1-3-dev, whose generated code panics at the first Recv());
# for the Java client (clients/java, test/e2e/java.test.ts): a JDK, grpc_java_plugin and the jars
# in /usr/share/java (grpc-java 1.41, protobuf-java 3.21, Netty, perfmark, gson). Needs root (or sudo) only when something is missing.
# SOURCED_TEST_CLIENTS names the client toolchains to install (default "python go java"; "none" for
# none): `SOURCED_TEST_CLIENTS=python npm test` installs no Go or Java (a few hundred MB), and
# test/e2e/go.test.ts and java.test.ts then skip, each naming what is missing. CI installs all.
set -euo pipefail
clients=" $(echo "${SOURCED_TEST_CLIENTS:-python go java}" | tr ',' ' ') "
for client in $clients; do
  case "$client" in
  python | go | java | none) ;;
  *)
    echo "SOURCED_TEST_CLIENTS: unknown client \"$client\" (known: python, go, java, none)" >&2
    exit 2
    ;;
  esac
done
wants() { [[ "$clients" == *" $1 "* ]]; }
left_out=()
for client in python go java; do wants "$client" || left_out+=("$client"); done
if [ ${#left_out[@]} -gt 0 ]; then
  echo "not installing the ${left_out[*]} client toolchain(s) (SOURCED_TEST_CLIENTS=${SOURCED_TEST_CLIENTS-}): their suites in test/e2e skip, naming what is missing"
fi
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
command -v openssl >/dev/null || missing+=(openssl)
command -v ss >/dev/null || missing+=(iproute2)
if wants python || wants go || wants java; then
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
fi
if wants python; then
  /usr/bin/python3 -c 'import grpc, grpc_tools, google.protobuf, yaml' >/dev/null 2>&1 || missing+=(python3-grpcio python3-grpc-tools python3-protobuf python3-yaml)
  command -v grpc_python_plugin >/dev/null || missing+=(protobuf-compiler-grpc)
fi
if wants go; then
  { command -v go && command -v protoc-gen-go && command -v protoc-gen-go-grpc; } >/dev/null || missing+=(golang-go protoc-gen-go protoc-gen-go-grpc)
  for lib in google.golang.org/grpc:golang-google-grpc-dev google.golang.org/protobuf:golang-google-protobuf-dev \
    google.golang.org/genproto/googleapis/rpc:golang-google-genproto-dev github.com/golang/protobuf/ptypes/any:golang-github-golang-protobuf-1-5-dev; do
    [ -d "/usr/share/gocode/src/${lib%%:*}" ] || missing+=("${lib#*:}")
  done
  # -1-3-dev installs the same directory as -1-5-dev: check the version that is there
  dpkg -s golang-github-golang-protobuf-1-3-dev >/dev/null 2>&1 && missing+=(golang-github-golang-protobuf-1-5-dev)
fi
if wants java; then
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v grpc_java_plugin >/dev/null || missing+=(protobuf-compiler-grpc-java-plugin)
  for jar in grpc-netty:libgrpc-java protobuf-util:libprotobuf-java netty-codec-http2:libnetty-java perfmark-api:libperfmark-java gson:libgoogle-gson-java; do
    [ -f "/usr/share/java/${jar%%:*}.jar" ] || missing+=("${jar#*:}")
  done
fi
[ ${#missing[@]} -eq 0 ] && exit 0
packages=$(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing $(echo "$packages" | wc -l) Debian packages for the tests (needs root or sudo): $(echo $packages)"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# apt's and dpkg's progress (hundreds of lines) go to a log; a summary line here, the log's end on failure.
log=$(mktemp -t sourced-apt.XXXXXX)
started=$SECONDS
if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Progress-Fancy=0 -o Dpkg::Use-Pty=0 $packages; } >"$log" 2>&1; then
  echo "apt-get failed; the end of its output ($log):" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "installed in $((SECONDS - started)) s ($(grep -c '^Setting up ' "$log" || true) packages set up with their dependencies; apt's output: $log)"
