# Shared by scripts/*: locations, and installers that skip what is already there.
# Source it; it does not run anything by itself.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Python virtual environment with the pinned emulator (scripts/requirements.txt).
# Reinstalled only when the requirements change.
ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(sha256sum "$ROOT/scripts/requirements.txt" | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/moto_server" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is required (3.11 or newer)"
  say "installing the AWS emulator (moto server) into .local/venv"
  mkdir -p "$LOCAL"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements.txt" \
    || die "pip could not install scripts/requirements.txt"
  echo "$want" > "$stamp"
}

# cargo-lambda and zig (for the arm64 cross build), pinned, into the same venv.
ensure_cargo_lambda() {
  ensure_venv
  if ! "$VENV/bin/pip" show --quiet cargo-lambda ziglang >/dev/null 2>&1; then
    say "installing cargo-lambda and zig into .local/venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-lambda.txt" \
      || die "pip could not install scripts/requirements-lambda.txt"
  fi
  export PATH="$VENV/bin:$PATH"
}

# Release arm64 builds get a target directory of their own, beside the debug one, so the two
# never wait on each other's lock (infra reads LAMBDA_TARGET_DIR).
lambda_target_dir() {
  local debug="${CARGO_TARGET_DIR:-$ROOT/target}"
  echo "$(cd "$(dirname "$debug")" 2>/dev/null && pwd || dirname "$debug")/lambda-target"
}

# Is something listening on 127.0.0.1:PORT?
port_in_use() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# Waits (bounded, in seconds) until URL answers HTTP 2xx.
wait_http() {
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, bound = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + bound
while time.monotonic() < end:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if 200 <= r.status < 300:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
}

# Starts scripts/dev in the background on free ports, with its state in STACK_DIR (which the
# caller sets), and waits (bounded) until it is ready. Extra arguments go to scripts/dev.
# stop_stack stops it (and is safe to call twice).
start_stack() {
  local ports
  ports=$(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
  read -r MOTO_PORT MAIL_PORT LAMBDA_PORT GATEWAY_PORT WEB_PORT <<<"$ports"
  export MOTO_PORT MAIL_PORT LAMBDA_PORT GATEWAY_PORT WEB_PORT STACK_DIR
  rm -rf "$STACK_DIR"; mkdir -p "$STACK_DIR"
  setsid "$ROOT/scripts/dev" --fresh "$@" >"$STACK_DIR/dev.log" 2>&1 < /dev/null &
  STACK_PID=$!
  for _ in $(seq 1800); do
    [[ -f "$STACK_DIR/ready" ]] && return 0
    if ! kill -0 "$STACK_PID" 2>/dev/null; then
      tail -20 "$STACK_DIR/dev.log" >&2
      die "the stack did not start (logs in $STACK_DIR/logs)"
    fi
    sleep 0.5
  done
  die "the stack was not ready within 15 minutes (logs in $STACK_DIR/logs)"
}

stop_stack() {
  [[ -n "${STACK_PID:-}" ]] || return 0
  kill -TERM "$STACK_PID" 2>/dev/null || true
  wait "$STACK_PID" 2>/dev/null || true
  STACK_PID=
}

# Debian's Chromium for the browser tests (playwright cannot download browsers here).
ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return 0
  [[ $(id -u) == 0 ]] || die "the browser tests need Chromium: sudo apt-get install -y chromium"
  say "installing Chromium (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || die "apt-get could not install chromium"
}
