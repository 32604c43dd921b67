#!/usr/bin/env bash
# Generates the Go code of proto/sourced/v1/*.proto with plain protoc (the files' go_package
# option, sourced.dev/sourced/gen/go/sourced/v1, places it; no M flags) and builds
# clients/go/smoke into clients/go/bin/smoke, offline, from Debian bookworm's packages:
#
#   apt-get install golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc \
#     golang-google-grpc-dev golang-google-protobuf-dev golang-google-genproto-dev \
#     golang-github-golang-protobuf-1-5-dev
#
# (name -1-5-dev explicitly: golang-google-grpc-dev alone pulls golang-github-golang-protobuf-1-3-dev,
# and code built against it panics at the first Recv(); see docs/clients.md). GOPATH mode:
# clients/go/gopath (generated, not committed) holds the generated package, /usr/share/gocode
# Debian's Go libraries. test/e2e/go.test.ts runs this.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
gopath="$here/gopath"
rm -rf "$gopath" "$here/bin"
mkdir -p "$gopath/src" "$here/bin"
protoc -I "$root/proto" -I /usr/include \
  --go_out="$gopath/src" --go-grpc_out="$gopath/src" \
  "$root"/proto/sourced/v1/*.proto
echo "generated $(find "$gopath/src" -name '*.go' | wc -l) Go files into ${gopath#"$root"/}/src with $(protoc --version), $(protoc-gen-go --version 2>&1), $(protoc-gen-go-grpc --version 2>&1)"
cd "$here/smoke"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS="" GOCACHE="${GOCACHE:-$here/.gocache}"
test -z "$(gofmt -l .)" || { gofmt -d . >&2; exit 1; }
go build -o "$here/bin/smoke" .
echo "built ${here#"$root"/}/bin/smoke with $(go version | cut -d' ' -f3)"
