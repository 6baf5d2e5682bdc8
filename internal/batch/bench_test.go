package batch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
)

// Test credentials of the benchmark's simulator (not secrets).
const (
	benchAK = "BENCHAKEXAMPLE0000000"
	benchSK = "bench-secret-key-example"
)

// BenchmarkBatchRun measures, for 2 and 50 servers (one chunk), the time
// from the run request (Execute) to the recorded result of the chunk
// (batch rows, audit request and response, chunk outcome and
// acknowledgements all committed), side by side with a direct signed
// BatchAction call of the same servers to the same simulator. Iterations
// alternate STOP and START; the simulator settles at once, so every call is
// accepted. The audit log is chained under an audit key and indexed in the
// background, as in the console. See docs/performance.md.
func BenchmarkBatchRun(b *testing.B) {
	for _, n := range []int{2, 50} {
		e := newEnv(b, envOpts{servers: 120, transition: time.Nanosecond, signed: true, keyed: true})
		ids := make([]string, 0, n)
		for _, s := range e.pick(b, n, func(s *modelarts.ServerResponse) bool {
			ok, _ := modelarts.Eligible(modelarts.BatchStop, s)
			return ok && s.Status == modelarts.StatusRunning
		}) {
			ids = append(ids, s.ID)
		}
		// The servers start running; each call flips them.
		calls := 0
		next := func() modelarts.BatchType {
			calls++
			if calls%2 == 1 {
				return modelarts.BatchStop
			}
			return modelarts.BatchStart
		}
		ctx := context.Background()

		b.Run(fmt.Sprintf("direct/servers=%d", n), func(b *testing.B) {
			mc := e.mc
			mc.AllowUnaudited = true
			client, err := modelarts.NewClient(mc)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				req := &modelarts.BatchRequest{Type: next(), Servers: make([]modelarts.BatchServerID, n)}
				for k, id := range ids {
					req.Servers[k] = modelarts.BatchServerID{ID: id}
				}
				if _, err := client.BatchAction(ctx, req, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		// console: each run request finds the console idle, as a person's
		// batch does: the previous run's entries are indexed before the
		// timer starts. console-busy: back to back, the background indexer
		// catching up on the previous runs while this one runs (sustained
		// load; the indexer's gathering delay decides when it overlaps).
		for _, busy := range []bool{false, true} {
			name := "console"
			if busy {
				name = "console-busy"
			}
			b.Run(fmt.Sprintf("%s/servers=%d", name, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if !busy {
						if err := e.audit.IndexNow(ctx); err != nil {
							b.Fatal(err)
						}
					}
					p, err := e.svc.Prepare(ctx, operator, next(), ids, e.snapshot(b))
					if err != nil || len(p.Targets) != n {
						b.Fatalf("Prepare: %d targets, skipped %+v, %v", len(p.Targets), p.Skipped, err)
					}
					b.StartTimer()
					ex, err := e.svc.Execute(ctx, batch.ExecuteRequest{User: operator, Token: p.Token, Meta: meta})
					if err != nil || !ex.Started {
						b.Fatalf("Execute = %+v, %v", ex, err)
					}
					e.svc.Wait() // every chunk sent and its result recorded
					b.StopTimer()
					var outcomes []string
					if err := e.db.Read.SelectContext(ctx, &outcomes, `SELECT outcome FROM batch_chunks WHERE batch_id = ?`, ex.BatchID); err != nil ||
						len(outcomes) != 1 || outcomes[0] != batch.OutcomeOK {
						b.Fatalf("chunks of batch %s = %v, %v; want one chunk ok", ex.BatchID, outcomes, err)
					}
					b.StartTimer()
				}
			})
		}
	}
}
