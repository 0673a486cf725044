#!/usr/bin/env bash
# npm run cluster:up — a real single-node Kubernetes on this machine, with no
# Docker: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# containerd + runc + the CNI bridge plugin, the kubelet and kube-proxy, all in
# one network namespace (cluster/common.sh), then CoreDNS and Outrigger itself,
# installed by its own Helm chart from the images `npm run images` built.
#
# Needs root, the tools test/e2e/tools/build.sh builds, and Debian's containerd,
# runc, containernetworking-plugins, iptables, conntrack and socat.
# Safe to run again: what is already running is kept, images are re-imported
# and the chart upgraded.
set -euo pipefail
# shellcheck source=cluster/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
started=$SECONDS

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, containerd, the kubelet)"
# The binaries come from the Go module proxy, cached by version: nothing to do
# when they are built already.
bash "$REPO_ROOT/test/e2e/tools/build.sh" >&2 || die "could not build the cluster's tools"
for binary in etcd:"$ETCD_BIN" kube-apiserver:"$KUBERNETES_BIN/kube-apiserver" \
  kubelet:"$KUBERNETES_BIN/kubelet" kube-proxy:"$KUBERNETES_BIN/kube-proxy" \
  kube-controller-manager:"$KUBERNETES_BIN/kube-controller-manager" \
  kube-scheduler:"$KUBERNETES_BIN/kube-scheduler" kubectl:"$KUBECTL_BIN" helm:"$HELM_BIN"; do
  [ -x "${binary#*:}" ] || die "${binary%%:*} not built (${binary#*:}); run npm run tools:e2e"
done
for command in containerd runc socat nsenter iptables conntrack openssl; do
  command -v "$command" >/dev/null || die "$command not found; apt-get install containerd runc containernetworking-plugins iptables conntrack socat openssl"
done
[ -x /usr/lib/cni/bridge ] || die "CNI plugins not found in /usr/lib/cni; apt-get install containernetworking-plugins"
IMAGES_JSON="$REPO_ROOT/dist/images/images.json"
[ -f "$IMAGES_JSON" ] || die "no images in dist/images; run npm run images first"
# CoreDNS's image can only be built once its binary is (the tools above).
if ! "$NODE_BIN" -e 'process.exit(require(process.argv[1]).some((i) => i.name === "coredns") ? 0 : 1)' "$IMAGES_JSON"; then
  (cd "$REPO_ROOT" && "$NODE_BIN" images/build.ts --only coredns) >&2 || die "could not build the coredns image"
fi

mkdir -p "$CLUSTER_DIR" "$LOG_DIR" "$PID_DIR"
PKI="$CLUSTER_DIR/pki"

# Starts a daemon in the node's network namespace, once; its output goes to logs/.
start_daemon() {
  local name="$1"
  shift
  if pid_alive "$name"; then
    log "$name already running (pid $(cat "$PID_DIR/$name.pid"))"
    return
  fi
  setsid nsenter --net="/run/netns/$NODE_NETNS" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
  log "started $name (pid $!, log $LOG_DIR/$name.log)"
}

wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "$what not ready within ${seconds}s (logs in $LOG_DIR)"
    fi
    sleep 1
  done
}

# --- the node's network namespace -------------------------------------------
if [ ! -e "/run/netns/$NODE_NETNS" ]; then
  ip netns add "$NODE_NETNS"
  # The kernel here has no dummy interfaces: a veth pair with both ends inside
  # the namespace carries the node IP. The gateway does not exist, so traffic
  # for anywhere else stops at the node.
  ip -n "$NODE_NETNS" link add node0 type veth peer name node1
  ip -n "$NODE_NETNS" link set lo up
  ip -n "$NODE_NETNS" link set node0 up
  ip -n "$NODE_NETNS" link set node1 up
  ip -n "$NODE_NETNS" addr add "$NODE_IP/24" dev node0
  ip -n "$NODE_NETNS" route add default via "$NODE_GATEWAY" dev node0
  log "network namespace $NODE_NETNS with node IP $NODE_IP"
fi
# Per-namespace settings: these change nothing on the host.
in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
  net.bridge.bridge-nf-call-ip6tables=1

