#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI 4.x, in a venv) against
# /api/openapi.json of a real server, with every check, signed in as an
# account so the account routes are reached. Zero failures expected: the
# document must list every status code and every constraint.
#
# Usage: e2e/schemathesis.sh [max-examples per operation, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
MAX="${1:-${SCHEMATHESIS_MAX_EXAMPLES:-30}}"
VENV="${SALON_VENV:-$CARGO_TARGET_DIR/venv-schemathesis}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "== installing schemathesis 4.x in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis>=4,<5'
fi
[ -x "$CARGO_TARGET_DIR/debug/salon" ] || cargo build --bin salon

DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$CARGO_TARGET_DIR/debug/salon" --listen "127.0.0.1:$PORT" --data-dir "$DATA" --media-port 0 --media-loops 1 \
  --public-ip 127.0.0.1 >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

# An account for the signed-in routes, and a room it hosts.
COOKIE="$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H "Origin: $URL" \
  -d '{"username":"schema","display_name":"Schema","password":"correct horse"}' "$URL/api/accounts" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \(salon_session=[^;]*\).*/\1/p')"
[ -n "$COOKIE" ] || { echo "sign-up failed"; cat "$DATA/server.log"; exit 1; }

# The tray's event stream never ends (a request would only time out): it
# is tested in tests/integration. Signing out (operation `log_out`) runs
# last, in a pass of its own, so the other operations keep the session.
st() {
  "$VENV/bin/schemathesis" --config-file e2e/schemathesis.toml run "$URL/api/openapi.json" --url "$URL" \
    -H "Origin: $URL" -H "Cookie: $COOKIE" \
    --checks all --max-examples "$MAX" --seed "${SCHEMATHESIS_SEED:-1}" --no-color \
    --exclude-path /api/tray/events "$@"
}
st --exclude-operation-id log_out
st --include-operation-id log_out
