package audit

import (
	"testing"

	"github.com/devserver-console/console/internal/modelarts"
)

// BenchmarkRedactAndChain measures the CPU the audit log adds per entry
// before SQLite sees it: redacting headers and body, encoding the row and
// hashing it into the chain (realistic seeded calls, half requests and half
// responses). Compare with the insert rates of BenchmarkScale.
func BenchmarkRedactAndChain(b *testing.B) {
	g := newSeeder(1, 2000)
	type raw struct {
		meta   CallMeta
		call   *modelarts.OutgoingCall
		result *modelarts.CallResult
	}
	var calls []raw
	for len(calls) < 1000 {
		if m, c, r := g.rawCall(Actor{Name: "alice", Role: "operator"}); r != nil {
			calls = append(calls, raw{m, c, r})
		}
	}
	prev := GenesisHash
	n := 0
	for i := 0; b.Loop(); i++ {
		c := calls[i%len(calls)]
		req := requestEntry(c.meta, c.call)
		resp := responseEntry(req, c.result)
		for _, e := range []*Entry{req, resp} {
			r, err := toRow(e)
			if err != nil {
				b.Fatal(err)
			}
			prev = chainHash(prev, r)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
}
