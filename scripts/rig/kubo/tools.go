//go:build tools

// Package tools pins kubo for the test rig (scripts/rig.sh builds github.com/ipfs/kubo/cmd/ipfs
// from this module). A module of our own, because `go install ...@version` needs the version
// list for its deprecation check and the Go module proxy lists none for kubo; go.sum makes the
// build reproducible.
package tools

import _ "github.com/ipfs/kubo/cmd/ipfs"
