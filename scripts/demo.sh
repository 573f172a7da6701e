#!/usr/bin/env bash
# The main job on a fresh machine, no daemons needed: build ipcr, make a sample image (from
# Debian's busybox-static, installed here if missing) and push it, converted to eStargz, into the
# embedded IPFS store (~/.local/share/ipcr, or $IPCR_ROOT). With a kubo running it goes there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x /bin/busybox ]]; then
  echo "demo: installing busybox-static (the sample image is built from it)" >&2
  apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi
npm ci --no-audit --no-fund
npm run build --silent
node scripts/fixtures.mjs >/dev/null
echo "demo: pushing oci-layout:test/fixtures/build/multi (3 layers, converted to eStargz on the way)" >&2
./bin/ipcr image ipfs-push oci-layout:test/fixtures/build/multi
