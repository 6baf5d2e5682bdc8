package web_test

import (
	"testing"

	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// TestMain stops the test PostgreSQL this binary started, if any (the
// handlers run on it with CONSOLE_TEST_ENGINE=postgres).
func TestMain(m *testing.M) { pgtest.Main(m) }
