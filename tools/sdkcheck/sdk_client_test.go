package sdkcheck_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	sdkma "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkRoundTrip proves that the SDK's response model holds every field and
// value the simulator sent: the raw body, decoded generically, must equal the
// SDK model marshalled back to JSON. A field the SDK does not know would be
// dropped silently by its decoder; this makes it a failure. ignore lists
// model-only keys (header fields the SDK stores in the response struct).
func checkRoundTrip(t *testing.T, raw []byte, decoded any, ignore ...string) {
	t.Helper()
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("simulator body is not a JSON object: %v\n%s", err, raw)
	}
	b, err := json.Marshal(decoded)
	if err != nil {
		t.Fatalf("marshal SDK model %T: %v", decoded, err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("SDK model JSON: %v", err)
	}
	for _, k := range ignore {
		delete(got, k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SDK model %T loses or changes what the simulator sent (-simulator +SDK):\n%s", decoded, diff)
	}
}

// serverEnums are the SDK's allowed values for each enum field of a
// ServerResponse, keyed by a JSON path ("[]" marks array elements).
var serverEnums = map[string]map[string]bool{
	"status":                           enumValues(model.GetServerResponseStatusEnum()),
	"charging_mode":                    enumValues(model.GetServerResponseChargingModeEnum()),
	"category":                         enumValues(model.GetServerResponseCategoryEnum()),
	"cloud_server.type":                enumValues(model.GetCloudServerTypeEnum()),
	"image.arch":                       enumValues(model.GetServerImageResponseArchEnum()),
	"image.server_type":                enumValues(model.GetServerImageResponseServerTypeEnum()),
	"endpoints[].service":              enumValues(model.GetEndpointsResServiceEnum()),
	"endpoints_response[].dev_service": enumValues(model.GetEndpointsDevServiceEnum()),
	"volumes[].type":                   enumValues(model.GetServerVolumeTypeEnum()),
	"volumes[].evs_type":               enumValues(model.GetServerVolumeEvsTypeEnum()),
}

// checkServerEnums fails for any enum value in one raw server object that
// the SDK's enum does not list (the SDK would accept it, but no SDK user
// could compare it with a named constant).
func checkServerEnums(t *testing.T, server map[string]any) {
	t.Helper()
	for path, allowed := range serverEnums {
		for _, v := range valuesAt(server, strings.Split(path, ".")) {
			s, ok := v.(string)
			if !ok || !allowed[s] {
				t.Errorf("server %v: %s = %v is not one of the SDK's values %v", server["id"], path, v, keys(allowed))
			}
		}
	}
}

// valuesAt collects the values at a dotted path; a segment ending in "[]"
// walks every element of an array.
func valuesAt(v any, path []string) []any {
	if len(path) == 0 {
		return []any{v}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	name, many := strings.CutSuffix(path[0], "[]")
	next, ok := obj[name]
	if !ok {
		return nil
	}
	if !many {
		return valuesAt(next, path[1:])
	}
	items, _ := next.([]any)
	var out []any
	for _, it := range items {
		out = append(out, valuesAt(it, path[1:])...)
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rawServers returns the "data" array of a recorded page body.
func rawServers(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("page body: %v", err)
	}
	return page.Data
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// listAll pages through ListDevServers with the official client and checks
// every page's wrapper and shape on the way.
func listAll(t *testing.T, e *env, client *sdkma.ModelArtsClient, limit int32, dir model.ListDevServersRequestSortDir) []model.ServerResponse {
	t.Helper()
	var all []model.ServerResponse
	for page := int32(1); ; page++ {
		resp, err := client.ListDevServers(&model.ListDevServersRequest{
			Limit: ptr(limit), Offset: ptr((page - 1) * limit), SortDir: &dir, SortKey: ptr("createTime"),
		})
		if err != nil {
			t.Fatalf("ListDevServers page %d: %v", page, err)
		}
		ex := e.rec.last(t)
		if resp.HttpStatusCode != 200 {
			t.Fatalf("page %d: HTTP %d", page, resp.HttpStatusCode)
		}
		checkRoundTrip(t, ex.ResponseBody, resp)
		for _, s := range rawServers(t, ex.ResponseBody) {
			checkServerEnums(t, s)
		}
		if got := deref(resp.Current); got != page {
			t.Errorf("page %d: current = %d", page, got)
		}
		if got := deref(resp.Size); got != limit {
			t.Errorf("page %d: size = %d, want the limit %d", page, got, limit)
		}
		all = append(all, deref(resp.Data)...)
		if page >= deref(resp.Pages) {
			if int64(len(all)) != deref(resp.Total) {
				t.Errorf("collected %d servers over %d pages, total says %d", len(all), page, deref(resp.Total))
			}
			return all
		}
		if page > 100 {
			t.Fatal("more than 100 pages: pagination never ends")
		}
	}
}

func TestSDKListDevServers(t *testing.T) {
	const fleet = 23
	e := startSimulator(t, fleet)
	client := sdkClient(t, e.url, testAK, testSK)
	dirs := model.GetListDevServersRequestSortDirEnum()

	tests := []struct {
		name  string
		limit int32
		dir   model.ListDevServersRequestSortDir
	}{
		{name: "ascending by create time, pages of 5", limit: 5, dir: dirs.ASC},
		{name: "descending by create time, pages of 10", limit: 10, dir: dirs.DESC},
		{name: "one page holds everything", limit: 1024, dir: dirs.ASC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := listAll(t, e, client, tt.limit, tt.dir)
			if len(all) != fleet {
				t.Fatalf("listed %d servers, the simulator has %d", len(all), fleet)
			}
			seen := map[string]bool{}
			for i, s := range all {
				id := deref(s.Id)
				if seen[id] {
					t.Errorf("server %s listed twice", id)
				}
				seen[id] = true
				if deref(s.Name) == "" || s.Status == nil || s.CreateAt == nil {
					t.Errorf("server %d decoded without name, status or create_at: %v", i, s)
				}
				if i == 0 {
					continue
				}
				prev, cur := deref(all[i-1].CreateAt), deref(s.CreateAt)
				if (tt.dir == dirs.ASC && cur < prev) || (tt.dir == dirs.DESC && cur > prev) {
					t.Errorf("sort_dir=%s not honoured: create_at %d after %d", tt.dir.Value(), cur, prev)
				}
			}
			for _, want := range e.sim.Servers() {
				if !seen[want.ID] {
					t.Errorf("server %s (%s) never listed", want.ID, want.Name)
				}
			}
		})
	}

	t.Run("list all (tenant) decodes", func(t *testing.T) {
		resp, err := client.ListAllDevServers(&model.ListAllDevServersRequest{})
		if err != nil {
			t.Fatalf("ListAllDevServers: %v", err)
		}
		checkRoundTrip(t, e.rec.last(t).ResponseBody, resp)
		if got := len(deref(resp.Data)); got != fleet {
			t.Errorf("ListAllDevServers returned %d servers, want %d", got, fleet)
		}
	})
}

func TestSDKShowDevServer(t *testing.T) {
	e := startSimulator(t, 12)
	client := sdkClient(t, e.url, testAK, testSK)
	listed := listAll(t, e, client, 50, model.GetListDevServersRequestSortDirEnum().ASC)
	if len(listed) != 12 {
		t.Fatalf("listed %d servers, want the 12 simulated", len(listed))
	}

	for _, s := range listed {
		t.Run(deref(s.Name), func(t *testing.T) {
			resp, err := client.ShowDevServer(&model.ShowDevServerRequest{Id: deref(s.Id)})
			if err != nil {
				t.Fatalf("ShowDevServer(%s): %v", deref(s.Id), err)
			}
			ex := e.rec.last(t)
			if want := "/v1/" + testProject + "/dev-servers/" + deref(s.Id); ex.URL != want {
				t.Errorf("SDK requested %s %s, want GET %s", ex.Method, ex.URL, want)
			}
			checkRoundTrip(t, ex.ResponseBody, resp)
			var raw map[string]any
			if err := json.Unmarshal(ex.ResponseBody, &raw); err != nil {
				t.Fatal(err)
			}
			checkServerEnums(t, raw)
			// Show must describe the server exactly as the list did.
			listedJSON, _ := json.Marshal(s)
			shownJSON, _ := json.Marshal(resp)
			if diff := cmp.Diff(string(listedJSON), string(shownJSON)); diff != "" {
				t.Errorf("ShowDevServer differs from the ListDevServers entry (-list +show):\n%s", diff)
			}
		})
	}
}

func TestSDKBatchStop(t *testing.T) {
	e := startSimulator(t, 20)
	client := sdkClient(t, e.url, testAK, testSK)

	var running []string
	for _, s := range listAll(t, e, client, 100, model.GetListDevServersRequestSortDirEnum().ASC) {
		if s.Status != nil && s.Status.Value() == "RUNNING" && len(running) < 3 {
			running = append(running, deref(s.Id))
		}
	}
	if len(running) < 2 {
		t.Fatalf("the seeded fleet has only %d running servers; need 2+", len(running))
	}

	ids := make([]model.BatchActionDevServerIds, len(running))
	for i, id := range running {
		ids[i] = model.BatchActionDevServerIds{Id: id}
	}
	resp, err := client.BatchDevServersAction(&model.BatchDevServersActionRequest{Body: &model.DevServerBatchRequest{
		Type:    model.GetDevServerBatchRequestTypeEnum().STOP,
		Servers: ids,
	}})
	if err != nil {
		t.Fatalf("BatchDevServersAction STOP: %v", err)
	}
	ex := e.rec.last(t)
	if ex.Method != "POST" || ex.URL != "/v1/"+testProject+"/dev-servers/action" {
		t.Errorf("SDK sent %s %s", ex.Method, ex.URL)
	}
	if ct := ex.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("SDK sent Content-Type %q", ct)
	}
	checkRoundTrip(t, ex.ResponseBody, resp, "X-request-id")
	if got, want := deref(resp.XRequestId), ex.RespHeader.Get("X-Request-Id"); got == "" || got != want {
		t.Errorf("response XRequestId = %q, header X-Request-Id = %q", got, want)
	}
	var gotIDs []string
	for _, s := range deref(resp.Data) {
		gotIDs = append(gotIDs, deref(s.Id))
		if st := s.Status.Value(); st != "STOPPING" {
			t.Errorf("batch answer: server %s is %s, want STOPPING", deref(s.Id), st)
		}
	}
	if diff := cmp.Diff(running, gotIDs); diff != "" {
		t.Errorf("batch answer lists other servers than requested (-requested +answered):\n%s", diff)
	}

	steps := []struct {
		name    string
		advance time.Duration
		want    string
	}{
		{name: "right after the batch", advance: 0, want: "STOPPING"},
		{name: "within the transition", advance: 150 * time.Millisecond, want: "STOPPING"},
		{name: "after the transition", advance: 100 * time.Millisecond, want: "STOPPED"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.clock.Advance(st.advance)
			for _, id := range running {
				show, err := client.ShowDevServer(&model.ShowDevServerRequest{Id: id})
				if err != nil {
					t.Fatalf("ShowDevServer(%s): %v", id, err)
				}
				if got := show.Status.Value(); got != st.want {
					t.Errorf("server %s is %s, want %s", id, got, st.want)
				}
				checkRoundTrip(t, e.rec.last(t).ResponseBody, show)
			}
		})
	}

	t.Run("stopping them again is refused", func(t *testing.T) {
		_, err := client.BatchDevServersAction(&model.BatchDevServersActionRequest{Body: &model.DevServerBatchRequest{
			Type: model.GetDevServerBatchRequestTypeEnum().STOP, Servers: ids,
		}})
		checkServiceError(t, err, 400, "ModelArts.7000", "STOPPED")
	})
}

// checkServiceError asserts err is the SDK's ServiceResponseError with the
// given status, code, a message containing msgPart, and a request id.
func checkServiceError(t *testing.T, err error, status int, code, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want HTTP %d %s", status, code)
	}
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T (%v), not *sdkerr.ServiceResponseError", err, err)
	}
	if se.StatusCode != status || se.ErrorCode != code {
		t.Errorf("SDK error = HTTP %d %q, want HTTP %d %q (message %q)", se.StatusCode, se.ErrorCode, status, code, se.ErrorMessage)
	}
	if !strings.Contains(se.ErrorMessage, msgPart) {
		t.Errorf("SDK error message %q does not mention %q", se.ErrorMessage, msgPart)
	}
	if !requestIDPattern.MatchString(se.RequestId) {
		t.Errorf("SDK error RequestId = %q, want 32 lower-case hex characters", se.RequestId)
	}
}

