package auth

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// TestHasherReturnsMemoryWhenIdle: after the last argon2id run, and only
// when no other starts meanwhile, the hasher hands its buffers back.
func TestHasherReturnsMemoryWhenIdle(t *testing.T) {
	h, err := newHasher(argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	freed := make(chan struct{}, 4)
	h.freeMemory = func() { freed <- struct{}{} }
	select {
	case <-freed:
		t.Fatal("memory released before any hashing")
	default:
	}
	// A run held open keeps the memory: release happens only at idle.
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.hash(context.Background(), "a password to hash"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-freed:
		t.Fatal("memory released while a run was still in flight")
	case <-time.After(releaseAfter + 500*time.Millisecond):
	}
	h.release()
	select {
	case <-freed:
	case <-time.After(releaseAfter + 5*time.Second):
		t.Fatal("memory not released after the last run ended")
	}
	// The dummy verifies like a real hash and matches nothing.
	ok, err := h.compare("anything", "")
	if err != nil || ok {
		t.Fatalf("compare against the dummy = %v, %v", ok, err)
	}
}
