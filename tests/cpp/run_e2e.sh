#!/usr/bin/env bash
# Runs the C++ end-to-end program against a fresh emulator, for ctest (tests/cpp_wrapper.rs
# does the same in-process): starts the emulator on loopback ports, creates the program's job
# and drops the first reply, runs the program, checks that the job ended SUCCEEDED, and stops
# the emulator by its pid.
#
#   tests/cpp/run_e2e.sh EMULATOR PROGRAM
set -euo pipefail

emulator=$1
program=$2
thing=cpp-thing
job=cpp-job-1
work=$(mktemp -d)
"$emulator" --quiet >"$work/emulator.out" 2>"$work/emulator.err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

line=""
for _ in $(seq 100); do
  line=$(head -1 "$work/emulator.out")
  [ -n "$line" ] && break
  sleep 0.1
done
mqtt=$(sed -n 's/.*mqtt=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$line")
ctl=$(sed -n 's/.*control=127\.0\.0\.1:\([0-9]*\).*/\1/p' <<<"$line")
if [ -z "$mqtt" ] || [ -z "$ctl" ]; then
  cat "$work/emulator.err"
  echo "FAIL: the emulator did not start"
  exit 1
fi

"$emulator" ctl --port "$ctl" create-job --id "$job" --things "$thing" \
  --doc '{"operation":"install","steps":[{"name":"download","retries":3}],"ratio":0.5,"reboot":true,"options":{"b":"2","a":"1"}}'
"$emulator" ctl --port "$ctl" drop-replies --count 1
timeout 100 "$program" 127.0.0.1 "$mqtt" "$thing" "$job"
"$emulator" ctl --port "$ctl" wait --id "$job" --thing "$thing" --status SUCCEEDED --timeout 10
