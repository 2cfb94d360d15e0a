#!/usr/bin/env bash
# Install Unleash (npm unleash-server, the self-hosted feature-flag service; the lab's second flag provider) under
# .tools/unleash. Needs Node.js 20+ and npm (Debian: nodejs, npm). Idempotent: a matching install is left alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

UNLEASH_VERSION="8.2.0"
prefix=.tools/unleash
log() { printf '[install-unleash] %s\n' "$*"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "node and npm are needed (apt-get install nodejs npm); the lab's unleash component will be unavailable"
  exit 0
fi
installed="$(node -p "require('./$prefix/node_modules/unleash-server/package.json').version" 2>/dev/null || true)"
if [ "$installed" = "$UNLEASH_VERSION" ]; then
  exit 0
fi
log "installing unleash-server $UNLEASH_VERSION into $prefix"
mkdir -p "$prefix"
# --ignore-scripts: none of its install scripts is needed to serve (telemetry, optional native ssh helpers).
npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts --loglevel=error "unleash-server@$UNLEASH_VERSION" >/dev/null
