#!/usr/bin/env bash
# Directory servers for the end-to-end tests: OpenLDAP (slapd) and a Samba AD DC, plus
# the client tools the test kit calls (ldapsearch, samba-tool, ldbsearch).
# The test kit starts its own throwaway instances on loopback addresses; the system
# services Debian starts on install would hold 0.0.0.0:389/636/445 and stop Samba from
# binding 127.0.0.x, so they are stopped and disabled here. Idempotent.
set -euo pipefail

PACKAGES=(slapd ldap-utils samba samba-ad-dc winbind krb5-user smbclient ldb-tools)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  # No debconf questions (slapd and krb5-config ask some), no service start where
  # policy-rc.d is honoured.
  export DEBIAN_FRONTEND=noninteractive
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  status=0
  apt-get install -y "${missing[@]}" || status=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || exit "$status"
fi

# Stop the Debian-started system instances, whichever service manager there is.
for svc in samba-ad-dc smbd nmbd winbind slapd; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop "$svc" 2>/dev/null || true
    systemctl disable "$svc" 2>/dev/null || true
  elif command -v service >/dev/null 2>&1; then
    service "$svc" stop >/dev/null 2>&1 || true
  fi
done
# Without a service manager the daemons may still run from the install: stop them by
# their pid files (never by name: a test kit instance must survive).
for pidfile in /run/samba/samba.pid /run/samba/smbd.pid /run/samba/nmbd.pid \
               /run/samba/winbindd.pid /run/slapd/slapd.pid; do
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
done

# Nothing may listen on the wildcard address on the directory ports.
if command -v ss >/dev/null 2>&1; then
  if ss -ltnH | awk '{print $4}' | grep -Eq '^(0\.0\.0\.0|\*|\[::\]):(389|636|445)$'; then
    echo "samba.sh: something still listens on a wildcard address on 389/636/445:" >&2
    ss -ltnp | grep -E ':(389|636|445) ' >&2 || true
    exit 1
  fi
fi
samba --version
