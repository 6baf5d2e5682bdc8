package modelarts_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

// specPage is a 200 answer of the batch-action API holding every field of
// tables 5 to 12 of the API page, each with a value that is not the zero
// value, under exactly the documented name.
const specPage = `{
  "current": 1, "pages": 1, "size": 1, "total": 1,
  "data": [{
    "create_at": 1699352013484,
    "update_at": 1699352058465,
    "charging_mode": "PRE_PAID",
    "cloud_server": {"id": "eb8b4e32-afc9-4f71-8372-1f55f3d7ab28", "type": "HPS",
      "hps_id": "0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3", "hps_ecs_id": "1c2d3e4f-5061-4b7c-9d8e-9fa0b1c2d3e4"},
    "endpoints_response": [{"allowed_access_ips": ["203.0.113.7"], "dev_service": "SSH",
      "extensions": {"ssh_port": "22"}, "ssh_keys": ["KeyPair-dev"]}],
    "flavor": "ascend-snt9c.48xlarge.hps",
    "id": "c65c4f27-f791-452b-9098-a2726fa2e922",
    "key_pair_name": "KeyPair-dev",
    "name": "hps-pod01-node01-001",
    "order_id": "CS2311071533ABCDE",
    "server_image_response": {"arch": "ARM", "image_id": "c90fb553-2cdb-4b81-b56a-ef68812c6cf7",
      "name": "EulerOS2.10_arm_HPS", "server_type": "HPS", "status": "INACTIVE"},
    "status": "REINSTALLINGOS_FAILED",
    "vpc_id": "05982b48-a70f-43a1-a2b0-1fe36a236172",
    "endpoints": [{"allowed_access_ips": ["198.51.100.0"], "dev_service": "NOTEBOOK",
      "ssh_keys": ["KeyPair-dev"], "service": "SSH", "uri": "192.168.0.23"}],
    "volumes": [{"size": 100, "type": "ROOT", "evs_type": "ESSD", "evs_id": "2d3e4f50-6172-4c8d-ae9f-a0b1c2d3e4f5"},
      {"size": 1024, "type": "DATA", "evs_type": "SATA", "evs_id": "3e4f5061-7283-4d9e-bfa0-b1c2d3e4f506"}],
    "image": {"arch": "ARM", "image_id": "4f506172-8394-4eaf-80b1-c2d3e4f50617",
      "name": "EulerOS2.12_arm_HPS", "server_type": "HPS", "status": "ACTIVE"},
    "category": "HPS",
    "server_hps": {"id": "5061728f-94a5-4fb0-91c2-d3e4f5061728", "name": "hps-pod01"},
    "subnet_id": "61728394-a5b6-4c01-a2d3-e4f506172839"
  }]
}`

// TestClientDecodesEveryDocumentedField sends the client a page with every
// documented field set and checks that the decoded value re-encodes to the
// same JSON: every field is decoded, under its documented name, and the
// simulator (which encodes these same types) sends those names.
func TestClientDecodesEveryDocumentedField(t *testing.T) {
	tests := []struct {
		name string
		call func(c *modelarts.Client) (any, error)
		body string
		// server: the call answers the server object of specPage, not the page.
		server bool
	}{
		{
			name: "list page",
			call: func(c *modelarts.Client) (any, error) { return c.ListServersPage(context.Background(), 10, 0) },
			body: specPage,
		},
		{
			name: "batch action page",
			call: func(c *modelarts.Client) (any, error) {
				return c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchStop,
					Servers: []modelarts.BatchServerID{{ID: "c65c4f27-f791-452b-9098-a2726fa2e922"}}}, nil)
			},
			body: specPage,
		},
	}
	var page map[string]any
	if err := json.Unmarshal([]byte(specPage), &page); err != nil {
		t.Fatal(err)
	}
	server, err := json.Marshal(page["data"].([]any)[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if tt.server {
				body = string(server)
			}
			fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("X-Request-Id", "0123456789abcdef0123456789abcdef")
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				io.WriteString(w, body)
			})
			c, _ := newTestClient(t, fc.URL)
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var want, reencoded any
			if err := json.Unmarshal([]byte(body), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &reencoded); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, reencoded); diff != "" {
				t.Errorf("decoded value does not re-encode to the documented JSON (-documented +client):\n%s", diff)
			}
		})
	}
}

// TestBatchRequestWireNames checks the request body uses exactly the names of
// tables 2 to 4 of the API page.
func TestBatchRequestWireNames(t *testing.T) {
	req := modelarts.BatchRequest{
		Type:    modelarts.BatchChangeOS,
		Servers: []modelarts.BatchServerID{{ID: "b6dfd2ba-ac27-49cc-9fa5-750a1ad6342e"}},
		ExtendParam: &modelarts.ServerOSRequest{AdminPass: "x", KeyPairName: "k",
			ImageID: "c90fb553-2cdb-4b81-b56a-ef68812c6cf7", UserData: "IyEvYmluL2Jhc2g="},
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type":    "CHANGEOS",
		"servers": []any{map[string]any{"id": "b6dfd2ba-ac27-49cc-9fa5-750a1ad6342e"}},
		"extend_param": map[string]any{"admin_pass": "x", "key_pair_name": "k",
			"image_id": "c90fb553-2cdb-4b81-b56a-ef68812c6cf7", "user_data": "IyEvYmluL2Jhc2g="},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch request JSON (-spec +got):\n%s", diff)
	}
}