func TestSDKErrors(t *testing.T) {
	e := startSimulator(t, 5)
	good := sdkClient(t, e.url, testAK, testSK)
	wrongSK := sdkClient(t, e.url, testAK, testSK+"x")
	wrongAK := sdkClient(t, e.url, "SOMEOTHERAK000000000", testSK)
	const unknown = "00000000-0000-4000-8000-000000000000"

	tests := []struct {
		name    string
		call    func() error
		status  int
		code    string
		msgPart string
	}{
		{
			name: "unknown server id", status: 400, code: "ModelArts.6404", msgPart: unknown,
			call: func() error { _, err := good.ShowDevServer(&model.ShowDevServerRequest{Id: unknown}); return err },
		},
		{
			name: "batch with an unknown server id", status: 400, code: "ModelArts.6404", msgPart: unknown,
			call: func() error {
				_, err := good.BatchDevServersAction(&model.BatchDevServersActionRequest{Body: &model.DevServerBatchRequest{
					Type: model.GetDevServerBatchRequestTypeEnum().REBOOT, Servers: []model.BatchActionDevServerIds{{Id: unknown}},
				}})
				return err
			},
		},
		{
			name: "wrong secret key", status: 401, code: "APIGW.0301", msgPart: "",
			call: func() error { _, err := wrongSK.ListDevServers(&model.ListDevServersRequest{}); return err },
		},
		{
			name: "wrong secret key on a POST", status: 401, code: "APIGW.0301", msgPart: "",
			call: func() error {
				_, err := wrongSK.BatchDevServersAction(&model.BatchDevServersActionRequest{Body: &model.DevServerBatchRequest{
					Type: model.GetDevServerBatchRequestTypeEnum().STOP, Servers: []model.BatchActionDevServerIds{{Id: unknown}},
				}})
				return err
			},
		},
		{
			name: "unknown access key", status: 401, code: "APIGW.0301", msgPart: "",
			call: func() error { _, err := wrongAK.ListDevServers(&model.ListDevServersRequest{}); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkServiceError(t, tt.call(), tt.status, tt.code, tt.msgPart)
			if ex := e.rec.last(t); ex.Status != tt.status {
				t.Errorf("simulator answered HTTP %d", ex.Status)
			}
		})
	}
	if got := len(e.sim.Servers()); got != 5 {
		t.Errorf("fleet has %d servers after the failed calls, want 5", got)
	}
}

