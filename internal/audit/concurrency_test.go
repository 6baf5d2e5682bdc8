package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/devserver-console/console/internal/audit"
)

func TestConcurrentWriters(t *testing.T) {
	const writers, perWriter = 32, 8 // each iteration: a request, its response and an event
	ts := newTestStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*3)
	refs := make(chan int64, writers*perWriter)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				corr := fmt.Sprintf("w%d-%d", w, i)
				rec := ts.CallRecorder(metaFor("STOP", corr, audit.Target{ID: srvA, Name: "gpu-node-01"}))
				mctx := ctx
				ref, err := rec.BeforeSend(mctx, stopCall(srvA))
				if err != nil {
					errs <- err
					continue
				}
				refs <- ref
				if err := rec.AfterSend(mctx, ref, stopCall(srvA), okResult(corr)); err != nil {
					errs <- err
				}
				if err := ts.RecordEvent(ctx, audit.EventAccessDenied, alice, map[string]string{"corr": corr}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(refs)
	for err := range errs {
		t.Errorf("append failed (none may, and none may be SQLITE_BUSY): %v", err)
	}
	assertCount(t, ts, writers*perWriter*3)
	// Every request has exactly its own response.
	seen := map[int64]bool{}
	for ref := range refs {
		if seen[ref] {
			t.Fatalf("ref %d handed out twice", ref)
		}
		seen[ref] = true
		req, resp, err := ts.Exchange(ctx, ref)
		if err != nil || resp == nil || resp.RequestID != req.CorrelationID {
			t.Fatalf("exchange %d: %+v / %+v, %v", ref, req, resp, err)
		}
	}
	res := verifyOK(t, ts.Store)
	if res.Entries != writers*perWriter*3 {
		t.Errorf("verified %d entries, want %d", res.Entries, writers*perWriter*3)
	}
}
