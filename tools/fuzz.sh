#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan, UBSan) and runs
# each for SECONDS (default 60), TRIAD_FUZZ_JOBS (default: the number of cores)
# at a time, each on one core, on a scratch copy of the
# committed seed corpus (tests/fuzz/corpus) plus the seeds triad_fuzz_seeds
# writes for the current wire format; the committed corpus never grows here.
# Prints one line per target; exits 1 when any target finds a crash, a leak,
# undefined behaviour or a timeout. The input that did it is kept in
# build/fuzz/artifacts/ (README "Fuzzing": how to turn it into a test).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     e.g. tools/fuzz.sh 300 frontend_core
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(client_request client_reply to_replica from_replica certificate transaction_json
           card_file engine_snapshot frontend_core replica_node)
fi

# Longest input per target: a few of its largest valid messages (the
# message-handler targets take sequences of them; see tests/fuzz/fuzz_util.h).
max_len() {
  case "$1" in
    frontend_core) echo 24576 ;;
    replica_node | engine_snapshot) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

tools/build.sh fuzz
bin=build/fuzz/tests/fuzz
artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin/triad_fuzz_seeds" "$work/generated"

# Runs one target; writes its summary line (and the finding, if any) to
# $work/$t.summary and returns non-zero when it found something.
run_target() {
  local t="$1" corpus="$work/corpus/$1" log="$work/$1.log" status=ok
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$t"/* "$work/generated/$t"/* "$corpus"/ 2>/dev/null || true
  local dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=tests/fuzz/dict/$t.dict")
  if ! "$bin/fuzz_$t" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
      >"$log" 2>&1; then
    status=FAILED
  fi
  local execs rate cov
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  # The last status line: "#N DONE cov: C ft: F corp: K/S ...".
  cov="$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1 || true)"
  printf 'fuzz %-16s %s: %s s, %s runs, %s exec/s, %s\n' "$t" "$status" "$seconds" \
    "${execs:-?}" "${rate:-?}" "${cov:-no coverage line}" >"$work/$t.summary"
  if [ "$status" != ok ]; then
    grep -E 'ERROR|SUMMARY|assertion|property failed|Test unit written' "$log" | head -n 20 \
      >>"$work/$t.summary" || true
    return 1
  fi
}

jobs_max="${TRIAD_FUZZ_JOBS:-$(nproc)}"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_target "$t" &
done
wait
failed=0
for t in "${targets[@]}"; do
  cat "$work/$t.summary"
  grep -q "^fuzz $t *ok:" "$work/$t.summary" || failed=1
done
exit "$failed"
