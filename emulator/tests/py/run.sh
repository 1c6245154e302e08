#!/usr/bin/env bash
# Python interoperability tests of the emulator (AWSIoTPythonSDK v1 jobs client, paho-mqtt over
# TCP, TLS with client certificates, WebSocket, MQTT 3.1).
#
# Usage: bash emulator/tests/py/run.sh [EMULATOR_BINARY]
# Needs python3 (with venv), openssl and PyPI access the first time; the virtualenv is kept in
# ${CARGO_TARGET_DIR:-target}/emulator-py-venv. Last line: "interop: N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=${1:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build -q -p iotjobs-emulator)
  bin=$target/debug/iotjobs-emulator
fi
command -v openssl >/dev/null || { echo "run.sh: openssl is required" >&2; exit 1; }
venv=$target/emulator-py-venv
if ! "$venv/bin/python" -c "import paho.mqtt, AWSIoTPythonSDK" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "AWSIoTPythonSDK==1.6.2" "paho-mqtt==2.2.0"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timeout 600 "$venv/bin/python" "$here/interop.py" "$bin" "$work"
