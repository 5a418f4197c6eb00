#!/usr/bin/env bash
# Installs the system tools the test suite starts itself (Prometheus, promtool,
# Alertmanager, amtool, nats-server). Idempotent: does nothing when they are present.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || need+=(nats-server)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]}; run 'make test' as root or install them with apt-get" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${need[*]} and no apt-get on this machine" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${need[*]}"
apt-get update -qq
# apt installs systemd units but never starts them here; the tests start their own servers.
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
