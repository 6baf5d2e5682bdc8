package simulator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

const transition = 3 * time.Second

// TestLifecycle drives every action, batch and single-server, through its
// transient state to success or forced failure on a fake clock.
func TestLifecycle(t *testing.T) {
	type variant struct {
		name   string
		single bool
		fail   bool
	}
	variants := []variant{
		{"batch", false, false},
		{"batch-forced-failure", false, true},
		{"single", true, false},
		{"single-forced-failure", true, true},
	}
	tests := []struct {
		action modelarts.BatchType
		from   modelarts.Status
		method string // single-server call
		suffix string
		osReq  bool
	}{
		{modelarts.BatchStart, modelarts.StatusStopped, http.MethodPut, "/start", false},
		{modelarts.BatchStop, modelarts.StatusRunning, http.MethodPut, "/stop", false},
		{modelarts.BatchReboot, modelarts.StatusRunning, http.MethodPut, "/reboot", false},
		{modelarts.BatchChangeOS, modelarts.StatusStopped, http.MethodPost, "/changeos", true},
		{modelarts.BatchReinstallOS, modelarts.StatusStopped, http.MethodPost, "/reinstallos", true},
		{modelarts.BatchDelete, modelarts.StatusRunning, http.MethodDelete, "", false},
		{modelarts.BatchStop, modelarts.StatusStopFailed, http.MethodPut, "/stop", false},
		{modelarts.BatchStart, modelarts.StatusStartFailed, http.MethodPut, "/start", false},
		{modelarts.BatchChangeOS, modelarts.StatusChangingOSFailed, http.MethodPost, "/changeos", true},
		{modelarts.BatchDelete, modelarts.StatusError, http.MethodDelete, "", false},
		{modelarts.BatchDelete, modelarts.StatusCreateFailed, http.MethodDelete, "", false},
	}
	for _, tt := range tests {
		for _, v := range variants {
			t.Run(string(tt.action)+"-from-"+string(tt.from)+"/"+v.name, func(t *testing.T) {
				sim, clock := newSim(t, simulator.Options{Servers: 200, Transition: transition})
				target := pick(t, sim, "eligible and "+string(tt.from), func(s *modelarts.ServerResponse) bool {
					ok, _ := modelarts.Eligible(tt.action, s)
					return ok && s.Status == tt.from
				})
				if v.fail {
					sim.SetFaults(simulator.Faults{FailServers: []string{target.Name}})
				}
				var (
					osReq *modelarts.ServerOSRequest
					img   modelarts.ServerImageResponse
				)
				if tt.osReq {
					osReq = &modelarts.ServerOSRequest{KeyPairName: "KeyPair-new"}
					if tt.action == modelarts.BatchChangeOS {
						img = imageFor(t, sim, target)
						osReq.ImageID = img.ImageID
					}
				}
				tr := modelarts.Transitions[tt.action]
				startedAt := clock.Now()

				var got modelarts.ServerResponse
				if v.single {
					var body any
					if osReq != nil {
						body = osReq
					}
					decode(t, do(t, sim, tt.method, path("/"+target.ID+tt.suffix), body), &got)
				} else {
					var page modelarts.ServerPage
					decode(t, do(t, sim, http.MethodPost, path("/action"), batch(tt.action, osReq, target.ID)), &page)
					if page.Current != 1 || page.Pages != 1 || page.Size != 1 || page.Total != 1 || len(page.Data) != 1 {
						t.Fatalf("batch page = current %d pages %d size %d total %d data %d; want 1 1 1 1 1",
							page.Current, page.Pages, page.Size, page.Total, len(page.Data))
					}
					got = page.Data[0]
				}
				if got.ID != target.ID || got.Status != tr.Transient {
					t.Fatalf("answer: server %s in %s, want %s in %s", got.ID, got.Status, target.ID, tr.Transient)
				}
				if got.UpdateAt != startedAt.UnixMilli() {
					t.Errorf("answer: update_at %d, want the action time %d", got.UpdateAt, startedAt.UnixMilli())
				}

				// Just before the delay ends it is still in progress.
				clock.Advance(transition - time.Millisecond)
				var shown modelarts.ServerResponse
				decode(t, do(t, sim, http.MethodGet, path("/"+target.ID), nil), &shown)
				if shown.Status != tr.Transient {
					t.Fatalf("after %s: status %s, want still %s", transition-time.Millisecond, shown.Status, tr.Transient)
				}

				clock.Advance(time.Millisecond)
				settledAt := startedAt.Add(transition).UnixMilli()
				res := do(t, sim, http.MethodGet, path("/"+target.ID), nil)
				if tt.action == modelarts.BatchDelete && !v.fail {
					m := wantError(t, res, http.StatusBadRequest, simulator.CodeNotFound)
					if want := "LiteServer instance '" + target.ID + "' not found."; m["error_msg"] != want {
						t.Errorf("error_msg = %q, want %q", m["error_msg"], want)
					}
					if _, ok := sim.Server(target.ID); ok {
						t.Error("Server() still finds the deleted server")
					}
					for _, s := range sim.Servers() {
						if s.ID == target.ID {
							t.Error("Servers() still lists the deleted server")
						}
					}
					var all modelarts.ServerPage
					decode(t, do(t, sim, http.MethodGet, path("/all"), nil), &all)
					if all.Total != 199 || len(all.Data) != 199 {
						t.Errorf("after delete /all has total %d and %d items, want 199", all.Total, len(all.Data))
					}
					return
				}
				decode(t, res, &shown)
				want := tr.Success
				if v.fail {
					want = tr.Failure
				}
				if shown.Status != want {
					t.Fatalf("settled status %s, want %s", shown.Status, want)
				}
				if shown.UpdateAt != settledAt {
					t.Errorf("settled update_at %d, want the settle time %d", shown.UpdateAt, settledAt)
				}
				switch {
				case tt.action == modelarts.BatchChangeOS && !v.fail:
					if diff := cmp.Diff(&img, shown.ImageInfo()); diff != "" {
						t.Errorf("image after OS change mismatch (-want +got):\n%s", diff)
					}
				default:
					if diff := cmp.Diff(target.ImageInfo(), shown.ImageInfo()); diff != "" {
						t.Errorf("image changed by %s (-want +got):\n%s", tt.action, diff)
					}
				}
				if tt.osReq && !v.fail && shown.KeyPairName != "KeyPair-new" {
					t.Errorf("key pair after %s = %q, want KeyPair-new", tt.action, shown.KeyPairName)
				}
			})
		}
	}
}

