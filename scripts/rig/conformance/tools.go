//go:build tools

// Package tools pins the OCI distribution-spec conformance suite for the test rig (scripts/rig.sh
// builds its program with `go build` from this module). The suite is a module of its own
// (.../conformance) whose repository never tagged it (the v1.1.x tags name the root module), so the
// proxy knows it only by pseudo-version: go.mod pins main at 2026-08-31 (97274622), the version
// docs/wire-format.md names. It replaced the Ginkgo suite of 2023 (f2182352, pinned before): one
// program, configured by OCI_REGISTRY/OCI_TLS/OCI_REPO1/OCI_API_*/OCI_DATA_*/OCI_RO_DATA_* or a
// YAML file, printing a Pass/FAIL/Skip/Disabled line per test.
package tools

import _ "github.com/opencontainers/distribution-spec/conformance"
