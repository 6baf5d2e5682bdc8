package audit

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// SeedOptions controls Seed.
type SeedOptions struct {
	Count     int           // entries to add
	Seed      uint64        // the same seed gives the same content (times aside)
	BatchSize int           // entries per transaction; default 5000
	Span      time.Duration // the entries spread over this long, ending now; default 180 days
	Servers   int           // size of the simulated fleet; default 2000
	Progress  func(done int)
}

// Seed appends Count realistic entries, for scale tests and benchmarks:
// batch actions by a dozen users on a fleet of Servers DevServers (request and
// answer pairs built by the same code as the Recorder, so redaction and
// indexing are exercised), with API errors, transport errors, a few
// outcome-unknown calls and security events mixed in. Entries are chained
// like any other and committed BatchSize at a time, so seeding a million
// takes about a minute rather than a million fsyncs.
//
// It is a function, not a method of Store: a binary that uses reflection to
// call methods (text/template does) keeps every exported method of its
// types, and the seeder must stay out of the console (cmd/console
// TestShippedBinaryCannotSeedTheAuditLog).
func Seed(ctx context.Context, s *Store, o SeedOptions) error {
	if o.Count <= 0 {
		return errors.New("audit: seed: count must be positive")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
	}
	if o.Span <= 0 {
		o.Span = 180 * 24 * time.Hour
	}
	if o.Servers <= 0 {
		o.Servers = 2000
	}
	g := newSeeder(o.Seed, o.Servers)

	now := s.Now().UTC()
	var lastAt string
	_ = s.db.Read.GetContext(ctx, &lastAt, `SELECT created_at FROM audit_entries ORDER BY id DESC LIMIT 1`)
	at := now.Add(-o.Span)
	if last, err := time.Parse(timeLayout, lastAt); err == nil && last.After(at) {
		at = last
	}
	// Entry i is stamped start + i*step + jitter (jitter < step): spread
	// evenly, in order, and never after now.
	start := at
	step := max(now.Sub(start)/time.Duration(o.Count+1), 0)

	done := 0
	for done < o.Count {
		n := min(o.BatchSize, o.Count-done)
		batch := make([]*Entry, 0, n+1)
		for len(batch) < n {
			for _, e := range g.next(n - len(batch)) {
				i := done + len(batch) + 1
				e.CreatedAt = start.Add(step*time.Duration(i) + time.Duration(g.rng.Int64N(int64(step)+1)))
				if e.ref != nil { // an answer comes as long after its request as the call took
					e.CreatedAt = e.ref.CreatedAt.Add(e.Duration + time.Millisecond)
				}
				batch = append(batch, e)
			}
		}
		if err := s.commitEntries(ctx, []*appendReq{{entries: batch}}); err != nil {
			return fmt.Errorf("audit: seed: %w", err)
		}
		if err := s.indexTail(ctx, len(batch)); err != nil { // the seeded batch in one transaction
			return fmt.Errorf("audit: seed: %w", err)
		}
		done += len(batch)
		if o.Progress != nil {
			o.Progress(done)
		}
	}
	return nil
}

type seedActor struct{ name, role string }

type seeder struct {
	rng     *rand.Rand
	servers []modelarts.ServerResponse
	actors  []seedActor
	project string
}

