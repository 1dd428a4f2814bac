#!/usr/bin/env bash
# Show that the whole ringwise NOP round trip (push, submit_and_wait, reap)
# compiles into the caller's loop: the `syscall` instruction sits inside the
# benchmark's `nop_rounds` function, not in an out-of-line wrapper that would
# return right after it. Prints the syscalls and every call in the function
# (only cold paths are expected: refresh of a full SQ, error building, panics).
#
#   ringwise-bench/inspect-asm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p ringwise-bench --example nop_ringwise
bin="${CARGO_TARGET_DIR:-target}/release/examples/nop_ringwise"
body=$(objdump -d --no-show-raw-insn -C "$bin" \
  | awk '/<<ringwise_bench::ringwise_client::Ringwise as ringwise_bench::NopClient>::nop_rounds>:$/,/^$/')
[ -n "$body" ] || { echo "nop_rounds not found in $bin" >&2; exit 1; }
echo "instructions in nop_rounds: $(grep -c '^ ' <<<"$body")"
echo "syscall instructions inlined: $(grep -c 'syscall' <<<"$body")"
echo "calls (cold paths), with GOT slots resolved through their relocations:"
# An indirect `call *GOT(%rip)` names only the slot; its R_X86_64_RELATIVE
# relocation's addend is the target, which nm names.
declare -A target
while read -r off _ _ addend _; do target[$((16#$off))]=$((16#$addend)); done \
  < <(readelf -rW "$bin" | awk '$3 == "R_X86_64_RELATIVE" {print $1, $2, $3, $4}')
declare -A name
while read -r addr _ sym; do name[$((16#$addr))]="$sym"; done < <(nm -C "$bin" 2>/dev/null | awk 'NF >= 3')
grep -E '\bcall' <<<"$body" | sed -E 's/^ +[0-9a-f]+:\s+//' | while read -r line; do
  if [[ $line =~ \#\ ([0-9a-f]+) ]]; then
    t=${target[$((16#${BASH_REMATCH[1]}))]:-}
    echo "call -> ${name[${t:-0}]:-unresolved GOT slot ${BASH_REMATCH[1]}}"
  else
    echo "$line"
  fi
done | sort | uniq -c
