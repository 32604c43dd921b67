#!/usr/bin/env bash
# Generates the Java code of proto/sourced/v1/*.proto with plain protoc and grpc_java_plugin (the
# files' java_package dev.sourced.v1 and java_multiple_files place it; no managed mode) and
# compiles clients/java/src with javac into clients/java/build, offline, from Debian bookworm's
# packages and jars in /usr/share/java:
#
#   apt-get install openjdk-17-jdk-headless protobuf-compiler protobuf-compiler-grpc-java-plugin \
#     libgrpc-java libprotobuf-java libnetty-java libperfmark-java libgoogle-gson-java \
#     libguava-java libopencensus-java
#
# google.rpc's Status, BadRequest and ErrorInfo are generated from api/proto/google/rpc too, and
# grpc.health.v1 from node_modules/grpc-health-check (Debian packages no grpc-services):
# Debian's libgoogle-common-protos-java (1.16) predates ErrorInfo. clients/java/run.sh runs it.
# test/e2e/java.test.ts runs both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/build"
rm -rf "$out"
mkdir -p "$out/gen" "$out/classes"
# grpc.health.v1 (grpc-services is not packaged by Debian): the copy in grpc-health-check's npm package
health="$root/node_modules/grpc-health-check/proto"
protoc -I "$root/proto" -I "$root/api/proto" -I "$health" -I /usr/include \
  --java_out="$out/gen" --grpc-java_out="$out/gen" --plugin=protoc-gen-grpc-java="$(command -v grpc_java_plugin)" \
  "$root"/proto/sourced/v1/*.proto "$root"/api/proto/google/rpc/*.proto "$health/health/v1/health.proto"
# grpc_java_plugin 1.41 annotates the stubs with javax.annotation.Generated, which JDK 11+ lacks
# (newer plugins take @generated=omit): drop the annotation.
find "$out/gen" -name '*Grpc.java' -exec perl -0pi -e 's/\@javax\.annotation\.Generated\([^)]*\)\n//' {} +
echo "generated $(find "$out/gen" -name '*.java' | wc -l) Java files with $(protoc --version) and grpc_java_plugin"
# shellcheck source=clients/java/classpath.sh
. "$here/classpath.sh"
javac -nowarn -encoding UTF-8 -d "$out/classes" -cp "$SOURCED_JAVA_CLASSPATH" $(find "$out/gen" "$here/src" -name '*.java') 2>&1 | grep -v '^Note: ' || true
[ -f "$out/classes/dev/sourced/smoke/Smoke.class" ] || { echo "javac failed" >&2; exit 1; }
echo "compiled $(find "$out/classes" -name '*.class' | wc -l) classes with $(javac -version 2>&1)"
