#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, starts a
# throwaway slapd (ppolicy, TLS) on loopback, runs `writeback` with
# examples/demo/writeback.toml, sends a signed reset for alice the way a cloud service
# would, and shows that alice can now bind with the new password.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --locked --bin writeback --bin writeback-lab
BIN=target/debug

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/writeback-demo.XXXXXX")
export DEMO_DIR
cleanup() {
  [ -n "${WB_PID:-}" ] && kill -TERM "$WB_PID" 2>/dev/null && wait "$WB_PID" 2>/dev/null || true
  [ -n "${LAB_PID:-}" ] && kill -TERM "$LAB_PID" 2>/dev/null && wait "$LAB_PID" 2>/dev/null || true
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT

echo "== 1. a throwaway slapd with ppolicy and TLS, user alice"
"$BIN/writeback-lab" slapd "$DEMO_DIR/lab" &
LAB_PID=$!
for _ in $(seq 1 100); do [ -f "$DEMO_DIR/lab/lab.env" ] && break; sleep 0.1; done
[ -f "$DEMO_DIR/lab/lab.env" ] || { echo "the lab did not start" >&2; exit 1; }
set -a; . "$DEMO_DIR/lab/lab.env"; set +a

echo "== 2. writeback with examples/demo/writeback.toml"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DEMO_PORT=$(free_port); DEMO_ADMIN_PORT=$(free_port); export DEMO_PORT DEMO_ADMIN_PORT
# A fresh signing secret, shared with the "cloud side" (here: `writeback request`).
printf 'whsec_%s' "$(head -c 32 /dev/urandom | base64)" > "$DEMO_DIR/webhook.secret"
chmod 600 "$DEMO_DIR/webhook.secret"
python3 - examples/demo/writeback.toml "$DEMO_DIR/writeback.toml" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"\$\{(\w+)\}", lambda m: os.environ[m.group(1)], text))
PY
"$BIN/writeback" check-config "$DEMO_DIR/writeback.toml" --connect
"$BIN/writeback" run -c "$DEMO_DIR/writeback.toml" 2> "$DEMO_DIR/writeback.log" &
WB_PID=$!
for _ in $(seq 1 100); do
  curl -fsS --cacert "$LAB_WEBHOOK_CA" "https://127.0.0.1:$DEMO_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== 3. the cloud side sends a signed reset for alice"
NEW_PASSWORD='Demo-New-Passw0rd!'
printf '%s\n' "$NEW_PASSWORD" | "$BIN/writeback" request \
  --url "https://127.0.0.1:$DEMO_PORT" --ca-file "$LAB_WEBHOOK_CA" \
  --secret-file "$DEMO_DIR/webhook.secret" --username alice

echo "== 4. alice binds with the new password"
(umask 077; printf '%s' "$NEW_PASSWORD" > "$DEMO_DIR/alice.pw")
LDAPTLS_CACERT="$LAB_CA_FILE" ldapwhoami -x -H "$LAB_LDAPS_URL" -D "$LAB_USER_DN" -y "$DEMO_DIR/alice.pw"

echo "== 5. a password the policy refuses: the reasons come back, nothing is written"
printf '%s\n' 'short' | "$BIN/writeback" request \
  --url "https://127.0.0.1:$DEMO_PORT" --ca-file "$LAB_WEBHOOK_CA" \
  --secret-file "$DEMO_DIR/webhook.secret" --username alice || true

echo "== 6. health and metrics"
curl -sS "http://127.0.0.1:$DEMO_ADMIN_PORT/health"; echo
curl -sS "http://127.0.0.1:$DEMO_ADMIN_PORT/metrics" | grep '^writeback_requests_total' || true
echo "== audit log"
cat "$DEMO_DIR/audit.jsonl"
if grep -q "$NEW_PASSWORD" "$DEMO_DIR/writeback.log" "$DEMO_DIR/audit.jsonl"; then
  echo "the password appeared in a log: that is a bug" >&2; exit 1
fi
echo "demo finished: alice's password was written back and verified"
