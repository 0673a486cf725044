#!/usr/bin/env bash
# Builds the binaries the e2e suite and the local cluster run (etcd; kube-apiserver,
# kubectl and the node components kubelet, kube-proxy, kube-controller-manager and
# kube-scheduler; helm; CoreDNS) from the Go module proxy and caches them outside the repository, one directory per tool and version:
#   ${OUTRIGGER_TOOLS_CACHE:-$HOME/.cache/outrigger-tools}/<tool>-<version>/bin/<binary>
# A tool whose binary is already cached is skipped, so running this again is cheap.
# Builds run one at a time (the CI machine has two cores) and each prints its duration.
# Usage: test/e2e/tools/build.sh [etcd] [kubernetes] [helm] [coredns]   (default: all)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OUTRIGGER_TOOLS_CACHE:-$HOME/.cache/outrigger-tools}"

# Versions live here and in the wrapper modules' go.mod; test/e2e/tools.ts reads this file
# (the *_VERSION lines) to find the cached binaries.
ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.36.3
HELM_VERSION=v3.22.0
COREDNS_VERSION=v1.14.7

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "build.sh: Go is required (https://go.dev/dl/); none found on PATH" >&2
    exit 1
  fi
fi

# Small, reproducible binaries that never try to stamp VCS data from this repository.
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
# The wrapper modules pin go 1.26.0; never let a newer toolchain be fetched behind our back.
export GOTOOLCHAIN=local

timed() {
  local name="$1"
  shift
  local started=$SECONDS
  echo "build.sh: building $name ..."
  "$@"
  echo "build.sh: built $name in $((SECONDS - started))s"
}

build_etcd() {
  local dir="$cache/etcd-$ETCD_VERSION"
  if [ -x "$dir/bin/etcd" ]; then
    echo "build.sh: etcd $ETCD_VERSION cached at $dir/bin/etcd"
    return
  fi
  mkdir -p "$dir/bin"
  (cd "$here/etcd" && timed "etcd $ETCD_VERSION" \
    go build -ldflags "-s -w" -o "$dir/bin/etcd.partial" go.etcd.io/etcd/server/v3)
  mv "$dir/bin/etcd.partial" "$dir/bin/etcd"
}

build_kubernetes() {
  local dir="$cache/kubernetes-$KUBERNETES_VERSION"
  local binaries=(kube-apiserver kubectl kubelet kube-proxy kube-controller-manager kube-scheduler)
  local binary missing=0
  for binary in "${binaries[@]}"; do [ -x "$dir/bin/$binary" ] || missing=1; done
  if [ "$missing" = 0 ]; then
    echo "build.sh: kubernetes $KUBERNETES_VERSION cached at $dir/bin"
    return
  fi
  mkdir -p "$dir/bin"
  local minor="${KUBERNETES_VERSION#v1.}"
  minor="${minor%%.*}"
  local stamp=""
  local key value
  # The same version stamps hack/lib/version.sh sets, so `kubectl version` and the
  # apiserver's /version report the real release rather than v0.0.0-master.
  for pair in "gitVersion=$KUBERNETES_VERSION" "gitMajor=1" "gitMinor=$minor" \
    "gitTreeState=clean" "buildDate=1970-01-01T00:00:00Z"; do
    key="${pair%%=*}"
    value="${pair#*=}"
    stamp+=" -X k8s.io/component-base/version.$key=$value -X k8s.io/client-go/pkg/version.$key=$value"
  done
  for binary in "${binaries[@]}"; do
    if [ -x "$dir/bin/$binary" ]; then continue; fi
    (cd "$here/kubernetes" && timed "$binary $KUBERNETES_VERSION" \
      go build -ldflags "-s -w$stamp" -o "$dir/bin/$binary.partial" "k8s.io/kubernetes/cmd/$binary")
    mv "$dir/bin/$binary.partial" "$dir/bin/$binary"
  done
}

build_helm() {
  local dir="$cache/helm-$HELM_VERSION"
  if [ -x "$dir/bin/helm" ]; then
    echo "build.sh: helm $HELM_VERSION cached at $dir/bin/helm"
    return
  fi
  mkdir -p "$dir/bin"
  # Helm's Makefile stamps its version, tree state and the Kubernetes version its client
  # speaks (read from helm's own go.mod). The module proxy does not record the git commit,
  # so `helm version` shows an empty GitCommit; everything else matches a release build.
  local info module_dir client_go k8s_minor
  info="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION")"
  module_dir="$(printf '%s' "$info" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p' | head -n 1)"
  client_go="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$module_dir/go.mod" | head -n 1)"
  k8s_minor="${client_go:-36}"
  local flags="-s -w"
  flags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  flags+=" -X helm.sh/helm/v3/internal/version.metadata="
  flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  timed "helm $HELM_VERSION" \
    env GOBIN="$dir/bin" go install -ldflags "$flags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

build_coredns() {
  local dir="$cache/coredns-$COREDNS_VERSION"
  if [ -x "$dir/bin/coredns" ]; then
    echo "build.sh: coredns $COREDNS_VERSION cached at $dir/bin/coredns"
    return
  fi
  mkdir -p "$dir/bin"
  # The cluster's DNS server runs as a pod from an image assembled here (images/coredns).
  timed "coredns $COREDNS_VERSION" \
    env GOBIN="$dir/bin" go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
}

started=$SECONDS
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(etcd kubernetes helm coredns); fi
for target in "${targets[@]}"; do
  case "$target" in
    etcd) build_etcd ;;
    kubernetes) build_kubernetes ;;
    helm) build_helm ;;
    coredns) build_coredns ;;
    *)
      echo "build.sh: unknown tool '$target' (expected etcd, kubernetes, helm or coredns)" >&2
      exit 2
      ;;
  esac
done
echo "build.sh: tools ready in $cache ($((SECONDS - started))s)"
