package simulator_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

func TestListPaging(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{Servers: 95})
	all := sim.Servers()
	allIDs := make([]string, len(all))
	for i, s := range all {
		allIDs[i] = s.ID
	}
	reversed := slices.Clone(allIDs)
	slices.Reverse(reversed)

	tests := []struct {
		name      string
		query     string
		wantIDs   []string
		wantPage  [4]int // current, pages, size, total
		wantCount int
	}{
		{"defaults", "", allIDs[:10], [4]int{1, 10, 10, 95}, 10},
		{"limit-zero-means-default", "?limit=0", allIDs[:10], [4]int{1, 10, 10, 95}, 10},
		{"second-page", "?limit=20&offset=20", allIDs[20:40], [4]int{2, 5, 20, 95}, 20},
		{"last-partial-page", "?limit=20&offset=80", allIDs[80:], [4]int{5, 5, 20, 95}, 15},
		{"past-the-end", "?limit=20&offset=200", nil, [4]int{11, 5, 20, 95}, 0},
		{"max-limit", "?limit=1024", allIDs, [4]int{1, 1, 1024, 95}, 95},
		{"desc", "?limit=5&sort_dir=DESC", reversed[:5], [4]int{1, 19, 5, 95}, 5},
		{"desc-lower-case", "?limit=5&offset=5&sort_dir=desc", reversed[5:10], [4]int{2, 19, 5, 95}, 5},
		{"explicit-create-time", "?limit=3&sort_key=createTime&sort_dir=ASC", allIDs[:3], [4]int{1, 32, 3, 95}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page modelarts.ServerPage
			decode(t, do(t, sim, http.MethodGet, path(tt.query), nil), &page)
			got := [4]int{page.Current, page.Pages, page.Size, int(page.Total)}
			if got != tt.wantPage {
				t.Errorf("current/pages/size/total = %v, want %v", got, tt.wantPage)
			}
			var ids []string
			for _, s := range page.Data {
				ids = append(ids, s.ID)
			}
			if len(ids) != tt.wantCount {
				t.Errorf("got %d servers, want %d", len(ids), tt.wantCount)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("empty-page-has-data-array", func(t *testing.T) {
		res := do(t, sim, http.MethodGet, path("?offset=500"), nil)
		if !strings.Contains(string(res.body), `"data":[]`) {
			t.Errorf("empty page body %s has no \"data\":[]", res.body)
		}
	})

	t.Run("walk-every-page", func(t *testing.T) {
		var seen []string
		for offset := 0; ; offset += 7 {
			var page modelarts.ServerPage
			decode(t, do(t, sim, http.MethodGet, path(fmt.Sprintf("?limit=7&offset=%d", offset)), nil), &page)
			if len(page.Data) == 0 {
				break
			}
			for _, s := range page.Data {
				seen = append(seen, s.ID)
			}
		}
		if diff := cmp.Diff(allIDs, seen); diff != "" {
			t.Errorf("walking pages did not give every server once (-want +got):\n%s", diff)
		}
	})
}

func TestListSortByUpdateTime(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{Transition: transition})
	clock.Advance(24 * time.Hour) // well after every generated update_at
	s := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
	decode(t, do(t, sim, http.MethodPut, path("/"+s.ID+"/stop"), nil), new(modelarts.ServerResponse))

	var asc, desc modelarts.ServerPage
	decode(t, do(t, sim, http.MethodGet, path("?limit=1024&sort_key=updateTime"), nil), &asc)
	decode(t, do(t, sim, http.MethodGet, path("?limit=1&sort_key=updateTime&sort_dir=DESC"), nil), &desc)
	for i := 1; i < len(asc.Data); i++ {
		if asc.Data[i-1].UpdateAt > asc.Data[i].UpdateAt {
			t.Fatalf("updateTime ASC out of order at %d: %d > %d", i, asc.Data[i-1].UpdateAt, asc.Data[i].UpdateAt)
		}
	}
	if last := asc.Data[len(asc.Data)-1]; last.ID != s.ID {
		t.Errorf("last by updateTime ASC is %s, want the server just stopped %s", last.Name, s.Name)
	}
	if len(desc.Data) != 1 || desc.Data[0].ID != s.ID {
		t.Errorf("first by updateTime DESC is not the server just stopped")
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	tests := []struct {
		name, query, wantInMsg string
	}{
		{"limit-too-big", "?limit=1025", "'limit'"},
		{"limit-negative", "?limit=-1", "'limit'"},
		{"limit-not-a-number", "?limit=ten", "'limit'"},
		{"offset-negative", "?offset=-5", "'offset'"},
		{"bad-sort-dir", "?sort_dir=UP", "'sort_dir'"},
		{"bad-sort-key", "?sort_key=name", "'sort_key'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := wantError(t, do(t, sim, http.MethodGet, path(tt.query), nil), http.StatusBadRequest, simulator.CodeBadParameter)
			if !strings.Contains(m["error_msg"], tt.wantInMsg) {
				t.Errorf("error_msg %q does not name %s", m["error_msg"], tt.wantInMsg)
			}
		})
	}
}

func TestListAllAndShow(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{Servers: 25})
	var page modelarts.ServerPage
	decode(t, do(t, sim, http.MethodGet, path("/all"), nil), &page)
	if page.Current != 1 || page.Pages != 1 || page.Size != 25 || page.Total != 25 {
		t.Errorf("/all page = current %d pages %d size %d total %d, want 1 1 25 25", page.Current, page.Pages, page.Size, page.Total)
	}
	if diff := cmp.Diff(sim.Servers(), page.Data); diff != "" {
		t.Errorf("/all differs from Servers() (-want +got):\n%s", diff)
	}
	for _, want := range page.Data[:3] {
		var got modelarts.ServerResponse
		decode(t, do(t, sim, http.MethodGet, path("/"+want.ID), nil), &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("show %s mismatch (-want +got):\n%s", want.ID, diff)
		}
	}
}

