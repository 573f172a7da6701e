//go:build tools

// Package tools pins the OCI distribution-spec conformance suite for the test rig (scripts/rig.sh
// builds its test binary with `go test -c` from this module). The suite is a module of its own
// (.../conformance) whose repository never tagged it (the v1.1.x tags name the root module), so the
// proxy knows it only by pseudo-version: go.mod pins main at 2023-11-01 (f2182352), between
// v1.1.0-rc3 and v1.1.0, the one Ginkgo-era commit the proxy serves. The later pseudo-version it
// also serves (2026) is a rewrite with a YAML config and none of the OCI_* variables.
package tools

import _ "github.com/opencontainers/distribution-spec/conformance"
