#!/usr/bin/env bash
# Runs the Java smoke client built by clients/java/build.sh (stdin: {"address", "data_source", "table"}).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=clients/java/classpath.sh
. "$here/classpath.sh"
exec java -cp "$here/build/classes:$SOURCED_JAVA_CLASSPATH" dev.sourced.smoke.Smoke
