#!/usr/bin/env bash
# Copies the Gateway API CRDs (standard channel) out of the published Go module
# sigs.k8s.io/gateway-api, pinned in hack/toolchain/gateway-api/go.mod, into a cache outside the
# repo; prints the directory. The module is fetched and checked against go.sum by `go mod download`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '/^require sigs.k8s.io\/gateway-api /{print $3}' "$here/toolchain/gateway-api/go.mod")
cache=${MODELROLLOUT_CACHE:-$HOME/.cache/modelrollout}
out="$cache/gateway-api/$version"

if [ ! -f "$out/gateway.networking.k8s.io_httproutes.yaml" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "go is required to fetch the Gateway API CRDs (apt-get install golang)" >&2
    exit 1
  fi
  dir=$(cd "$here/toolchain/gateway-api" && go mod download -json "sigs.k8s.io/gateway-api" | awk -F'"' '/"Dir":/{print $4}')
  mkdir -p "$out.tmp"
  cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$out.tmp/"
  chmod u+w "$out.tmp"/*.yaml
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
