#!/usr/bin/env bash
# Builds the test kit's 389 Directory Server template (crates/testkit/src/ds389.rs runs
# it once per test run): a private prefix (lib389 honours $PREFIX), no systemd,
# 127.0.0.1 only, `dscreate from-file`, the test CA and a server certificate with SAN
# 127.0.0.1, the seed tree, ACIs, the global policy and a subtree policy on ou=strict.
# Leaves the instance stopped. Inputs come from the environment (see `need` below).
set -euo pipefail
need() { [ -n "${!1:-}" ] || { echo "build.sh: $1 is not set" >&2; exit 2; }; }
for v in TPL LDAP_PORT LDAPS_PORT DM_PW SVC_PW CA_PEM CERT_PEM KEY_PEM; do need "$v"; done
for tool in dscreate dsctl dsconf ns-slapd ldapmodify certutil; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "build.sh: $tool not found: run .ci/setup.d/389ds.sh (apt-get install 389-ds-base libnss3-tools ldap-utils)" >&2
    exit 3
  }
done
export PATH="/usr/sbin:$PATH"
P="$TPL"
INST=wb
BASE="dc=example,dc=org"
SVC="cn=pwmgr,ou=system,$BASE"

mkdir -p "$P/share/dirsrv/inf"
cp -r /usr/share/dirsrv/data "$P/share/dirsrv/"
# Listen on loopback only, from the very first start.
sed -i 's/^nsslapd-port: %ds_port%/nsslapd-port: %ds_port%\nnsslapd-listenhost: 127.0.0.1\nnsslapd-securelistenhost: 127.0.0.1/' \
  "$P/share/dirsrv/data/template-dse.ldif"
sed -e "s#^with_systemd = 1#with_systemd = 0#" \
    -e "s#^prefix = /usr\$#prefix = $P#" \
    -e "s#^data_dir = /usr/share#data_dir = $P/share#" \
    -e "s#= /etc/dirsrv/#= $P/etc/dirsrv/#" \
    -e "s#^local_state_dir = /var#local_state_dir = $P/var#" \
    -e "s#^run_dir = .*#run_dir = $P/run#" \
    -e "s#^ldapi = .*#ldapi = $P/run/slapd-{instance_name}.socket#" \
    -e "s#^pid_file = .*#pid_file = $P/run/slapd-{instance_name}.pid#" \
    -e "s#= /run/lock/#= $P/run/lock/#" \
    -e "s#= /var/#= $P/var/#" \
    -e "s#^db_home_dir = .*#db_home_dir = $P/shm/slapd-{instance_name}#" \
    -e "s#^inst_dir = .*#inst_dir = $P/lib/slapd-{instance_name}#" \
    -e "s#^tmpfiles_d = .*#tmpfiles_d = $P/tmpfiles.d#" \
    -e "s#^initconfig_dir = .*#initconfig_dir = $P/default#" \
    -e "s#^user = dirsrv#user = root#" \
    -e "s#^group = dirsrv#group = root#" \
    /usr/share/dirsrv/inf/defaults.inf > "$P/share/dirsrv/inf/defaults.inf"

cat > "$P/instance.inf" <<EOF
[general]
full_machine_name = localhost
start = False
strict_host_checking = False
selinux = False
systemd = False
[slapd]
instance_name = $INST
port = $LDAP_PORT
secure_port = $LDAPS_PORT
root_dn = cn=Directory Manager
root_password = $DM_PW
self_sign_cert = False
user = root
group = root
[backend-userroot]
suffix = $BASE
sample_entries = no
create_suffix_entry = yes
EOF
# No self-signed certificate: dscreate would make its CA in /etc/dirsrv/ssca, outside
# the prefix; the test CA and server certificate are imported instead, and TLS is
# switched on with the policy below.
PREFIX="$P" dscreate from-file "$P/instance.inf"
rm -f "$P/instance.inf"
PREFIX="$P" dsctl "$INST" tls import-ca "$CA_PEM" writeback-test-ca
PREFIX="$P" dsctl "$INST" tls import-server-key-cert "$CERT_PEM" "$KEY_PEM"

