#!/usr/bin/env bash
# Directory servers for the end-to-end tests: OpenLDAP (slapd) and a Samba AD DC, plus
# the client tools the test kit calls (ldapsearch, samba-tool, ldbsearch).
# The test kit starts its own throwaway instances on loopback addresses; the system
# services Debian starts on install would hold 0.0.0.0:389/636/445 and stop Samba from
# binding 127.0.0.x, so they are stopped and disabled here. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install slapd ldap-utils samba samba-ad-dc winbind krb5-user smbclient ldb-tools
stop_system_services samba-ad-dc smbd nmbd winbind slapd
kill_pidfiles /run/samba/samba.pid /run/samba/smbd.pid /run/samba/nmbd.pid \
  /run/samba/winbindd.pid /run/slapd/slapd.pid
no_wildcard_listener samba.sh 389 636 445
samba --version
