# The jars clients/java compiles and runs against: Debian's, in /usr/share/java (unversioned links).
jars=(grpc-api grpc-core grpc-context grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub protobuf protobuf-util
  guava failureaccess gson perfmark-api opencensus-api jsr305 error_prone_annotations animal-sniffer-annotations
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks netty-common netty-handler
  netty-handler-proxy netty-resolver netty-transport)
SOURCED_JAVA_CLASSPATH=""
for jar in "${jars[@]}"; do
  [ -f "/usr/share/java/$jar.jar" ] && SOURCED_JAVA_CLASSPATH="$SOURCED_JAVA_CLASSPATH:/usr/share/java/$jar.jar"
done
SOURCED_JAVA_CLASSPATH="${SOURCED_JAVA_CLASSPATH#:}"
export SOURCED_JAVA_CLASSPATH
