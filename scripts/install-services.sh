#!/usr/bin/env bash
# Installs the real servers the scale-out tests start for themselves: Debian's redis-server and,
# where the machine has none, PostgreSQL; and the unprivileged 'postgres' user PostgreSQL runs as.
set -euo pipefail
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd="sudo"
fi
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian's ${missing[*]} for the scale-out tests..."
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! id postgres >/dev/null 2>&1; then
  $sudo_cmd useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
