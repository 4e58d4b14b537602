# Shared by scripts/test, scripts/demo and scripts/bench: a Python virtualenv with moto's
# server, and one moto server on a free loopback port for the whole run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_moto() {
  if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1; then
    echo "==> installing moto[server] into .venv" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-test.txt" </dev/null
  fi
  export MOTO_SERVER="$VENV/bin/moto_server"
}

start_moto() {
  local port
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$MOTO_SERVER" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/ecr-promote-moto-$port.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      export ECR_PROMOTE_MOTO_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "moto_server did not start; see ${TMPDIR:-/tmp}/ecr-promote-moto-$port.log" >&2
  return 1
}