# --- certificates ------------------------------------------------------------
# One CA signs every serving and client certificate; each component has its
# own identity, so RBAC and the Node authorizer see who is calling.
if [ ! -f "$PKI/ca.crt" ]; then
  mkdir -p "$PKI"
  (
    cd "$PKI"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
      -subj /CN=outrigger-local-ca 2>/dev/null
    sign() {
      local name="$1" subject="$2" usage="$3" san="${4:-}"
      {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [ -n "$san" ] && echo "subjectAltName=$san"
      } >"$name.ext"
      openssl req -new "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 3650 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
      rm -f "$name.csr" "$name.ext"
    }
    sign apiserver /CN=kube-apiserver serverAuth \
      "IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
    sign admin /O=system:masters/CN=outrigger-local-admin clientAuth
    sign apiserver-kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client clientAuth
    sign controller-manager /CN=system:kube-controller-manager clientAuth
    sign scheduler /CN=system:kube-scheduler clientAuth
    sign kube-proxy /CN=system:kube-proxy clientAuth
    sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
    sign kubelet "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub
    chmod 0600 ./*.key
  )
  log "certificates in $PKI"
fi

kubeconfig() {
  local file="$1" user="$2" server="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: outrigger-local
  cluster:
    server: $server
    certificate-authority: $PKI/ca.crt
users:
- name: $user
  user:
    client-certificate: $PKI/$user.crt
    client-key: $PKI/$user.key
contexts:
- name: outrigger-local
  context: {cluster: outrigger-local, user: $user}
current-context: outrigger-local
EOF
  chmod 0600 "$file"
}
for user in controller-manager scheduler kube-proxy kubelet-client; do
  kubeconfig "$CLUSTER_DIR/$user.kubeconfig" "$user" "https://$NODE_IP:$APISERVER_PORT"
done
# The one the host's shell uses, through the forward on 127.0.0.1.
kubeconfig "$KUBECONFIG_PATH" admin "https://127.0.0.1:$HOST_API_PORT"
kubeconfig "$CLUSTER_DIR/admin-in-node.kubeconfig" admin "https://$NODE_IP:$APISERVER_PORT"

# --- control plane -----------------------------------------------------------
start_daemon etcd "$ETCD_BIN" --data-dir="$CLUSTER_DIR/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=default=http://127.0.0.1:2380 --log-level=warn --unsafe-no-fsync

start_daemon kube-apiserver "$KUBERNETES_BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --secure-port="$APISERVER_PORT" --advertise-address="$NODE_IP" \
  --cert-dir="$CLUSTER_DIR/apiserver-certs" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true --profiling=false

# The host's way in: 127.0.0.1:$HOST_API_PORT, each connection relayed into the
# node's namespace. Nothing listens on any other host address.
if ! pid_alive api-forward; then
  setsid socat "TCP-LISTEN:$HOST_API_PORT,bind=127.0.0.1,reuseaddr,fork" \
    "EXEC:nsenter --net=/run/netns/$NODE_NETNS socat STDIO TCP\:127.0.0.1\:$APISERVER_PORT" \
    >>"$LOG_DIR/api-forward.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/api-forward.pid"
  log "forwarding 127.0.0.1:$HOST_API_PORT to the apiserver"
fi
wait_for kube-apiserver 120 kubectl_cluster get --raw /readyz

start_daemon kube-controller-manager "$KUBERNETES_BIN/kube-controller-manager" \
  --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-cidr="$POD_CIDR" --service-cluster-ip-range="$SERVICE_CIDR"

start_daemon kube-scheduler "$KUBERNETES_BIN/kube-scheduler" \
  --kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false

# --- containerd --------------------------------------------------------------
pause_image="$("$NODE_BIN" -e 'const i = require(process.argv[1]).find((x) => x.name === "pause"); if (!i) process.exit(1); console.log(i.reference)' "$IMAGES_JSON")" ||
  die "dist/images/images.json has no pause image; run npm run images"
mkdir -p "$CLUSTER_DIR/containerd" "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/cni/ipam"
cat >"$CLUSTER_DIR/containerd/config.toml" <<EOF
version = 2
root = "$CLUSTER_DIR/containerd/root"
state = "$CLUSTER_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = ""
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  stream_server_address = "127.0.0.1"
  # This VM refuses to lower OOM scores; without this every pod fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$CLUSTER_DIR/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
EOF
cat >"$CLUSTER_DIR/cni/net.d/10-outrigger.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "outrigger-local",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$CLUSTER_DIR/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
# containerd 1.6 puts its shims' sockets in /run/containerd/s whatever its
# state directory: note whether that directory was ours, for cluster:down.
[ -e /run/containerd ] || touch "$CLUSTER_DIR/made-run-containerd"
start_daemon containerd containerd --config "$CLUSTER_DIR/containerd/config.toml"
wait_for containerd 60 ctr --address "$CONTAINERD_SOCKET" version

ctr_images() { ctr --address "$CONTAINERD_SOCKET" -n k8s.io images "$@"; }
while IFS=$'\t' read -r name archive reference digest; do
  case "$archive" in /*) ;; *) archive="$REPO_ROOT/$archive" ;; esac
  ctr_images import "$archive" >/dev/null ||
    die "could not import $archive into containerd"
  # The chart pins images by digest (cluster/chart-values.ts). A pull would
  # record repo@digest; an import records only the tag, so add the digest name.
  digested="${reference%:*}@$digest"
  ctr_images rm "$digested" >/dev/null 2>&1 || true
  ctr_images tag "$reference" "$digested" >/dev/null
  log "image $name: $reference ($digest)"
done < <("$NODE_BIN" -e '
  for (const i of require(process.argv[1])) console.log([i.name, i.archive, i.reference, i.digest].join("\t"));
' "$IMAGES_JSON")

# --- kubelet and kube-proxy ---------------------------------------------------
if [ ! -f "$CLUSTER_DIR/sysctl.saved" ]; then
  for key in "${HOST_SYSCTLS[@]}"; do
    printf '%s=%s\n' "$key" "$(sysctl -n "$key")"
  done >"$CLUSTER_DIR/sysctl.saved.partial"
  mv "$CLUSTER_DIR/sysctl.saved.partial" "$CLUSTER_DIR/sysctl.saved"
fi
# Pods resolve through CoreDNS only; nothing is forwarded off the machine.
: >"$CLUSTER_DIR/resolv.conf"
cat >"$CLUSTER_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine runs cgroup v1, which kubelet 1.35+ refuses unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $CLUSTER_DIR/resolv.conf
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
EOF
start_daemon kubelet "$KUBERNETES_BIN/kubelet" --config="$CLUSTER_DIR/kubelet.yaml" \
  --kubeconfig="$CLUSTER_DIR/kubelet-client.kubeconfig" --root-dir="$CLUSTER_DIR/kubelet" \
  --cert-dir="$CLUSTER_DIR/kubelet-certs" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME"

# conntrack settings left alone: they are host-wide on this kernel.
start_daemon kube-proxy "$KUBERNETES_BIN/kube-proxy" \
  --kubeconfig="$CLUSTER_DIR/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
  --proxy-mode=iptables --cluster-cidr="$POD_CIDR" \
  --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
  --conntrack-tcp-timeout-close-wait=0 \
  --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256

wait_for "node $NODE_NAME" 120 kubectl_cluster wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s

# --- cluster DNS ---------------------------------------------------------------
coredns_image="$("$NODE_BIN" -e 'const i = require(process.argv[1]).find((x) => x.name === "coredns"); if (!i) process.exit(1); console.log(i.reference)' "$IMAGES_JSON")" ||
  die "dist/images/images.json has no coredns image; run npm run images"
sed -e "s|@IMAGE@|$coredns_image|" -e "s|@DNS_IP@|$CLUSTER_DNS_IP|" -e "s|@DOMAIN@|$CLUSTER_DOMAIN|" \
  "$REPO_ROOT/cluster/coredns.yaml" | kubectl_cluster apply -f - >/dev/null
kubectl_cluster -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null
log "CoreDNS answering on $CLUSTER_DNS_IP"

# --- Outrigger, by its own chart -------------------------------------------------
values="$CLUSTER_DIR/outrigger-values.yaml"
"$NODE_BIN" "$REPO_ROOT/cluster/chart-values.ts" "$REPO_ROOT/dist/images" >"$values"
HELM_ENV=(env KUBECONFIG="$KUBECONFIG_PATH" HELM_CACHE_HOME="$CLUSTER_DIR/helm/cache"
  HELM_CONFIG_HOME="$CLUSTER_DIR/helm/config" HELM_DATA_HOME="$CLUSTER_DIR/helm/data")
"${HELM_ENV[@]}" "$HELM_BIN" upgrade --install outrigger "$REPO_ROOT/charts/outrigger" \
  --namespace outrigger-system --create-namespace --values "$values" \
  --wait --timeout 180s >/dev/null
kubectl_cluster -n outrigger-system rollout status deployment/outrigger --timeout=180s >/dev/null

log "ready in $((SECONDS - started))s"
kubectl_cluster get pods -A >&2
cat <<EOF

Outrigger's local cluster is up. From this shell:

  export KUBECONFIG=$KUBECONFIG_PATH
  kubectl get pods -A

Stop it with: npm run cluster:down
EOF