// TestWireFieldNames checks the JSON uses the API's field names, so Huawei's
// SDK and any other client decode it.
func TestWireFieldNames(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	var raw map[string]any
	decode(t, do(t, sim, http.MethodGet, path("?limit=1"), nil), &raw)
	for _, k := range []string{"current", "data", "pages", "size", "total"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("page has no %q", k)
		}
	}
	first := raw["data"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "status", "flavor", "charging_mode", "create_at", "update_at", "cloud_server",
		"image", "endpoints", "volumes", "category", "vpc_id", "subnet_id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("server has no %q: %v", k, first)
		}
	}
}

func TestImages(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	all := sim.Images()
	count := func(ok func(modelarts.ServerImageResponse) bool) int {
		n := 0
		for _, img := range all {
			if ok(img) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name  string
		query string
		want  func(modelarts.ServerImageResponse) bool
	}{
		{"all", "", func(modelarts.ServerImageResponse) bool { return true }},
		{"ecs", "?server_type=ECS", func(i modelarts.ServerImageResponse) bool { return i.ServerType == modelarts.ServerTypeECS }},
		{"hps", "?server_type=HPS", func(i modelarts.ServerImageResponse) bool { return i.ServerType == modelarts.ServerTypeHPS }},
		{"ascend-flavor", "?flavor_name=ascend-snt9b.8xlarge.32", func(i modelarts.ServerImageResponse) bool {
			return i.ServerType == modelarts.ServerTypeBMS && i.Arch == modelarts.ArchARM
		}},
		{"ecs-flavor-and-type", "?flavor_name=c7.2xlarge.4&server_type=ECS", func(i modelarts.ServerImageResponse) bool {
			return i.ServerType == modelarts.ServerTypeECS && i.Arch == modelarts.ArchX86
		}},
		{"contradicting-type", "?flavor_name=c7.2xlarge.4&server_type=BMS", func(modelarts.ServerImageResponse) bool { return false }},
		{"unknown-flavor", "?flavor_name=nope.large.1", func(modelarts.ServerImageResponse) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, sim, http.MethodGet, path("/images"+tt.query), nil)
			// The page wrapper of ListDevServerImages (Huawei's API page and
			// the official SDK's model), with "data":[] when nothing matches.
			var page struct {
				Current, Pages, Size int
				Total                int64
				Data                 *[]modelarts.ServerImageResponse
			}
			decode(t, res, &page)
			if page.Data == nil {
				t.Fatalf("body has no \"data\" array: %.60s", res.body)
			}
			got := *page.Data
			want := count(tt.want)
			if len(got) != want {
				t.Errorf("got %d images, want %d", len(got), want)
			}
			if page.Current != 1 || page.Pages != 1 || page.Size != want || page.Total != int64(want) {
				t.Errorf("page wrapper current=%d pages=%d size=%d total=%d, want 1, 1, %d, %d",
					page.Current, page.Pages, page.Size, page.Total, want, want)
			}
			for _, img := range got {
				if !tt.want(img) {
					t.Errorf("image %+v does not match the filter", img)
				}
			}
		})
	}
	t.Run("bad-server-type", func(t *testing.T) {
		wantError(t, do(t, sim, http.MethodGet, path("/images?server_type=VM"), nil), http.StatusBadRequest, simulator.CodeBadParameter)
	})
	t.Run("has-inactive", func(t *testing.T) {
		if count(func(i modelarts.ServerImageResponse) bool { return i.Status == modelarts.ImageInactive }) == 0 {
			t.Error("catalog has no INACTIVE image")
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	s := sim.Servers()[0]
	tests := []struct{ name, method, path string }{
		{"root", http.MethodGet, "/"},
		{"other-service", http.MethodGet, "/v1/" + project + "/notebooks"},
		{"v2", http.MethodGet, "/v2/" + project + "/dev-servers"},
		{"create-not-simulated", http.MethodPost, path("")},
		{"patch", http.MethodPatch, path("/" + s.ID)},
		{"post-to-server", http.MethodPost, path("/" + s.ID)},
		{"get-start", http.MethodGet, path("/" + s.ID + "/start")},
		{"unknown-action-path", http.MethodPut, path("/" + s.ID + "/hibernate")},
		{"trailing-slash", http.MethodGet, path("/")},
		{"too-deep", http.MethodGet, path("/" + s.ID + "/stop/now")},
		{"no-project", http.MethodGet, "/v1//dev-servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, sim, tt.method, tt.path, nil)
			m := wantError(t, res, http.StatusNotFound, simulator.CodeNoSuchAPI)
			if m["request_id"] != res.header.Get("X-Request-Id") {
				t.Errorf("gateway error request_id %q != X-Request-Id %q", m["request_id"], res.header.Get("X-Request-Id"))
			}
		})
	}
}

func TestProjectScope(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{ProjectID: project})
	other := "ffffffffffffffffffffffffffffffff"
	run := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
	tests := []struct {
		name, method, path, header string
		body                       any
		wantStatus                 int
	}{
		{"own-project", http.MethodGet, path(""), "", nil, http.StatusOK},
		{"own-project-and-header", http.MethodGet, path(""), project, nil, http.StatusOK},
		{"other-project-in-path", http.MethodGet, "/v1/" + other + "/dev-servers", "", nil, http.StatusForbidden},
		{"other-project-in-header", http.MethodGet, path("/all"), other, nil, http.StatusForbidden},
		{"other-project-batch", http.MethodPost, "/v1/" + other + "/dev-servers/action", "", batch(modelarts.BatchStop, nil, run.ID), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					r.Header.Set("X-Project-Id", tt.header)
				}
				sim.ServeHTTP(w, r)
			})
			res := do(t, h, tt.method, tt.path, tt.body)
			if tt.wantStatus == http.StatusOK {
				decode(t, res, new(modelarts.ServerPage))
				return
			}
			m := wantError(t, res, tt.wantStatus, simulator.CodeForbidden)
			if !strings.Contains(m["error_msg"], other) {
				t.Errorf("error_msg %q does not name the refused project", m["error_msg"])
			}
		})
	}
	if got, _ := sim.Server(run.ID); got.Status != modelarts.StatusRunning {
		t.Errorf("a batch for another project changed server %s to %s", run.ID, got.Status)
	}

	t.Run("any-project-without-project-id", func(t *testing.T) {
		open, _ := newSim(t, simulator.Options{})
		decode(t, do(t, open, http.MethodGet, "/v1/"+other+"/dev-servers", nil), new(modelarts.ServerPage))
	})
}

