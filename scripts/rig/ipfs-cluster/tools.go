//go:build tools

// Package tools pins IPFS Cluster for the test rig (scripts/rig.sh builds
// github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service and .../cmd/ipfs-cluster-ctl from
// this module). The cluster peer runs beside each kubo node of the tests' private networks
// (src/testkit/cluster.ts) and keeps pins replicated with CRDT consensus. A module of our own for
// the same reason as kubo's: the Go module proxy serves the exact release but lists no versions,
// which `go install ...@version` needs; go.sum makes the build reproducible.
package tools

import (
	_ "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-ctl"
	_ "github.com/ipfs-cluster/ipfs-cluster/cmd/ipfs-cluster-service"
)