CONF="$P/etc/dirsrv/slapd-$INST"
ns-slapd -D "$CONF" -i "$P/run/slapd-$INST.pid" -d 0 >"$P/build-slapd.log" 2>&1 &
SLAPD=$!
trap 'kill $SLAPD 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D "cn=Directory Manager" -w "$DM_PW" </dev/null >/dev/null 2>&1 && break
  sleep 0.05
done
dm() { ldapmodify -x -H "ldap://127.0.0.1:$LDAP_PORT" -D "cn=Directory Manager" -w "$DM_PW" >/dev/null; }

# The tree and the service account, before the policy is on (entries added later
# start in the reset state where the policy says must-change).
dm <<EOF
dn: ou=people,$BASE
changetype: add
objectClass: top
objectClass: organizationalUnit
ou: people

dn: ou=strict,$BASE
changetype: add
objectClass: top
objectClass: organizationalUnit
ou: strict

dn: ou=system,$BASE
changetype: add
objectClass: top
objectClass: organizationalUnit
ou: system

dn: $SVC
changetype: add
objectClass: top
objectClass: person
cn: pwmgr
sn: pwmgr
userPassword: $SVC_PW

dn: $BASE
changetype: modify
add: aci
aci: (targetattr="userPassword || passwordRetryCount || accountUnlockTime")(version 3.0; acl "writeback: reset and unlock"; allow (write) userdn="ldap:///$SVC";)
aci: (targetattr="objectClass || uid || cn || sn || mail || displayName || givenName || entryUUID || nsUniqueId || passwordExpirationTime || pwdpolicysubentry || passwordRetryCount || accountUnlockTime || retryCountResetTime || passwordAllowChangeTime || pwdUpdateTime")(version 3.0; acl "writeback: read accounts"; allow (read, search, compare) userdn="ldap:///$SVC";)
aci: (targetattr="*")(target="ldap:///cn=nsPwPolicyContainer,*")(version 3.0; acl "writeback: read local policies"; allow (read, search, compare) userdn="ldap:///$SVC";)
aci: (targetattr="userPassword")(version 3.0; acl "self password change"; allow (write) userdn="ldap:///self";)
EOF

# The global policy (readable by the service account), then the subtree policy.
dm <<EOF
dn: cn=config
changetype: modify
replace: nsslapd-security
nsslapd-security: on
-
replace: nsslapd-securePort
nsslapd-securePort: $LDAPS_PORT
-
replace: nsslapd-pwpolicy-local
nsslapd-pwpolicy-local: on
-
replace: passwordCheckSyntax
passwordCheckSyntax: on
-
replace: passwordMinLength
passwordMinLength: 10
-
replace: passwordHistory
passwordHistory: on
-
replace: passwordInHistory
passwordInHistory: 3
-
replace: passwordLockout
passwordLockout: on
-
replace: passwordMaxFailure
passwordMaxFailure: 3
-
replace: passwordExp
passwordExp: on
-
replace: passwordMaxAge
passwordMaxAge: 2592000
-
add: aci
aci: (targetattr="cn || objectClass || passwordMustChange || passwordChange || passwordMinLength || passwordMinAge || passwordHistory || passwordInHistory || passwordCheckSyntax || passwordMinDigits || passwordMinAlphas || passwordMinUppers || passwordMinLowers || passwordMinSpecials || passwordMin8Bit || passwordMinCategories || passwordMaxRepeats || passwordMinTokenLength || passwordMaxAge || passwordExp || passwordWarning || passwordLockout || passwordMaxFailure || passwordLockoutDuration || passwordUnlock || nsslapd-pwpolicy-local")(version 3.0; acl "writeback: read the global password policy"; allow (read, search, compare) userdn="ldap:///$SVC";)
EOF
PREFIX="$P" dsconf -D "cn=Directory Manager" -w "$DM_PW" "ldap://127.0.0.1:$LDAP_PORT" \
  localpwp addsubtree "ou=strict,$BASE" --pwdmustchange on --pwdminage 3600 --pwdminlen 12 \
  --pwdhistory on --pwdhistorycount 3 --pwdchecksyntax on >/dev/null

kill "$SLAPD"
wait "$SLAPD" 2>/dev/null || true
trap - EXIT
rm -f "$P/run/slapd-$INST.pid"
