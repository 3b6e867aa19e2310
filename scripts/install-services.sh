#!/usr/bin/env bash
# Installs the real servers the scale-out tests start for themselves: Debian's redis-server and,
# where the machine has none, PostgreSQL; and the unprivileged 'postgres' user PostgreSQL runs as.
set -euo pipefail
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd="sudo"
fi
updated=""
apt_update() {
  if [ -z "$updated" ]; then
    $sudo_cmd apt-get update -qq
    updated=1
  fi
}
if ! command -v redis-server >/dev/null; then
  echo "Installing Debian's redis-server for the scale-out tests..."
  apt_update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing Debian's PostgreSQL for the scale-out tests..."
  apt_update
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi
if ! id postgres >/dev/null 2>&1; then
  $sudo_cmd useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
