#!/usr/bin/env bash
# Generates the Python messages and gRPC stubs of proto/sourced/v1/*.proto into
# clients/python/sourced_client/gen/ (not committed; run this after every contract change).
#
#   clients/python/generate.sh            # from anywhere in the repository
#   PYTHON=/path/to/venv/bin/python clients/python/generate.sh
#
# Two ways, tried in this order:
#  1. `$PYTHON -m grpc_tools.protoc`, when its bundled protoc compiles the contract. That needs
#     grpcio-tools >= 1.36 (protoc >= 3.15, for proto3 `optional` fields), e.g. from pip in a
#     virtualenv. Debian bookworm's python3-grpc-tools is 1.14.1 (protoc 3.6) and cannot:
#     "Explicit 'optional' labels are disallowed in the Proto3 syntax".
#  2. Debian's protoc (protobuf-compiler, 3.21.12) with grpc_python_plugin
#     (protobuf-compiler-grpc, 1.51.1); the well-known types (google/protobuf/struct.proto)
#     come from python3-grpc-tools' bundled copies, or /usr/include when libprotobuf-dev is in.
#
# PYTHON defaults to /usr/bin/python3, Debian's interpreter, which sees the python3-grpcio
# and python3-protobuf packages; a pyenv or other `python3` first on PATH does not.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
out="$here/sourced_client/gen"
protos=("$root"/proto/sourced/v1/*.proto)

tmp="$(mktemp -d)"
err="$(mktemp)"
trap 'rm -rf "$tmp" "$err"' EXIT

if "$PYTHON" -m grpc_tools.protoc -I "$root/proto" --python_out="$tmp" --grpc_python_out="$tmp" "${protos[@]}" 2>"$err"; then
  how="$PYTHON -m grpc_tools.protoc"
else
  rm -rf "$tmp" && mkdir -p "$tmp"
  command -v protoc >/dev/null && command -v grpc_python_plugin >/dev/null || {
    echo "generate.sh: $PYTHON -m grpc_tools.protoc cannot compile the contract:" >&2
    sed 's/^/  /' "$err" >&2
    echo "and protoc + grpc_python_plugin are not installed (apt-get install protobuf-compiler protobuf-compiler-grpc)" >&2
    exit 1
  }
  wkt="$("$PYTHON" -c 'import os, grpc_tools; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))' 2>/dev/null || true)"
  [ -f "$wkt/google/protobuf/struct.proto" ] || wkt=/usr/include
  [ -f "$wkt/google/protobuf/struct.proto" ] || { echo "generate.sh: google/protobuf/struct.proto not found (install python3-grpc-tools or libprotobuf-dev)" >&2; exit 1; }
  protoc -I "$root/proto" -I "$wkt" --python_out="$tmp" --grpc_python_out="$tmp" \
    --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" "${protos[@]}"
  how="$(protoc --version) + grpc_python_plugin"
fi
rm -rf "$out"
mkdir -p "$out"
cp -R "$tmp"/. "$out"/
echo "generated $(find "$out" -name '*.py' | wc -l) modules into ${out#"$root"/} with $how"
