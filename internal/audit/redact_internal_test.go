package audit

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// TestKeyClassMatchesNormKey: the fast path for plain keys judges every key
// exactly as decoding it and calling normKey does, escapes and non-ASCII
// letters included.
func TestKeyClassMatchesNormKey(t *testing.T) {
	for _, k := range []string{
		`"admin_pass"`, `"ADMIN-PASS"`, `"adminPassword"`, `"user_data"`, `"UserData"`, `"secret_key"`,
		`"Security-Token"`, `"password"`, `"id"`, `""`, `"_-_"`, `"name_1"`,
		`"admin\u005fpass"`, `"\u0041dmin_pass"`, `"secret\u212Aey"`, "\"secret\u212Aey\"", `"pa\"ss"`,
		"\"pässword\"", `"x\\y"`, `"a_very_long_key_name_that_does_not_fit_the_stack_buffer_at_all"`,
	} {
		var key string
		if err := json.Unmarshal([]byte(k), &key); err != nil {
			t.Fatalf("test key %s: %v", k, err)
		}
		if got, want := string(keyClass([]byte(k), nil)), normKey(key); got != want {
			t.Errorf("keyClass(%s) = %q, want %q", k, got, want)
		}
	}
}

// FuzzKeyClass: for any valid JSON string, keyClass is normKey of its
// decoded value.
func FuzzKeyClass(f *testing.F) {
	for _, s := range []string{"admin_pass", "USER-DATA", "secret\u212Aey", "a\\b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		quoted := []byte(strconv.Quote(s))
		var key string
		if err := json.Unmarshal(quoted, &key); err != nil {
			t.Skip() // strconv.Quote can write escapes JSON does not have
		}
		if got, want := string(keyClass(quoted, nil)), normKey(key); got != want {
			t.Fatalf("keyClass(%s) = %q, want %q", quoted, got, want)
		}
	})
}

// BenchmarkRedactBatchAnswer: redacting the answer to a 50-server batch
// action (the simulator's, about 50 full server records), which the audit
// does for every chunk before committing its response entry.
func BenchmarkRedactBatchAnswer(b *testing.B) {
	sim := simulator.New(simulator.Options{Servers: 50, Seed: 3})
	defer sim.Close()
	body, err := json.Marshal(struct {
		Data []modelarts.ServerResponse `json:"data"`
	}{sim.Servers()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		RedactBody(body)
	}
}