// TestInvalidRequestsChangeNothing checks every refusal leaves the whole
// fleet exactly as it was.
func TestInvalidRequestsChangeNothing(t *testing.T) {
	const unknownID = "00000000-0000-4000-8000-000000000000"
	type setup struct {
		method, path string
		body         any
	}
	tests := []struct {
		name       string
		req        func(t *testing.T, sim *simulator.Simulator) setup
		wantStatus int
		wantCode   string
		wantMsg    []string // substrings of error_msg
	}{
		{
			name: "stop-a-stopped-server",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"Cannot stop server", "only running servers can be stopped", "STOPPED"},
		},
		{
			name: "single-start-a-running-server",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
				return setup{http.MethodPut, path("/" + s.ID + "/start"), map[string]any{}}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"Cannot start server", "RUNNING"},
		},
		{
			name: "reboot-a-stopped-server",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPut, path("/" + s.ID + "/reboot"), nil}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"Cannot reboot server"},
		},
		{
			name: "reinstall-a-running-server",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"Cannot reinstall the OS of server"},
		},
		{
			name: "one-ineligible-server-blocks-the-batch",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				run := pickN(t, sim, 3, "running", postPaidWith(modelarts.StatusRunning))
				stopped := pickN(t, sim, 2, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, run[0].ID, stopped[0].ID, run[1].ID, stopped[1].ID, run[2].ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"Cannot stop server", "1 other server(s) in this request cannot be processed either; nothing was changed."},
		},
		{
			name: "unknown-id-in-batch",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				run := pickN(t, sim, 2, "running", postPaidWith(modelarts.StatusRunning))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, run[0].ID, unknownID, run[1].ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotFound,
			wantMsg: []string{"LiteServer instance '" + unknownID + "' not found."},
		},
		{
			name: "unknown-id-single",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				return setup{http.MethodPut, path("/" + unknownID + "/stop"), nil}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotFound,
			wantMsg: []string{"LiteServer instance '" + unknownID + "' not found."},
		},
		{
			name: "supernode-os-change-refused",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "a stopped supernode member", func(s *modelarts.ServerResponse) bool {
					return s.IsSupernode() && s.Status == modelarts.StatusStopped
				})
				img := imageFor(t, sim, s)
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchChangeOS, &modelarts.ServerOSRequest{ImageID: img.ImageID, KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"supernode"},
		},
		{
			name: "supernode-reinstall-refused",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "a stopped supernode member", func(s *modelarts.ServerResponse) bool {
					return s.IsSupernode() && s.Status == modelarts.StatusStopped
				})
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"supernode"},
		},
		{
			name: "prepaid-delete-refused",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "pre-paid", func(s *modelarts.ServerResponse) bool { return s.ChargingMode == modelarts.ChargingPrePaid })
				return setup{http.MethodDelete, path("/" + s.ID), nil}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeNotAllowed,
			wantMsg: []string{"PRE_PAID"},
		},
		{
			name: "changeos-unknown-image",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchChangeOS, &modelarts.ServerOSRequest{ImageID: unknownID, KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"Image '" + unknownID + "' not found."},
		},
		{
			name: "changeos-inactive-image",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				var inactive modelarts.ServerImageResponse
				for _, img := range sim.Images() {
					if img.Status == modelarts.ImageInactive {
						inactive = img
					}
				}
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchChangeOS, &modelarts.ServerOSRequest{ImageID: inactive.ImageID, KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"INACTIVE"},
		},
		{
			name: "changeos-image-of-another-arch",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped x86", func(s *modelarts.ServerResponse) bool {
					return postPaidWith(modelarts.StatusStopped)(s) && s.Arch() == modelarts.ArchX86
				})
				var arm modelarts.ServerImageResponse
				for _, img := range sim.Images() {
					if img.Arch == modelarts.ArchARM && img.Status == modelarts.ImageActive {
						arm = img
					}
				}
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchChangeOS, &modelarts.ServerOSRequest{ImageID: arm.ImageID, KeyPairName: "kp"}, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"is for", "/ARM servers", "/X86"},
		},
		{
			name: "changeos-without-image",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPost, path("/" + s.ID + "/changeos"), modelarts.ServerOSRequest{KeyPairName: "kp"}}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"image_id"},
		},
		{
			name: "empty-server-list",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				return setup{http.MethodPost, path("/action"), `{"type":"STOP","servers":[]}`}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"servers: select at least one server"},
		},
		{
			name: "unknown-type",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
				return setup{http.MethodPost, path("/action"), `{"type":"HIBERNATE","servers":[{"id":"` + s.ID + `"}]}`}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"type: unknown action"},
		},
		{
			name: "duplicate-id",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
				return setup{http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, s.ID, s.ID)}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"listed twice"},
		},
		{
			name: "broken-json",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				return setup{http.MethodPost, path("/action"), `{"type":"STOP",`}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"Invalid request body"},
		},
		{
			name: "weak-password",
			req: func(t *testing.T, sim *simulator.Simulator) setup {
				s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
				return setup{http.MethodPost, path("/" + s.ID + "/reinstallos"), modelarts.ServerOSRequest{AdminPass: "password"}}
			},
			wantStatus: http.StatusBadRequest, wantCode: simulator.CodeBadParameter,
			wantMsg: []string{"admin_pass"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, clock := newSim(t, simulator.Options{Transition: transition})
			req := tt.req(t, sim)
			before := sim.Servers()
			res := do(t, sim, req.method, req.path, req.body)
			m := wantError(t, res, tt.wantStatus, tt.wantCode)
			for _, sub := range tt.wantMsg {
				if !strings.Contains(m["error_msg"], sub) {
					t.Errorf("error_msg %q does not contain %q", m["error_msg"], sub)
				}
			}
			if _, ok := m["request_id"]; ok {
				t.Errorf("ModelArts error body has request_id (only gateway errors do): %s", res.body)
			}
			clock.Advance(10 * transition)
			if diff := cmp.Diff(before, sim.Servers()); diff != "" {
				t.Errorf("refused request changed the fleet (-before +after):\n%s", diff)
			}
		})
	}
}

