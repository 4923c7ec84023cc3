#!/bin/sh
# Installs Debian packages for a test tool, quietly, as root:
#   apt-install.sh <tool> [apt-get install options] <package>...
# Refreshes the package lists only when they lack a package or an install fails on stale ones.
# Without root or apt-get it exits at once with one line naming what to install.
set -eu
tool="$1"
shift
packages=""
for arg in "$@"; do
  case "$arg" in -*) ;; *) packages="$packages $arg" ;; esac
done
packages="${packages# }"

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test needs $tool: install it (Debian/Ubuntu: apt-get install $packages) or run npm test as root on a machine with apt-get" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
# Waits for another apt-get (another checkout's set-up) instead of failing on the lock.
apt_get() { apt-get -q -o DPkg::Lock::Timeout=600 "$@" >>"$log" 2>&1; }
listed() {
  for package in $packages; do apt-cache show "$package" >/dev/null 2>&1 || return 1; done
}

echo "npm test set-up: installing $tool (apt-get install $packages)" >&2
listed || apt_get update || true
if ! apt_get install -y "$@"; then
  if ! { apt_get update && apt_get install -y "$@"; }; then
    echo "npm test needs $tool: apt-get install $packages failed: $(tail -n 1 "$log")" >&2
    exit 1
  fi
fi
