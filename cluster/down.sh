#!/usr/bin/env bash
# npm run cluster:down — stops everything cluster:up started and leaves nothing
# behind: every process, every pod's container and cgroup, every mount under the
# cluster directory, the pods' network namespaces, the node's network namespace
# (and with it its interfaces and iptables rules), the host-wide kernel settings
# the kubelet changed, and the cluster directory itself. Safe to run when
# nothing is up.
set -uo pipefail
# shellcheck source=cluster/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$(id -u)" = 0 ] || die "needs root"

stop_daemon() {
  local name="$1" file="$PID_DIR/$1.pid"
  [ -f "$file" ] || return 0
  local pid
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null && log "killed $name (pid $pid)" || log "stopped $name"
  fi
  rm -f "$file"
}

# Pods first, so nothing restarts them: the kubelet, then every container.
stop_daemon kubelet
stop_daemon kube-proxy
if [ -S "$CONTAINERD_SOCKET" ]; then
  for task in $(ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks kill -s SIGKILL "$task" >/dev/null 2>&1
  done
fi
# Each pod's shim names our containerd's socket on its command line.
pkill -KILL -f -- "-address $CONTAINERD_SOCKET" 2>/dev/null
# Whatever still runs in the pods' cgroups (every controller; cgroupfs driver).
for dir in /sys/fs/cgroup/*/kubepods*; do
  [ -d "$dir" ] || continue
  find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
done
stop_daemon containerd
for name in kube-scheduler kube-controller-manager kube-apiserver etcd api-forward; do
  stop_daemon "$name"
done
# Anything else left in the node's namespace (a daemon started by hand, say).
if [ -e "/run/netns/$NODE_NETNS" ]; then
  ip netns pids "$NODE_NETNS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
fi
sleep 0.5

# Cgroups the kubelet made, deepest first.
for dir in /sys/fs/cgroup/*/kubepods*; do
  [ -d "$dir" ] || continue
  find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# Mounts: the kubelet's volumes and containerd's snapshots live under the
# cluster directory; the pods' network namespaces are bind mounts in /run/netns.
# A pod namespace is ours when it holds an address from the pod range.
for netns in /run/netns/cni-*; do
  [ -e "$netns" ] || continue
  name="$(basename "$netns")"
  if ip -n "$name" -4 addr show 2>/dev/null | grep -q "inet ${POD_CIDR%.*}\."; then
    ip netns del "$name" 2>/dev/null || umount "$netns" 2>/dev/null
  fi
done
if [ -d "$CLUSTER_DIR" ]; then
  awk -v dir="$CLUSTER_DIR" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/self/mounts |
    sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null; done
fi
if [ -f "$CLUSTER_DIR/made-run-containerd" ]; then
  rm -rf /run/containerd
fi

if [ -e "/run/netns/$NODE_NETNS" ]; then
  ip netns del "$NODE_NETNS" && log "removed network namespace $NODE_NETNS"
fi

if [ -f "$CLUSTER_DIR/sysctl.saved" ]; then
  while IFS= read -r setting; do
    sysctl -qw "$setting" || log "could not restore $setting"
  done <"$CLUSTER_DIR/sysctl.saved"
  log "restored $(wc -l <"$CLUSTER_DIR/sysctl.saved") kernel settings"
fi

if [ -d "$CLUSTER_DIR" ]; then
  if awk -v dir="$CLUSTER_DIR" 'index($2, dir) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "mounts remain under $CLUSTER_DIR; not removing it"
  fi
  rm -rf "$CLUSTER_DIR"
  log "removed $CLUSTER_DIR"
fi
log "down"
