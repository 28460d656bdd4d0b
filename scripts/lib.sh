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

# cargo-lambda, pinned, into the same venv.
ensure_cargo_lambda() {
  ensure_venv
  if ! "$VENV/bin/pip" show --quiet cargo-lambda >/dev/null 2>&1; then
    say "installing cargo-lambda into .local/venv"
    # --no-deps: cargo-lambda's one dependency is zig (400 MB), which only a cross build needs.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$ROOT/scripts/requirements-lambda.txt" \
      || die "pip could not install scripts/requirements-lambda.txt"
  fi
  export PATH="$VENV/bin:$PATH"
}

# zig (400 MB), only for the arm64 cross build; with cargo-lambda.
ensure_zig() {
  ensure_cargo_lambda
  if ! "$VENV/bin/pip" show --quiet ziglang >/dev/null 2>&1; then
    say "installing zig (for the arm64 cross build) into .local/venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-zig.txt" \
      || die "pip could not install scripts/requirements-zig.txt"
  fi
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

# N ports that were free a moment ago on 127.0.0.1, on one line.
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}

# Waits (bounded, in seconds) until scripts/dev, running as process PID with its state in
# DIR, has written DIR/ready; fails as soon as that process is gone.
wait_ready() {
  local dir="$1" pid="$2" bound="$3" tenths
  for ((tenths = 0; tenths < bound * 10; tenths++)); do
    [[ -f "$dir/ready" ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the stack did not start (logs in $dir/logs)" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "error: the stack was not ready within $bound seconds (logs in $dir/logs)" >&2
  return 1
}

# Stops the stack `scripts/dev --detach` started in DIR: SIGTERM (it saves its data and stops
# every service), bounded; then whatever it started is killed, in case it could not.
stop_detached() {
  local dir="$1" pid group
  pid="$(cat "$dir/dev.pid" 2>/dev/null || true)"
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  while read -r group; do
    [[ $group =~ ^[0-9]+$ && $group -gt 1 ]] && kill -KILL -- "-$group" 2>/dev/null || true
  done < <(cat "$dir/pids" 2>/dev/null || true)
  rm -f "$dir/dev.pid"
}

# The one way scripts and tests start a stack: scripts/dev --detach on free ports, state in
# STACK_DIR (which the caller sets). Extra arguments go to scripts/dev. stop_stack stops it
# (and is safe to call twice). The Rust test harness runs the same two commands.
start_stack() {
  rm -rf "$STACK_DIR"; mkdir -p "$STACK_DIR"
  STACK_STARTED=1
  "$ROOT/scripts/dev" --detach --free-ports --fresh "$@" || die "the stack did not start (logs in $STACK_DIR/logs)"
}

stop_stack() {
  [[ -n "${STACK_STARTED:-}" ]] || return 0
  "$ROOT/scripts/dev" --stop
  STACK_STARTED=
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
