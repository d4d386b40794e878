#!/usr/bin/env bash
# Gets of one table while a bulk load runs into another, on a local cluster that serves both
# (docs/scaling.md, "A 10M-record load into one of ten tables"). Starts 'bin/kvpod bench get'
# on READ_TABLE, starts the load into LOAD_TABLE 15 s later under KVPOD_LOAD_CPU=CPU, and
# prints the bench's JSON, its 5 s interval lines and when the load ran relative to the bench.
#
# usage: bench/multi-table/load-while-reading.sh --input URI --root URI [--read-table t0]
#          [--load-table t1] [--cpu normal|low|idle] [--seconds 420] [--threads 8] [--out DIR]
set -euo pipefail
KVPOD_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
input="" root="" read_table=t0 load_table=t1 cpu=normal seconds=420 threads=8 out="$KVPOD_HOME/run/load-while-reading"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --input) input="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    --read-table) read_table="$2"; shift 2 ;;
    --load-table) load_table="$2"; shift 2 ;;
    --cpu) cpu="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
[[ -n "$input" && -n "$root" ]] || { echo "give --input and --root (--help)" >&2; exit 2; }
mkdir -p "$out"
kvpod="$KVPOD_HOME/bin/kvpod"

"$kvpod" bench get --table "$read_table" --threads "$threads" --duration "${seconds}s" --no-ping --json \
  --histogram-log "$out/get.hlog" > "$out/get.json" 2> "$out/get.log" &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
start=$(date +%s.%N)
sleep 15
load_start=$(date +%s.%N)
KVPOD_LOAD_CPU="$cpu" "$kvpod" load --input "$input" --root "$root" --table "$load_table" > "$out/load.log" 2>&1
load_end=$(date +%s.%N)
wait $bench
trap - EXIT
grep '\[get\]' "$out/get.log" || true
tail -1 "$out/load.log"
cat "$out/get.json"; echo
awk -v s="$start" -v a="$load_start" -v b="$load_end" -v d="$seconds" \
  'BEGIN { printf "the load ran from %.1f s to %.1f s of the bench'"'"'s %d s\n", a - s, b - s, d }'
