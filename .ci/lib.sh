# Shared steps of the setup snippets in .ci/setup.d/ (sourced by them, never run on
# its own): install what is missing and nothing else, never start a service.

# apt_install [--no-recommends] PACKAGE...: installs the packages not yet installed.
# A service a package would start on install is kept from starting (policy-rc.d,
# where honoured), since the test kit runs its own instances on loopback.
apt_install() {
  local recommends=()
  if [ "${1:-}" = --no-recommends ]; then
    recommends=(--no-install-recommends)
    shift
  fi
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  apt-get update
  local made_policy=0 status=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${recommends[@]}" "${missing[@]}" || status=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$status"
}

# pip_install PYTHON REQUIREMENT...: into that interpreter (the tests run exactly
# /usr/bin/python3 unless WRITEBACK_TEST_PYTHON says otherwise). Debian marks its Python
# as externally managed; these are throwaway test machines.
pip_install() {
  local py=$1
  shift
  "$py" -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  "$py" -m pip install --quiet --break-system-packages "$@"
}

# stop_system_services NAME...: stops and disables the instances Debian started on
# install, whichever service manager there is.
stop_system_services() {
  local svc
  for svc in "$@"; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl stop "$svc" 2>/dev/null || true
      systemctl disable "$svc" 2>/dev/null || true
    elif command -v service >/dev/null 2>&1; then
      service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
}

# kill_pidfiles FILE...: without a service manager a daemon may still run from the
# install; stop it by its pid file (never by name: a test kit instance must survive).
kill_pidfiles() {
  local pidfile
  for pidfile in "$@"; do
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
}

# no_wildcard_listener WHO PORT...: fails when something listens on the wildcard address
# on one of the ports (it would keep the test kit's servers off 127.0.0.x).
no_wildcard_listener() {
  local who=$1
  shift
  command -v ss >/dev/null 2>&1 || return 0
  local ports
  ports=$(IFS='|'; echo "$*")
  if ss -ltnH | awk '{print $4}' | grep -Eq "^(0\.0\.0\.0|\*|\[::\]):($ports)\$"; then
    echo "$who: something still listens on a wildcard address on $*:" >&2
    ss -ltnp | grep -E ":($ports) " >&2 || true
    return 1
  fi
}
