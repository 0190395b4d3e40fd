#!/usr/bin/env bash
# deploy/kubernetes against the Kubernetes schemas (test/k8s/validate.mjs), and the broken
# manifests in test/k8s/invalid must be rejected. Exit 77 (skipped) without node or the pinned
# packages (scripts/install-deps installs them with npm ci).
set -uo pipefail
root=$1
if ! command -v node >/dev/null; then
  echo "skipped: node is not installed"; exit 77
fi
if [[ ! -d $root/test/k8s/node_modules/kubernetes-models ]]; then
  echo "skipped: test/k8s/node_modules is missing (npm ci in test/k8s failed or did not run)"; exit 77
fi
cd "$root/test/k8s" || exit 1
node validate.mjs "$root/deploy/kubernetes" || exit 1
node validate.mjs --expect-invalid invalid/*.yaml || exit 1
