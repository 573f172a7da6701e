//go:build tools

// Package tools pins containerd 2.x for the test rig's second target (scripts/rig.sh builds the
// daemon and its runc shim from this module; Debian's containerd 1.6 stays the default). 2.x is
// where snapshotters can rebase (commit a snapshot onto a parent it was not prepared on), which
// is what lets layers unpack side by side.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
)
