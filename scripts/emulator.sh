# Sourced by scripts/test and scripts/demo: installs the pinned AWS API emulator (moto) into
# .venv when it is missing, and offers start/stop helpers for the demo.

ENVCTL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENVCTL_VENV="$ENVCTL_ROOT/.venv"

ensure_emulator() {
  if [ -x "$ENVCTL_VENV/bin/moto_server" ] && "$ENVCTL_VENV/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.1")' 2>/dev/null; then
    return 0
  fi
  echo "installing the AWS API emulator (moto 5.2.1) into .venv ..." >&2
  python3 -m venv "$ENVCTL_VENV"
  "$ENVCTL_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ENVCTL_ROOT/requirements-emulator.txt"
}

# start_emulator PORT: runs moto_server on 127.0.0.1:PORT in the background, waits until ready.
start_emulator() {
  local port="$1"
  "$ENVCTL_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$ENVCTL_ROOT/target/moto-$port.log" 2>&1 &
  EMULATOR_PID=$!
  for _ in $(seq 1 100); do
    if "$ENVCTL_VENV/bin/python" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: the emulator did not start on port $port (see target/moto-$port.log)" >&2
  return 1
}

stop_emulator() {
  if [ -n "${EMULATOR_PID:-}" ]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
}

free_port() {
  "$ENVCTL_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
