//go:build tools

// Package tools pins the commands this module builds so `go mod tidy` keeps their
// dependencies in go.sum: the control plane and kubectl for the e2e suite, and the node
// components (kubelet, kube-proxy, controller-manager, scheduler) for the local cluster.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
