#!/usr/bin/env bash
# User-space instructions per NOP for each client, from valgrind's callgrind:
# (Ir at N2 ops - Ir at N1 ops) / (N2 - N1), which cancels process start-up
# and ring setup. Kernel work is not counted (callgrind sees user space only).
#
#   ringwise-bench/callgrind.sh [BATCH...]      (default: 1 32)
#
# Needs valgrind; builds the examples in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p ringwise-bench --examples
dir="${CARGO_TARGET_DIR:-target}/release/examples"
batches=("$@"); [ ${#batches[@]} -gt 0 ] || batches=(1 32)
n1=64000; n2=192000
ir() { # client ops batch mode
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$dir/nop_$1" "$2" "$3" "$4" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-9s %-8s %6s %12s\n' client mode batch 'Ir/NOP'
for mode in default fast; do
  for b in "${batches[@]}"; do
    for c in raw liburing iouring ringwise; do
      if [ "$c" = liburing ] && ! "$dir/nop_liburing" 32 32 "$mode" >/dev/null 2>&1; then
        printf '%-9s %-8s %6s %12s\n' "$c" "$mode" "$b" 'skipped'; continue
      fi
      a=$(ir "$c" "$n1" "$b" "$mode"); z=$(ir "$c" "$n2" "$b" "$mode")
      printf '%-9s %-8s %6s %12.1f\n' "$c" "$mode" "$b" "$(echo "($z - $a) / ($n2 - $n1)" | bc -l)"
    done
  done
done