// TestSDKAgainstSimulatorCommand runs the standalone simulator server (what
// `console simulator --addr ... --ak ... --sk ...` runs)
// on a free loopback port and drives it with the official client.
func TestSDKAgainstSimulatorCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testutil.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- simulator.ListenAndServe(ctx, "127.0.0.1:0", simulator.Options{
			AK: testAK, SK: testSK, ProjectID: testProject, Servers: 8, Transition: 200 * time.Millisecond,
		}, slog.New(slog.NewTextHandler(&logs, nil)))
	}()

	endpointRE := regexp.MustCompile(`endpoint=(http://127\.0\.0\.1:\d+)`)
	var endpoint string
	for deadline := time.Now().Add(10 * time.Second); endpoint == "" && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("simulator command exited early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := endpointRE.FindStringSubmatch(logs.String()); m != nil {
			endpoint = m[1]
		}
	}
	if endpoint == "" {
		t.Fatalf("simulator command never logged its endpoint:\n%s", logs.String())
	}

	client := sdkClient(t, endpoint, testAK, testSK)
	resp, err := client.ListDevServers(&model.ListDevServersRequest{Limit: ptr[int32](3)})
	if err != nil {
		t.Fatalf("ListDevServers: %v", err)
	}
	if got, want := fmt.Sprint(deref(resp.Total), len(deref(resp.Data)), deref(resp.Pages)), "8 3 3"; got != want {
		t.Errorf("total, page length, pages = %s, want %s", got, want)
	}
	_, err = sdkClient(t, endpoint, testAK, "not-the-secret").ListDevServers(&model.ListDevServersRequest{})
	checkServiceError(t, err, 401, "APIGW.0301", "")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("simulator command: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("simulator command did not stop after cancel")
	}
}
