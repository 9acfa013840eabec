#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need (Prometheus, openssl, Lua) when missing.
# Runs as root on the project's machines; with sudo elsewhere.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 || [ -x "${PROMETHEUS_BIN:-/nonexistent}" ] || missing+=(prometheus)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Argo CD runs health checks and actions in gopher-lua, a Lua 5.1: the tests of docs/argocd use the same language.
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
command -v go >/dev/null 2>&1 || [ -n "${KUBEBUILDER_ASSETS:-}" ] || missing+=(golang-go)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} with apt-get" >&2
$sudo apt-get update -qq
# The prometheus package tries to start its own service; policy-rc.d (or no init) stops that,
# and the tests start their own server on a free port anyway.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
