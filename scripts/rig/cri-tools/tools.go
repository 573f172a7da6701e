//go:build tools

// Package tools pins crictl for the test rig (scripts/rig.sh builds sigs.k8s.io/cri-tools/cmd/crictl
// from this module). crictl speaks CRI v1, which Debian's containerd 1.6 serves as well as 2.x. It
// pulls the way a Kubernetes node does, through containerd's CRI image service, which resolves
// registries by the hosts.toml files under the CRI plugin's config_path.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
