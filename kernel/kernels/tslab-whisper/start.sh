#!/usr/bin/env bash
# Starts the tslab kernel from this project's node_modules, wherever the project was cloned.
# The kernel runs in the notebook's folder; notebooks import the compiled library as '../dist/src'.
set -e
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
tslab="$root/node_modules/tslab/bin/tslab"
if [ ! -f "$tslab" ]; then
  echo "tslab is not installed in $root/node_modules: run 'npm run setup' in $root first." >&2
  exit 1
fi
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=8192}"
exec node "$tslab" kernel --config-path "$1"
