#!/usr/bin/env bash
# OpenID Connect provider for the password page's end-to-end tests: `oidc-provider` (npm,
# a certified provider library) on the machine's Node (>= 18). Installed, pinned, into
# /opt/writeback-test/oidc, where crates/testkit/src/oidc.rs looks (override with
# WRITEBACK_TEST_OIDC_DIR). Idempotent.
set -euo pipefail
DIR=${WRITEBACK_TEST_OIDC_DIR:-/opt/writeback-test/oidc}
VERSION=9.13.3
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi
have=$(node -p "require('$DIR/node_modules/oidc-provider/package.json').version" 2>/dev/null || true)
if [ "$have" != "$VERSION" ]; then
  mkdir -p "$DIR"
  [ -f "$DIR/package.json" ] || echo '{"name":"writeback-test-oidc","private":true}' > "$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --save-exact "oidc-provider@$VERSION"
fi
echo "oidc-provider $(node -p "require('$DIR/node_modules/oidc-provider/package.json').version") in $DIR, node $(node --version)"
