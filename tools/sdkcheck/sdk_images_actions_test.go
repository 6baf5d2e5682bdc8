package sdkcheck_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/devserver-console/console/internal/modelarts"
)

// TestSDKListDevServerImages reads the image catalog (the list a CHANGEOS
// picks from) with the official client. The SDK model, like Huawei's
// ListDevServerImages page, expects the page wrapper {current, data, pages,
// size, total}, not a bare array.
func TestSDKListDevServerImages(t *testing.T) {
	e := startSimulator(t, 10)
	client := sdkClient(t, e.url, testAK, testSK)
	all := e.sim.Images()
	var armBMSFlavor string
	for _, s := range e.sim.Servers() {
		if s.Type() == modelarts.ServerTypeBMS && s.Arch() == modelarts.ArchARM {
			armBMSFlavor = s.Flavor
			break
		}
	}
	if armBMSFlavor == "" {
		t.Fatal("the seeded fleet has no ARM BMS server")
	}

	tests := []struct {
		name   string
		req    model.ListDevServerImagesRequest
		wantFn func(modelarts.ServerImageResponse) bool
	}{
		{name: "every image", wantFn: func(modelarts.ServerImageResponse) bool { return true }},
		{name: "ECS images", req: model.ListDevServerImagesRequest{ServerType: ptr("ECS")},
			wantFn: func(i modelarts.ServerImageResponse) bool { return i.ServerType == modelarts.ServerTypeECS }},
		{name: "images for an ARM BMS flavor", req: model.ListDevServerImagesRequest{FlavorName: ptr(armBMSFlavor)},
			wantFn: func(i modelarts.ServerImageResponse) bool {
				return i.ServerType == modelarts.ServerTypeBMS && i.Arch == modelarts.ArchARM
			}},
		{name: "unknown flavor", req: model.ListDevServerImagesRequest{FlavorName: ptr("no such flavor")},
			wantFn: func(modelarts.ServerImageResponse) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.ListDevServerImages(&tt.req)
			if err != nil {
				t.Fatalf("ListDevServerImages: %v\nsimulator answered: %.300s", err, e.rec.last(t).ResponseBody)
			}
			checkRoundTrip(t, e.rec.last(t).ResponseBody, resp)
			var want []string
			for _, img := range all {
				if tt.wantFn(img) {
					want = append(want, img.ImageID)
				}
			}
			var got []string
			arch := enumValues(model.GetServerImageResponseArchEnum())
			st := enumValues(model.GetServerImageResponseServerTypeEnum())
			for _, img := range deref(resp.Data) {
				got = append(got, deref(img.ImageId))
				if !arch[img.Arch.Value()] || !st[img.ServerType.Value()] {
					t.Errorf("image %s: arch %s / server_type %s not in the SDK's enums", deref(img.ImageId), img.Arch.Value(), img.ServerType.Value())
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
			if got := deref(resp.Total); got != int64(len(want)) {
				t.Errorf("total = %d, want %d", got, len(want))
			}
		})
	}
}

// TestSDKEveryAction sends each batch type, and the single-server calls,
// through the official client to one eligible server, and checks every
// answer (including each transient status) decodes into the SDK's models
// without loss.
func TestSDKEveryAction(t *testing.T) {
	e := startSimulator(t, 40)
	client := sdkClient(t, e.url, testAK, testSK)
	types := model.GetDevServerBatchRequestTypeEnum()
	used := map[string]bool{}

	// pick returns an eligible, not yet used, non-supernode server for t.
	pick := func(t *testing.T, bt modelarts.BatchType) modelarts.ServerResponse {
		t.Helper()
		for _, s := range e.sim.Servers() {
			if ok, _ := modelarts.Eligible(bt, &s); ok && !used[s.ID] && !s.IsSupernode() {
				used[s.ID] = true
				return s
			}
		}
		t.Fatalf("no server is eligible for %s", bt)
		return modelarts.ServerResponse{}
	}
	// imageFor returns an ACTIVE image matching the server's type and arch.
	imageFor := func(t *testing.T, s modelarts.ServerResponse) string {
		t.Helper()
		for _, img := range e.sim.Images() {
			if img.Status == modelarts.ImageActive && img.ServerType == s.Type() && img.Arch == s.Arch() {
				return img.ImageID
			}
		}
		t.Fatalf("no image for %s/%s", s.Type(), s.Arch())
		return ""
	}

	batchTests := []struct {
		name      string
		bt        modelarts.BatchType
		sdkType   model.DevServerBatchRequestType
		osParams  bool
		transient string
	}{
		{name: "START", bt: modelarts.BatchStart, sdkType: types.START, transient: "STARTING"},
		{name: "STOP", bt: modelarts.BatchStop, sdkType: types.STOP, transient: "STOPPING"},
		{name: "REBOOT", bt: modelarts.BatchReboot, sdkType: types.REBOOT, transient: "REBOOTING"},
		{name: "CHANGEOS", bt: modelarts.BatchChangeOS, sdkType: types.CHANGEOS, osParams: true, transient: "CHANGINGOS"},
		{name: "REINSTALLOS", bt: modelarts.BatchReinstallOS, sdkType: types.REINSTALLOS, osParams: true, transient: "REINSTALLINGOS"},
		{name: "DELETE", bt: modelarts.BatchDelete, sdkType: types.DELETE, transient: "DELETING"},
	}
	for _, tt := range batchTests {
		t.Run("batch "+tt.name, func(t *testing.T) {
			s := pick(t, tt.bt)
			body := &model.DevServerBatchRequest{Type: tt.sdkType, Servers: []model.BatchActionDevServerIds{{Id: s.ID}}}
			if tt.osParams {
				body.ExtendParam = &model.ServerOsRequest{KeyPairName: ptr("sdkcheck-key")}
				if tt.bt == modelarts.BatchChangeOS {
					body.ExtendParam.ImageId = ptr(imageFor(t, s))
				}
			}
			resp, err := client.BatchDevServersAction(&model.BatchDevServersActionRequest{Body: body})
			if err != nil {
				t.Fatalf("BatchDevServersAction %s on %s (%s): %v", tt.name, s.Name, s.Status, err)
			}
			ex := e.rec.last(t)
			var sent map[string]any
			if err := json.Unmarshal(ex.Body, &sent); err != nil {
				t.Fatalf("SDK request body: %v", err)
			}
			if sent["type"] != tt.name {
				t.Errorf("SDK sent type %v", sent["type"])
			}
			checkRoundTrip(t, ex.ResponseBody, resp, "X-request-id")
			for _, raw := range rawServers(t, ex.ResponseBody) {
				checkServerEnums(t, raw)
			}
			data := deref(resp.Data)
			if len(data) != 1 || deref(data[0].Id) != s.ID || data[0].Status.Value() != tt.transient {
				t.Errorf("batch answer = %v, want server %s in %s", data, s.ID, tt.transient)
			}
		})
	}

	t.Run("single-server calls", func(t *testing.T) {
		stopped := pick(t, modelarts.BatchStart)
		start, err := client.StartDevServer(&model.StartDevServerRequest{Id: stopped.ID, Body: &model.ServerStartRequest{}})
		if err != nil {
			t.Fatalf("StartDevServer: %v", err)
		}
		checkRoundTrip(t, e.rec.last(t).ResponseBody, start)
		if got := start.Status.Value(); got != "STARTING" {
			t.Errorf("StartDevServer answered %s, want STARTING", got)
		}

		running := pick(t, modelarts.BatchStop)
		stop, err := client.StopDevServer(&model.StopDevServerRequest{Id: running.ID})
		if err != nil {
			t.Fatalf("StopDevServer: %v", err)
		}
		checkRoundTrip(t, e.rec.last(t).ResponseBody, stop)
		if got := stop.Status.Value(); got != "STOPPING" {
			t.Errorf("StopDevServer answered %s, want STOPPING", got)
		}

		toReboot := pick(t, modelarts.BatchReboot)
		reboot, err := client.RebootDevServer(&model.RebootDevServerRequest{Id: toReboot.ID})
		if err != nil {
			t.Fatalf("RebootDevServer: %v", err)
		}
		ex := e.rec.last(t)
		// RebootDevServerResponse also stores the X-Request-Id header.
		checkRoundTrip(t, ex.ResponseBody, reboot, "X-Request-Id")
		if got, want := deref(reboot.XRequestId), ex.RespHeader.Get("X-Request-Id"); got == "" || got != want {
			t.Errorf("RebootDevServer XRequestId = %q, header X-Request-Id = %q", got, want)
		}
		if got := reboot.Status.Value(); got != "REBOOTING" {
			t.Errorf("RebootDevServer answered %s, want REBOOTING", got)
		}
	})
}
