# Sourced by the install scripts: apt_install WHAT PACKAGE... installs the packages with apt
# (as root), or explains what is missing and exits 1.
apt_install() {
  local what="$1"
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing $what: $*; run the make target as root or install them with apt-get" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing $what: $* and no apt-get on this machine" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "installing $what: $*"
  apt-get update -qq
  # apt installs systemd units but never starts them here; the tests start their own servers.
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
