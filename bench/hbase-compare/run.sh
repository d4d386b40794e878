#!/usr/bin/env bash
# Runs the HBase side of kvpod's get-throughput comparison in a JVM of its own, with the heap
# given here (the RegionServer's block cache is a fraction of it). Builds first when a source
# changed. Arguments go to the harness: run.sh --help lists them.
#
#   HBASE_COMPARE_HEAP       -Xmx of the JVM (default 4g; 6g for --cache-bytes 3.6e9)
#   HBASE_COMPARE_JAVA_OPTS  more JVM options (e.g. -XX:+UseParallelGC, a JFR recording)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
heap="${HBASE_COMPARE_HEAP:-4g}"
cp_file="$here/target/classpath.txt"

if [[ ! -f "$cp_file" ]] ||
   [[ -n "$(find "$here/pom.xml" "$here/src" -newer "$cp_file" -print -quit)" ]]; then
  echo "hbase-compare: building (mvn compile) ..." >&2
  rm -f "$cp_file"
  mvn -q -B -f "$here/pom.xml" compile dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2
fi

# What HBase's own bin/hbase gives JDK 11+ (its netty and unsafe paths), and IPv4 loopback.
opens=(
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports=java.base/sun.net.dns=ALL-UNNAMED
  --add-exports=java.base/sun.net.util=ALL-UNNAMED
  -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
  -Djava.net.preferIPv4Stack=true
)

# shellcheck disable=SC2086
exec java -Xmx"$heap" "${opens[@]}" ${HBASE_COMPARE_JAVA_OPTS:-} \
  -cp "$here/target/classes:$(cat "$cp_file")" io.kvpod.bench.hbase.HBaseCompare "$@"
