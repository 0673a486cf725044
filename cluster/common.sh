# Shared settings of the local cluster (cluster/up.sh, cluster/down.sh, test/node).
# Sourced, not run.
#
# The whole node lives in one network namespace of its own: etcd, the control
# plane, containerd, the kubelet, kube-proxy and every pod's network hang off it.
# Nothing is added to the host's own interfaces, routes or iptables; the host
# reaches the apiserver only through a forward on 127.0.0.1.
#
# Addresses are documentation ranges (RFC 5737), so none can be mistaken for a
# real host. Never connect to them from the host's own namespace: they may be
# routed off the machine there.

CLUSTER_DIR="${OUTRIGGER_CLUSTER_DIR:-$HOME/.cache/outrigger-cluster}"
TOOLS_CACHE="${OUTRIGGER_TOOLS_CACHE:-$HOME/.cache/outrigger-tools}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

NODE_NETNS=outrigger-node
NODE_NAME=outrigger-node
NODE_IP=192.0.2.10
NODE_GATEWAY=192.0.2.1
POD_CIDR=198.51.100.0/24
SERVICE_CIDR=203.0.113.0/24
KUBERNETES_SERVICE_IP=203.0.113.1
CLUSTER_DNS_IP=203.0.113.10
CLUSTER_DOMAIN=cluster.local
APISERVER_PORT=6443
# The host's end of the apiserver forward (127.0.0.1 only).
HOST_API_PORT="${OUTRIGGER_CLUSTER_API_PORT:-16443}"

KUBECONFIG_PATH="$CLUSTER_DIR/kubeconfig"
CONTAINERD_SOCKET="$CLUSTER_DIR/containerd/containerd.sock"
LOG_DIR="$CLUSTER_DIR/logs"
PID_DIR="$CLUSTER_DIR/pids"

# Host-wide kernel settings the kubelet changes at start (its "kernel defaults"):
# recorded by cluster:up before the kubelet starts, put back by cluster:down.
HOST_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

pinned_version() {
  sed -n "s/^$1=\(.*\)$/\1/p" "$REPO_ROOT/test/e2e/tools/build.sh"
}

KUBERNETES_BIN="$TOOLS_CACHE/kubernetes-$(pinned_version KUBERNETES_VERSION)/bin"
ETCD_BIN="$TOOLS_CACHE/etcd-$(pinned_version ETCD_VERSION)/bin/etcd"
HELM_BIN="$TOOLS_CACHE/helm-$(pinned_version HELM_VERSION)/bin/helm"
KUBECTL_BIN="$KUBERNETES_BIN/kubectl"
# The Node the project pins (package.json), whether or not npm put it on PATH.
NODE_BIN="$REPO_ROOT/node_modules/.bin/node"
[ -x "$NODE_BIN" ] || NODE_BIN=node

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  printf 'cluster: %s\n' "$*" >&2
  exit 1
}

# Runs a command with the node's network namespace (and only that: the mount
# namespace stays the host's, so cgroups, the kubelet's volumes and containerd's
# snapshots are where cluster:down can find them).
in_node() { nsenter --net="/run/netns/$NODE_NETNS" "$@"; }

pid_alive() {
  local file="$PID_DIR/$1.pid"
  [ -f "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null
}

kubectl_cluster() { "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
