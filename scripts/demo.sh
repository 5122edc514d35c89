#!/usr/bin/env bash
# The README's main job: set up the machine (packages, pnpm, build), start the Docker
# engine, build the images, then run the demo bottle (scripts/demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/docker-engine.sh
node apps/cli/dist/bin.js build --offline-base   # no image registry needed (debootstrap base)
exec node scripts/demo.mjs