func newSeeder(seed uint64, nServers int) *seeder {
	g := &seeder{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.project = g.hex(16)
	g.actors = append(g.actors, []seedActor{
		{"alice", "operator"}, {"bogdan", "operator"}, {"chen.wei", "operator"}, {"dara", "operator"},
		{"emeka", "operator"}, {"farah", "operator"}, {"gustavo", "operator"}, {"hana", "operator"},
		{"ines", "approver"}, {"jonas", "approver"}, {"kim", "admin"}, {"admin", "admin"},
	}...)
	teams := []string{"nlp", "vision", "speech", "rec", "infra", "research"}
	kinds := []struct{ flavor, gpu string }{
		{"modelarts.bm.npu.arm.8snt9b3.d", "ascend"}, {"modelarts.bm.gpu.x86.8a100.d", "a100"},
		{"modelarts.bm.gpu.x86.8h800.d", "h800"}, {"modelarts.ecs.gpu.x86.1t4", "t4"},
	}
	for i := range nServers {
		k := kinds[g.rng.IntN(len(kinds))]
		g.servers = append(g.servers, modelarts.ServerResponse{
			ID:           g.uuid(),
			Name:         fmt.Sprintf("%s-%s-%04d", teams[g.rng.IntN(len(teams))], k.gpu, i),
			Flavor:       k.flavor,
			ChargingMode: modelarts.ChargingPostPaid,
			Category:     modelarts.CategoryServer,
			CloudServer:  &modelarts.CloudServer{ID: g.uuid(), Type: modelarts.ServerTypeBMS},
			Image: &modelarts.ServerImageResponse{
				Arch: modelarts.ArchX86, ImageID: g.uuid(), Name: "EulerOS-2.10-Ascend-" + k.gpu,
				ServerType: modelarts.ServerTypeBMS, Status: modelarts.ImageActive,
			},
			Endpoints: []modelarts.EndpointsRes{{Service: modelarts.DevServiceSSH, URI: fmt.Sprintf("192.168.%d.%d", i/250, i%250+2)}},
			Volumes:   []modelarts.ServerVolume{{Size: 200, Type: modelarts.VolumeRoot, EVSType: modelarts.EVSSSD, EVSID: g.uuid()}},
			VpcID:     g.uuid(),
			SubnetID:  g.uuid(),
			CreateAt:  1735689600000 + int64(i)*3600000,
			UpdateAt:  1735689600000 + int64(i)*3600000,
			Status:    modelarts.StatusRunning,
		})
	}
	return g
}

func (g *seeder) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

func (g *seeder) uuid() string {
	h := g.hex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// next returns one step of activity: a call's request and answer, or a
// security event when fewer than two entries are wanted.
func (g *seeder) next(room int) []*Entry {
	a := g.actors[g.rng.IntN(len(g.actors))]
	actor := Actor{
		UserID: int64(g.rng.IntN(len(g.actors)) + 1), Name: a.name, Role: a.role,
		ClientIP:  fmt.Sprintf("10.20.%d.%d", g.rng.IntN(8), g.rng.IntN(250)+2),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0 Safari/537.36",
	}
	if room < 2 || g.rng.Float64() < 0.12 {
		return []*Entry{g.event(actor)}
	}
	return g.call(actor)
}

func (g *seeder) event(actor Actor) *Entry {
	var kind EventKind
	detail := map[string]string{}
	switch r := g.rng.Float64(); {
	case r < 0.60:
		kind = EventSignInSuccess
	case r < 0.85:
		kind, actor.UserID = EventSignInFailure, 0
		detail["reason"] = "invalid username or password"
	case r < 0.95:
		kind = EventSignOut
	default:
		kind = EventAccessDenied
		detail["method"], detail["path"], detail["permission"] = "POST", "/batches", "actions:run"
	}
	return &Entry{Kind: kind, Actor: actor, Action: string(kind), Detail: detail}
}

func (g *seeder) call(actor Actor) []*Entry {
	meta, call, result := g.rawCall(actor)
	reqE := requestEntry(meta, call)
	if result == nil {
		u := unknownEntry(reqE)
		u.ref = reqE
		return []*Entry{reqE, u}
	}
	resp := responseEntry(reqE, result)
	resp.ref = reqE
	return []*Entry{reqE, resp}
}

// rawCall makes one realistic batch call as the client hands it to the
// Recorder (signed, secrets in place) and how it ended; a nil result means
// the process died before the answer (outcome unknown).
func (g *seeder) rawCall(actor Actor) (CallMeta, *modelarts.OutgoingCall, *modelarts.CallResult) {
	var typ modelarts.BatchType
	switch r := g.rng.Float64(); {
	case r < 0.28:
		typ = modelarts.BatchStop
	case r < 0.56:
		typ = modelarts.BatchStart
	case r < 0.78:
		typ = modelarts.BatchReboot
	case r < 0.86:
		typ = modelarts.BatchChangeOS
	case r < 0.94:
		typ = modelarts.BatchReinstallOS
	default:
		typ = modelarts.BatchDelete
	}
	n := 1
	for n < 8 && g.rng.Float64() < 0.45 {
		n++
	}
	req := modelarts.BatchRequest{Type: typ}
	var targets []Target
	var picked []modelarts.ServerResponse
	for range n {
		srv := g.servers[g.rng.IntN(len(g.servers))]
		picked = append(picked, srv)
		req.Servers = append(req.Servers, modelarts.BatchServerID{ID: srv.ID})
		targets = append(targets, Target{ID: srv.ID, Name: srv.Name})
	}
	if typ.NeedsOSParams() {
		p := &modelarts.ServerOSRequest{ImageID: g.uuid()}
		if g.rng.IntN(2) == 0 {
			p.AdminPass = "S3cret!" + g.hex(4)
		} else {
			p.KeyPairName = "KeyPair-" + actor.Name
		}
		if g.rng.IntN(3) == 0 {
			p.UserData = base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho provisioned by " + actor.Name + "\n"))
		}
		req.ExtendParam = p
	}
	body, _ := json.Marshal(req)
	host := "modelarts.cn-north-4.myhuaweicloud.com"
	date := time.Now().UTC().Format("20060102T150405Z")
	call := &modelarts.OutgoingCall{
		Method: http.MethodPost,
		URL:    "https://" + host + "/v1/" + g.project + "/dev-servers/action",
		Header: http.Header{
			"Content-Type":  {"application/json;charset=UTF-8"},
			"Host":          {host},
			"X-Sdk-Date":    {date},
			"X-Project-Id":  {g.project},
			"Authorization": {"SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=" + g.hex(32)},
		},
		Body: body,
	}
	meta := CallMeta{Actor: actor, CorrelationID: g.uuid(), Action: string(typ), Targets: targets}

	result := &modelarts.CallResult{
		Header:   http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {g.hex(16)}},
		Duration: time.Duration(80+g.rng.IntN(900)) * time.Millisecond,
	}
	switch r := g.rng.Float64(); {
	case r < 0.005:
		return meta, call, nil
	case r < 0.04:
		result.Header = nil
		result.Err = []error{
			//lint:ignore ST1005 the text of net/http's client error, as the audit log records it
			fmt.Errorf("Post %q: context deadline exceeded (Client.Timeout exceeded while awaiting headers)", call.URL),
			//lint:ignore ST1005 the text of net/http's client error, as the audit log records it
			fmt.Errorf("Post %q: read tcp 10.0.0.5:41234->100.125.4.25:443: read: connection reset by peer", call.URL),
			errors.New("decode response: unexpected EOF"),
		}[g.rng.IntN(3)]
	case r < 0.10:
		e := []struct {
			status    int
			code, msg string
		}{
			{400, "ModelArts.6404", "LiteServer instance '" + picked[0].ID + "' not found."},
			{400, "ModelArts.7000", "Server " + picked[0].ID + " type is BMS, does not support this operation."},
			{429, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"},
			{500, "ModelArts.0001", "Internal server error."},
		}[g.rng.IntN(4)]
		result.Status = e.status
		result.Body, _ = json.Marshal(modelarts.ErrorBody{ErrorCode: e.code, ErrorMsg: e.msg})
	default:
		page := modelarts.ServerPage{Current: 1, Pages: 1, Size: len(picked), Total: int64(len(picked))}
		for _, srv := range picked {
			srv.Status = transientFor(typ)
			page.Data = append(page.Data, srv)
		}
		result.Status = http.StatusOK
		result.Body, _ = json.Marshal(page)
	}
	return meta, call, result
}

func transientFor(t modelarts.BatchType) modelarts.Status {
	switch t {
	case modelarts.BatchStart:
		return modelarts.StatusStarting
	case modelarts.BatchStop:
		return modelarts.StatusStopping
	case modelarts.BatchReboot:
		return modelarts.StatusRebooting
	case modelarts.BatchChangeOS:
		return modelarts.StatusChangingOS
	case modelarts.BatchReinstallOS:
		return modelarts.StatusReinstallingOS
	default:
		return modelarts.StatusDeleting
	}
}
