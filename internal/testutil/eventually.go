package testutil

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually calls its condition.
const PollInterval = 50 * time.Millisecond

// Eventually calls cond every PollInterval until it returns nil, and fails t
// with what and cond's last error if timeout passes first. cond runs on the
// test's goroutine, so it may itself call t.Fatal.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, timeout, err)
		}
		time.Sleep(PollInterval)
	}
}
