#!/usr/bin/env bash
# Builds the upstream programs the tests and the demo run (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, helm) from their published Go
# modules, pinned by the go.mod files under hack/toolchain/. Output goes to a cache outside the
# repo so later runs skip the build. Honours KUBEBUILDER_ASSETS: when it holds the
# control-plane binaries, only the missing ones are built.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(awk '/^require k8s.io\/kubernetes /{print $3}' "$here/toolchain/k8s/go.mod")
cache=${MODELROLLOUT_CACHE:-$HOME/.cache/modelrollout}
out=${MODELROLLOUT_BIN_DIR:-$cache/bin/$k8s_version}
mkdir -p "$out"

if ! command -v go >/dev/null 2>&1; then
  echo "go is required to build the control plane (apt-get install golang, or use KUBEBUILDER_ASSETS)" >&2
  exit 1
fi

have() { [ -x "$out/$1" ] || { [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; }; }

# kubectl and the control plane share most packages, so one `go build` per module keeps the
# compile cache warm between them.
build() {  # build <module dir> <binary name> <package> [ldflags]
  local dir=$1 name=$2 pkg=$3 ldflags=${4:-}
  if have "$name"; then return; fi
  echo "building $name ($pkg) into $out" >&2
  local started=$SECONDS
  (cd "$here/toolchain/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $((SECONDS - started))s" >&2
}

minor=${k8s_version#v1.}; minor=${minor%%.*}
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version"
k8s_ldflags="$k8s_ldflags -X k8s.io/component-base/version.gitTreeState=clean"

build k8s etcd go.etcd.io/etcd/server/v3
build k8s kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build k8s kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
# kwok only manages pods bound to its nodes: the real scheduler does the binding.
build k8s kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build k8s kubectl k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build helm helm helm.sh/helm/v3/cmd/helm

echo "$out"
