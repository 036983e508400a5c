#!/usr/bin/env bash
# CI: builds the Debian package (scripts/build-deb.sh), installs it with dpkg -i on this
# machine, and starts the installed binary with the same command line as the systemd
# unit, on a demo config (a webhook source and an OpenLDAP target pointing at a closed
# port: the service starts without a directory), then checks /healthz and /health
# (which must name the unreachable target), stops it with SIGTERM and verifies the
# audit file it wrote.
#
# PACKAGE_PROFILE=release (the default) packages a release build, as shipped.
# PACKAGE_PROFILE=dev packages the debug binary the tests just built (the CLI's main.rs
# built by the tests package, target/debug/writeback-under-test): the same package
# contents, unit, install and start-up, in seconds instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
profile="${PACKAGE_PROFILE:-release}"
bash .ci/setup.d/package.sh
if [ "$profile" = dev ]; then
  [ -x target/debug/writeback-under-test ] || cargo test -p writeback-tests --locked --no-run
  deb=$(bash scripts/build-deb.sh target/debug/writeback-under-test)
else
  deb=$(bash scripts/build-deb.sh)
fi
dpkg-deb --info "$deb" >/dev/null
dpkg -i "$deb"
for f in /usr/bin/writeback /lib/systemd/system/writeback.service /usr/share/man/man1/writeback.1.gz \
         /usr/share/doc/writeback/examples/writeback.toml; do
  [ -e "$f" ] || { echo "package-check: $f was not installed" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify /lib/systemd/system/writeback.service 2>&1 | grep -v "ConditionPathExists" || true
fi
/usr/bin/writeback --version

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
admin=$(free_port); hook=$(free_port); closed=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
printf "whsec_%s\n" "$(head -c 32 /dev/urandom | base64)" > "$work/webhook.secret"
printf 'not-a-real-password\n' > "$work/bind.secret"
cat > "$work/writeback.toml" <<TOML
[audit]
path = "$work/state/audit.jsonl"

[admin]
listen = "127.0.0.1:$admin"
health_interval_secs = 5

[[sources]]
type = "webhook"
listen = "127.0.0.1:$hook"
tls = { cert_file = "$work/cert.pem", key_file = "$work/key.pem" }
secret = { file = "$work/webhook.secret" }

[[targets]]
type = "openldap"
name = "demo-ldap"
url = "ldaps://127.0.0.1:$closed"
ca_file = "$work/cert.pem"
bind_dn = "cn=writeback,dc=example,dc=org"
bind_password = { file = "$work/bind.secret" }
base_dn = "ou=people,dc=example,dc=org"
filter = "(&(objectClass=inetOrgPerson)(uid={username}))"
TOML
/usr/bin/writeback check-config "$work/writeback.toml"
# The unit's ExecStart, with the demo config.
/usr/bin/writeback --log-format json run -c "$work/writeback.toml" 2>"$work/log" &
pid=$!
ok=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "package-check: /healthz never answered" >&2; cat "$work/log" >&2; exit 1; }
health=""
for _ in $(seq 1 50); do
  health=$(curl -sS "http://127.0.0.1:$admin/health" || true)
  case "$health" in *demo-ldap*) break ;; esac
  sleep 0.2
done
case "$health" in
  *'"status":"failing"'*demo-ldap*|*demo-ldap*'"status":"failing"'*) ;;
  *) echo "package-check: /health did not report the unreachable target: $health" >&2; exit 1 ;;
esac
kill -TERM "$pid"
wait "$pid"
pid=""
/usr/bin/writeback audit verify "$work/state/audit.jsonl"
echo "package-check: built, installed and started $deb in $(( $(date +%s) - start )) s"