func TestTestHooks(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	s := sim.Servers()[0]
	const hostile = `<script>alert("x")</script>&amp;`
	if err := sim.SetServerName(s.ID, hostile); err != nil {
		t.Fatalf("SetServerName: %v", err)
	}
	if err := sim.SetServerName("00000000-0000-4000-8000-000000000000", "x"); err == nil {
		t.Error("SetServerName of an unknown id returned no error")
	}
	res := do(t, sim, http.MethodGet, path("/"+s.ID), nil)
	if !strings.Contains(string(res.body), `"name":"<script>alert(\"x\")</script>&amp;"`) {
		t.Errorf("hostile name not served verbatim (as the cloud would): %s", res.body)
	}
	var got modelarts.ServerResponse
	decode(t, res, &got)
	if got.Name != hostile {
		t.Errorf("name = %q, want %q", got.Name, hostile)
	}

	img := modelarts.ServerImageResponse{Arch: modelarts.ArchX86, Name: `"><img src=x onerror=alert(1)>`, ServerType: modelarts.ServerTypeECS, Status: modelarts.ImageActive}
	sim.AddImage(img)
	var page struct {
		Data []modelarts.ServerImageResponse
	}
	decode(t, do(t, sim, http.MethodGet, path("/images?server_type=ECS"), nil), &page)
	found := false
	for _, i := range page.Data {
		if i.Name == img.Name {
			found = true
			if !modelarts.IsUUID(i.ImageID) {
				t.Errorf("added image got id %q, want a UUID", i.ImageID)
			}
		}
	}
	if !found {
		t.Error("added image is not listed")
	}

	// Copies returned to tests do not alias the simulator's state.
	copyOf, _ := sim.Server(s.ID)
	copyOf.Image.Name = "mutated"
	copyOf.Volumes[0].Size = 1
	again, _ := sim.Server(s.ID)
	if again.Image.Name == "mutated" || again.Volumes[0].Size == 1 {
		t.Error("changing a returned server changed the simulator")
	}
}

