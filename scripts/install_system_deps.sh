#!/usr/bin/env bash
# Installs the few Debian packages the project needs when they are missing: Node.js + npm (kinesalite
# and the dashboard's vega builds); with --with-browser also Chromium (the dashboard's browser
# tests and screenshot, driven by Playwright; never a browser download of its own: `make test`
# asks for it, `make demo` does not). As root it installs them; otherwise it says what to run.
set -euo pipefail

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them first, e.g.: sudo apt-get install -y ${missing[*]}" >&2
  echo "(macOS: brew install node python@3.11, and set CHROMIUM to a Chrome/Chromium binary)" >&2
  exit 1
fi
