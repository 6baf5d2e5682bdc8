// Package testutil holds the few helpers that tests in several packages
// share: a settable fake clock, a goroutine-safe log buffer, a polling
// wait, and helpers that re-run the test binary as a child process.
//
// It is imported by _test.go files (and by internal/apptest) only.
package testutil