func TestRequestLog(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	run := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
	do(t, sim, http.MethodGet, path("?limit=2"), nil)
	do(t, sim, http.MethodGet, path("/"+run.ID), nil)
	if n := sim.MutatingRequests(); n != 0 {
		t.Fatalf("MutatingRequests after two reads = %d, want 0", n)
	}
	body := batch(modelarts.BatchStop, nil, run.ID)
	do(t, sim, http.MethodPost, path("/action"), body)
	do(t, sim, http.MethodPut, path("/"+run.ID+"/stop"), nil) // refused: still counted
	if n := sim.MutatingRequests(); n != 2 {
		t.Fatalf("MutatingRequests = %d, want 2", n)
	}
	if n := sim.RequestCount(); n != 4 {
		t.Fatalf("RequestCount = %d, want 4", n)
	}
	reqs := sim.Requests()
	if len(reqs) != 4 {
		t.Fatalf("Requests() has %d entries, want 4", len(reqs))
	}
	post := reqs[2]
	want, _ := json.Marshal(body)
	if post.Method != http.MethodPost || post.Path != path("/action") || !post.Mutating || string(post.Body) != string(want) {
		t.Errorf("recorded POST = %s %s mutating=%v body %s; want POST %s true %s", post.Method, post.Path, post.Mutating, post.Body, path("/action"), want)
	}
	if reqs[0].RawQuery != "limit=2" || reqs[0].Mutating {
		t.Errorf("recorded GET = query %q mutating=%v", reqs[0].RawQuery, reqs[0].Mutating)
	}
	if !requestIDRE.MatchString(post.RequestID) {
		t.Errorf("recorded request id %q", post.RequestID)
	}
	sim.ResetRequests()
	if sim.MutatingRequests() != 0 || sim.RequestCount() != 0 || len(sim.Requests()) != 0 {
		t.Error("ResetRequests left entries or counts")
	}
}

func TestOptionsHideSecretKey(t *testing.T) {
	opts := simulator.Options{AK: "AKVISIBLE", SK: "very-secret-sk"}
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("start", "opts", opts)
	for _, s := range []string{fmt.Sprint(opts), fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), buf.String()} {
		if strings.Contains(s, "very-secret-sk") {
			t.Errorf("secret key printed: %s", s)
		}
		if !strings.Contains(s, "AKVISIBLE") {
			t.Errorf("access key missing from %s", s)
		}
	}
}
