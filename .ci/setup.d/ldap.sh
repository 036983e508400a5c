#!/usr/bin/env bash
# OpenLDAP for the tests: the test kit (crates/testkit/src/slapd.rs) runs its own
# throwaway slapd with ppolicy and TLS on free 127.0.0.1 ports; it needs slapd, slapadd,
# the back_mdb and ppolicy modules and the schema files from these packages.
# Debian starts a system slapd on install (0.0.0.0:389), which would stop Samba from
# binding 127.0.0.2:389: it is kept from starting, or stopped and disabled. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install --no-recommends slapd ldap-utils
stop_system_services slapd
kill_pidfiles /run/slapd/slapd.pid
no_wildcard_listener ldap.sh 389 636
/usr/sbin/slapd -VV 2>&1 | head -1
