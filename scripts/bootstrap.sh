#!/usr/bin/env bash
# Install what ARVlite needs on a Debian machine, skipping whatever is already there.
#   scripts/bootstrap.sh run    runtime: ffmpeg/ffprobe, Python virtualenv with requirements.txt,
#                               Node.js with node_modules from package-lock.json
#   scripts/bootstrap.sh test   also PostgreSQL, Redis, Chromium and requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
venv=.venv

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "bootstrap: install $* with your system's package manager (no apt-get here)" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "bootstrap: $* missing; install as root: apt-get install $*" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    echo "==> apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  echo "==> apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres_server() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

install_system_packages() {
  local missing=()
  # The media pipeline runs both; Debian's ffmpeg package ships ffprobe too.
  { command -v ffmpeg && command -v ffprobe; } >/dev/null || missing+=(ffmpeg)
  # DejaVu Sans: the printable marker sheet writes titles in Latin and Cyrillic with it,
  # and invoice PDFs embed it (services/invoice_pdf.py).
  mapfile -t -O "${#missing[@]}" missing < <(missing_debian_packages fonts-dejavu-core)
  if [ "$mode" = test ]; then
    have_postgres_server || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    # The WebAR viewer page is tested in headless Chromium with a fake camera.
    command -v chromium >/dev/null || missing+=(chromium)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

install_python_packages() {
  local requirements=requirements.txt
  [ "$mode" = test ] && requirements=requirements-dev.txt
  if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating virtualenv $venv"
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
  fi
  # Reinstall only when a requirements file changed since the last install.
  local stamp
  stamp="$venv/.installed-$mode-$(cat requirements*.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> pip install -r $requirements"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    rm -f "$venv"/.installed-"$mode"-*
    touch "$stamp"
  fi
}

# Debian packages that npm needs to compile `canvas` (a dependency of mind-ar) from source.
canvas_build_packages=(
  build-essential python3 pkg-config
  libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev
)

missing_debian_packages() {
  command -v dpkg-query >/dev/null || return 0
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q ' installed$' || echo "$package"
  done
}

# Workers compile MindAR targets with Node (app/utils/mind_compile.mjs).
install_node_packages() {
  command -v node >/dev/null || apt_install nodejs npm
  command -v npm >/dev/null || apt_install npm
  # Reinstall only when the manifest or the lock file changed since the last install
  # (`npm ci` empties node_modules, the stamp included).
  local stamp
  stamp="node_modules/.installed-$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return
  local missing
  mapfile -t missing < <(missing_debian_packages "${canvas_build_packages[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
  echo "==> npm ci"
  # Peer-only packages are mind-ar's dev server (vite), never used here. canvas is built
  # against the system's Cairo rather than downloaded prebuilt, as in the Docker image.
  npm_config_build_from_source=true npm ci --omit=peer --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
}

case "$mode" in
  run | test) install_system_packages; install_python_packages; install_node_packages ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
