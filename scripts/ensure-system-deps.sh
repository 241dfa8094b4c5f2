#!/usr/bin/env bash
# Installs the system programs the test suite drives for real, when missing:
# redis-server (cache tests) and Debian's chromium (web UI tests).
# Needs root or password-less sudo; otherwise it says what to install and exits 0
# (the tests that need a missing program then fail with a message naming it).
set -u
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "ensure-system-deps: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
    exit 0
  fi
fi
echo "ensure-system-deps: installing ${need[*]} with apt" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
  || echo "ensure-system-deps: apt-get install ${need[*]} failed" >&2
exit 0
