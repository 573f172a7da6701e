//go:build tools

// Package tools pins crane for the test rig (scripts/rig.sh builds
// github.com/google/go-containerregistry/cmd/crane from this module). crane is go-containerregistry's
// registry client: a second, independent OCI client (besides skopeo and containerd) to push, copy,
// list tags, mount and delete against a registry, e.g. ipcr's own registry's write side.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
