package audit_test

import (
	"context"
	"database/sql"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// BenchmarkScale measures the audit log at scale (docs/audit.md has the
// figures). It only runs with -bench; it seeds AUDIT_BENCH_ENTRIES entries
// (default 1,000,000) into a fresh file, or reuses the file named by
// AUDIT_BENCH_DB when that already holds enough entries:
//
//	AUDIT_BENCH_DB=/tmp/audit-1m.db go test -run '^$' -bench Scale -timeout 60m ./internal/audit
func BenchmarkScale(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("AUDIT_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("AUDIT_BENCH_ENTRIES=%q: want a number >= 1000", v)
		}
	}
	path := os.Getenv("AUDIT_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "audit-bench.db")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := audit.New(db, nil)

	var have int
	if err := db.Read.Get(&have, `SELECT count(*) FROM audit_entries`); err != nil {
		b.Fatal(err)
	}
	if have < n {
		start := time.Now()
		if err := audit.Seed(ctx, s, audit.SeedOptions{Count: n - have, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.Logf("seeded %d entries in %s: %.0f entries/s (chained, redacted, indexed; 5000 per transaction)",
			n-have, el.Round(time.Second), float64(n-have)/el.Seconds())
		have = n
	}
	var maxID int64
	if err := db.Read.Get(&maxID, `SELECT max(id) FROM audit_entries`); err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(path); err == nil {
		b.Logf("database: %d entries, %d MiB", have, fi.Size()>>20)
	}
	// Realistic filter values from the seeded data.
	var srvID, srvName, corr string
	if err := db.Read.QueryRow(`SELECT json_extract(targets, '$[0].id'), json_extract(targets, '$[0].name'), correlation_id
		FROM audit_entries WHERE kind = 'request' AND id > ? ORDER BY id LIMIT 1`, maxID/2).Scan(&srvID, &srvName, &corr); err != nil {
		b.Fatal(err)
	}
	var midAt string
	if err := db.Read.Get(&midAt, `SELECT created_at FROM audit_entries WHERE id >= ? ORDER BY id LIMIT 1`, maxID/2); err != nil {
		b.Fatal(err)
	}
	mid, _ := time.Parse("2006-01-02T15:04:05.000000Z", midAt)

	pages := []struct {
		name   string
		filter audit.Filter
		before int64
	}{
		{"first-page/no-filter", audit.Filter{}, 0},
		{"first-page/actor", audit.Filter{Actor: "chen.wei"}, 0},
		{"first-page/action", audit.Filter{Action: "DELETE"}, 0},
		{"first-page/event-type", audit.Filter{Action: "signin.failure"}, 0},
		{"first-page/server-id", audit.Filter{Server: srvID}, 0},
		{"first-page/server-name", audit.Filter{Server: srvName}, 0},
		{"first-page/outcome-unknown", audit.Filter{Outcome: "unknown"}, 0},
		{"first-page/outcome-api-error", audit.Filter{Outcome: "api_error"}, 0},
		{"first-page/text-server-name", audit.Filter{Text: srvName}, 0},
		{"first-page/text-error", audit.Filter{Text: "connection reset"}, 0},
		{"first-page/correlation", audit.Filter{Correlation: corr}, 0},
		{"first-page/time-range-1-day", audit.Filter{Since: mid, Until: mid.Add(24 * time.Hour)}, 0},
		{"deep-page/no-filter", audit.Filter{}, maxID / 2},
		{"deep-page/actor", audit.Filter{Actor: "chen.wei"}, maxID / 2},
		{"deep-page/server-id", audit.Filter{Server: srvID}, maxID / 2},
		{"deep-page/text-error", audit.Filter{Text: "connection reset"}, maxID / 2},
	}
	for _, p := range pages {
		b.Run("list/"+p.name, func(b *testing.B) {
			durs := make([]time.Duration, 0, b.N)
			rows := 0
			for b.Loop() {
				t0 := time.Now()
				got, _, err := s.List(ctx, p.filter, p.before, audit.DefaultPageSize)
				durs = append(durs, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				rows = len(got)
			}
			if rows == 0 {
				b.Fatalf("filter %+v matched nothing: not a meaningful measurement", p.filter)
			}
			b.ReportMetric(p95ms(durs), "p95-ms")
		})
	}

	for _, format := range []string{"jsonl", "csv"} {
		b.Run("export/"+format, func(b *testing.B) {
			for b.Loop() {
				var err error
				if format == "csv" {
					err = s.ExportCSV(ctx, io.Discard, audit.Filter{})
				} else {
					err = s.ExportJSONL(ctx, io.Discard, audit.Filter{})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(have)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}

	// 32 concurrent writers, each waiting for its own entry to be durable.
	b.Run("append/32-writers", func(b *testing.B) {
		var before int64
		if err := db.Read.Get(&before, `SELECT count(*) FROM audit_entries`); err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		var ops int64
		b.SetParallelism(32 / max(1, runtimeProcs()))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rec := s.CallRecorder(metaFor("STOP", "bench", audit.Target{ID: srvA, Name: "gpu-node-01"}))
			mctx := ctx
			for pb.Next() {
				ref, err := rec.BeforeSend(mctx, stopCall(srvA))
				if err != nil {
					b.Error(err)
					return
				}
				if err := rec.AfterSend(mctx, ref, stopCall(srvA), okResult("bench")); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				ops++
				mu.Unlock()
			}
		})
		b.StopTimer()
		var after int64
		if err := db.Read.Get(&after, `SELECT count(*) FROM audit_entries`); err != nil {
			b.Fatal(err)
		}
		if after-before != 2*ops {
			b.Fatalf("%d entries appended, want %d: entries lost", after-before, 2*ops)
		}
		b.ReportMetric(float64(2*ops)/b.Elapsed().Seconds(), "entries/s")
	})

	// The same shape of rows into a plain table (no hash, redaction, indexes
	// or search index) over the same kind of connection, for comparison.
	rawPath := filepath.Join(filepath.Dir(path), "raw-bench.db")
	raw, err := store.Open(ctx, rawPath)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { raw.Close(); os.Remove(rawPath); os.Remove(rawPath + "-wal"); os.Remove(rawPath + "-shm") }()
	if _, err := raw.Write.Exec(`CREATE TABLE IF NOT EXISTS raw_entries (id INTEGER PRIMARY KEY, created_at TEXT,
		kind TEXT, actor_name TEXT, action TEXT, targets TEXT, method TEXT, url TEXT, request_headers TEXT,
		request_body BLOB, status INTEGER, response_headers TEXT, response_body BLOB, hash TEXT)`); err != nil {
		b.Fatal(err)
	}
	sample, err := s.Get(ctx, maxID/2)
	if err != nil {
		b.Fatal(err)
	}
	insertRaw := func(ex interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}) error {
		_, err := ex.ExecContext(ctx, `INSERT INTO raw_entries (created_at, kind, actor_name, action, targets,
			method, url, request_headers, request_body, status, response_headers, response_body, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "2026-03-01T00:00:00.000000Z", "request", "alice", "STOP",
			`[{"id":"`+srvA+`"}]`, "POST", sample.URL, `{"Content-Type":["application/json"]}`, sample.RequestBody,
			200, `{}`, sample.ResponseBody, sample.Hash)
		return err
	}
	b.Run("raw-sqlite/32-writers-1-row-per-tx", func(b *testing.B) {
		b.SetParallelism(32 / max(1, runtimeProcs()))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := insertRaw(raw.Write); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("raw-sqlite/bulk-5000-per-tx", func(b *testing.B) {
		const per = 5000
		for b.Loop() {
			tx, err := raw.Write.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range per {
				if err := insertRaw(tx); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(per*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("seed/5000-per-tx", func(b *testing.B) {
		const per = 5000
		for i := 0; b.Loop(); i++ {
			if err := audit.Seed(ctx, s, audit.SeedOptions{Count: per, Seed: uint64(100 + i)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(per*b.N)/b.Elapsed().Seconds(), "entries/s")
	})

	// What every start pays: looking for requests without an answer.
	b.Run("recover-unfinished-at-start", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.RecoverUnfinished(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			res, err := s.Verify(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !res.OK {
				b.Fatalf("chain broken at %d: %s", res.FirstBroken, res.Reason)
			}
			b.ReportMetric(float64(res.Entries)/res.Duration.Seconds(), "entries/s")
		}
	})
}

func p95ms(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(0.95*float64(len(d)))) - 1
	return float64(d[max(i, 0)]) / float64(time.Millisecond)
}

// runtimeProcs is GOMAXPROCS: RunParallel starts parallelism × GOMAXPROCS goroutines.
func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
