#!/usr/bin/env bash
# The README's first command, Triad's main job: installs what is missing,
# builds, starts a local three-replica cluster on a sample card file, pushes
# sample traffic through it, and prints verdicts and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh release

bin="$PWD/build/release/bin"
work="${TRIAD_DEMO_DIR:-$PWD/build/demo}"
transactions="${TRIAD_DEMO_TRANSACTIONS:-20000}"
rm -rf "$work"
mkdir -p "$work"
"$bin/triad" sample --cards 1000 --transactions "$transactions" \
  --cards-out "$work/cards.csv" --traffic-out "$work/traffic.jsonl"

# Start the cluster; it prints "ready ENDPOINT" once the replicas are up.
mkfifo "$work/up.out"
"$bin/triad" up --cards "$work/cards.csv" --dir "$work/data" \
  --listen tcp://127.0.0.1:* --trust-client-time >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
trap 'kill -TERM $up_pid 2>/dev/null || true; wait $up_pid 2>/dev/null || true' EXIT
exec 3<"$work/up.out"
if ! read -r -t 30 ready endpoint <&3 || [ "$ready" != "ready" ]; then
  echo "demo: the cluster did not start; its log:" >&2
  cat "$work/up.log" >&2
  exit 1
fi
echo "demo: cluster ready at $endpoint (logs in $work/data/logs)"

"$bin/triad" submit --endpoint "$endpoint" --summary --dir "$work/data" \
  "$work/traffic.jsonl" >"$work/verdicts.jsonl"
echo
echo "first verdicts (all in $work/verdicts.jsonl):"
head -n 3 "$work/verdicts.jsonl" | cut -c1-200
echo
echo "one certificate, checked offline:"
head -n 1 "$work/verdicts.jsonl" | "$bin/triad" verify --dir "$work/data" -