func TestBusyServerRefused(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
	decode(t, do(t, sim, http.MethodPut, path("/"+s.ID+"/stop"), nil), new(modelarts.ServerResponse))

	for _, tc := range []struct {
		name, method, suffix string
	}{
		{"stop-again", http.MethodPut, "/stop"},
		{"start", http.MethodPut, "/start"},
		{"delete", http.MethodDelete, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := wantError(t, do(t, sim, tc.method, path("/"+s.ID+tc.suffix), nil), http.StatusBadRequest, simulator.CodeNotAllowed)
			if !strings.Contains(m["error_msg"], "busy") || !strings.Contains(m["error_msg"], "STOPPING") {
				t.Errorf("error_msg %q does not say the server is busy STOPPING", m["error_msg"])
			}
		})
	}
	clock.Advance(transition)
	got, _ := sim.Server(s.ID)
	if got.Status != modelarts.StatusStopped {
		t.Fatalf("status after refusals and the delay = %s, want STOPPED", got.Status)
	}
}

// TestBatchStopManyServers checks a multi-server batch answers every server,
// in request order, and all of them settle.
func TestBatchStopManyServers(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	run := pickN(t, sim, 5, "running", postPaidWith(modelarts.StatusRunning))
	ids := []string{run[3].ID, run[0].ID, run[4].ID, run[1].ID, run[2].ID}
	var page modelarts.ServerPage
	decode(t, do(t, sim, http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, ids...)), &page)
	if page.Current != 1 || page.Pages != 1 || page.Size != 5 || page.Total != 5 {
		t.Errorf("page = current %d pages %d size %d total %d, want 1 1 5 5", page.Current, page.Pages, page.Size, page.Total)
	}
	var gotIDs []string
	for _, s := range page.Data {
		gotIDs = append(gotIDs, s.ID)
		if s.Status != modelarts.StatusStopping {
			t.Errorf("server %s answered %s, want STOPPING", s.ID, s.Status)
		}
	}
	if diff := cmp.Diff(ids, gotIDs); diff != "" {
		t.Errorf("answered servers mismatch (-want +got):\n%s", diff)
	}
	clock.Advance(transition)
	for _, id := range ids {
		if s, _ := sim.Server(id); s.Status != modelarts.StatusStopped {
			t.Errorf("server %s is %s after the delay, want STOPPED", id, s.Status)
		}
	}
}

