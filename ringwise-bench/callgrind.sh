#!/usr/bin/env bash
# User-space instructions per NOP for each client, from valgrind's callgrind:
# (Ir at N2 ops - Ir at N1 ops) / (N2 - N1), which cancels process start-up
# and ring setup. Kernel work is not counted (callgrind sees user space only).
#
#   ringwise-bench/callgrind.sh [BATCH...]      (default: 1 32)
#
# Needs valgrind; builds the examples (and the `ringwise` CLI, whose
# `bench nop` is the ordinary user loop: push, submit_and_wait, drain with a
# check per CQE) in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p ringwise-bench --examples
cargo build -q --release -p ringwise-cli --bins
dir="${CARGO_TARGET_DIR:-target}/release/examples"
cli="${CARGO_TARGET_DIR:-target}/release/ringwise"
batches=("$@"); [ ${#batches[@]} -gt 0 ] || batches=(1 32)
n1=64000; n2=192000
ir() { # client ops batch mode
  local cmd=("$dir/nop_$1" "$2" "$3" "$4")
  [ "$1" = cli ] && cmd=("$cli" bench nop --ops "$2" --batch "$3" --mode "$4")
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "${cmd[@]}" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-9s %-8s %6s %12s\n' client mode batch 'Ir/NOP'
for mode in default fast; do
  for b in "${batches[@]}"; do
    for c in raw liburing iouring ringwise cli; do
      # Built without liburing-dev, the example says "skipped" (and exits 0).
      if [ "$c" = liburing ] && { ! out=$("$dir/nop_liburing" 32 32 "$mode" 2>&1) || [[ $out == *skipped* ]]; }; then
        printf '%-9s %-8s %6s %12s\n' "$c" "$mode" "$b" 'skipped'; continue
      fi
      a=$(ir "$c" "$n1" "$b" "$mode"); z=$(ir "$c" "$n2" "$b" "$mode")
      printf '%-9s %-8s %6s %12.1f\n' "$c" "$mode" "$b" "$(echo "($z - $a) / ($n2 - $n1)" | bc -l)"
    done
  done
done