func TestForcedFailureByID(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	run := pickN(t, sim, 2, "running", postPaidWith(modelarts.StatusRunning))
	sim.SetFaults(simulator.Faults{FailServers: []string{run[1].ID}})
	decode(t, do(t, sim, http.MethodPost, path("/action"), batch(modelarts.BatchReboot, nil, run[0].ID, run[1].ID)), new(modelarts.ServerPage))
	clock.Advance(transition)
	a, _ := sim.Server(run[0].ID)
	b, _ := sim.Server(run[1].ID)
	if a.Status != modelarts.StatusRunning || b.Status != modelarts.StatusRebootFailed {
		t.Fatalf("statuses = %s, %s; want RUNNING, REBOOT_FAILED", a.Status, b.Status)
	}
	// The failed server can be rebooted again once it is not forced to fail.
	sim.SetFaults(simulator.Faults{})
	decode(t, do(t, sim, http.MethodPut, path("/"+b.ID+"/reboot"), nil), new(modelarts.ServerResponse))
	clock.Advance(transition)
	if b, _ = sim.Server(b.ID); b.Status != modelarts.StatusRunning {
		t.Fatalf("retry after REBOOT_FAILED ended %s, want RUNNING", b.Status)
	}
}

func TestDeleteFailedThenDeleted(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
	sim.SetFaults(simulator.Faults{FailServers: []string{s.ID}})
	decode(t, do(t, sim, http.MethodDelete, path("/"+s.ID), nil), new(modelarts.ServerResponse))
	clock.Advance(transition)
	got, ok := sim.Server(s.ID)
	if !ok || got.Status != modelarts.StatusDeleteFailed {
		t.Fatalf("after a forced failure: found %v, status %s; want DELETE_FAILED", ok, got.Status)
	}
	sim.SetFaults(simulator.Faults{})
	var page modelarts.ServerPage
	decode(t, do(t, sim, http.MethodPost, path("/action"), batch(modelarts.BatchDelete, nil, s.ID)), &page)
	if page.Data[0].Status != modelarts.StatusDeleting {
		t.Fatalf("retry answered %s, want DELETING", page.Data[0].Status)
	}
	clock.Advance(transition)
	wantError(t, do(t, sim, http.MethodGet, path("/"+s.ID), nil), http.StatusBadRequest, simulator.CodeNotFound)
	// A batch naming the deleted server is refused as unknown.
	wantError(t, do(t, sim, http.MethodPost, path("/action"), batch(modelarts.BatchStart, nil, s.ID)), http.StatusBadRequest, simulator.CodeNotFound)
}

// TestConcurrentActions races many clients on the same servers: each server
// takes exactly one action, the rest are refused as busy, and fault changes
// at the same time are safe.
func TestConcurrentActions(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	run := pickN(t, sim, 2, "running", postPaidWith(modelarts.StatusRunning))
	const clients = 16
	statuses := make(chan int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				sim.SetFaults(simulator.Faults{FailServers: []string{"nobody"}})
				_ = sim.Faults()
			}
			req := httptest.NewRequest(http.MethodPost, path("/action"),
				strings.NewReader(`{"type":"STOP","servers":[{"id":"`+run[0].ID+`"},{"id":"`+run[1].ID+`"}]}`))
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			statuses <- rec.Code
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusBadRequest] != clients-1 {
		t.Fatalf("statuses %v, want one 200 and %d 400s", count, clients-1)
	}
	clock.Advance(transition)
	for _, s := range run {
		if got, _ := sim.Server(s.ID); got.Status != modelarts.StatusStopped {
			t.Errorf("server %s is %s, want STOPPED", s.ID, got.Status)
		}
	}
}
