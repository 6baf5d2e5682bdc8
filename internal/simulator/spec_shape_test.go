package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// specField is one field of an object as the batch-action API page
// (../shared/spec/batch-devserver-action-api.txt) documents it: its JSON
// type and, where the page states them, its allowed values.
type specField struct {
	kind     string         // string, int, object, array (of objects), strings, map (string to string)
	object   string         // for object and array: the documented object
	enum     []string       // allowed values of a string
	re       *regexp.Regexp // pattern of a string
	min, max float64        // range of an int (max 0: unbounded)
}

var (
	specUUID    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	specName    = regexp.MustCompile(`^[-_.a-zA-Z0-9]{1,64}$`)
	specOrderID = regexp.MustCompile(`^[a-zA-Z0-9]{1,64}$`)
	specFlavor  = regexp.MustCompile(`^.{1,128}$`)
	specImage   = regexp.MustCompile(`^.{1,256}$`)
	specText    = regexp.MustCompile(`^.+$`)

	specServerTypes = []string{"BMS", "ECS", "HPS"}
	specServices    = []string{"NOTEBOOK", "SSH"}
)

// specObjects transcribes tables 5 to 14 of the API page. "gateway_error" is
// the API Gateway's error body: the same two fields plus request_id
// (reference §7).
var specObjects = map[string]map[string]specField{
	"page": { // Table 5
		"current": {kind: "int", min: 1, max: 2097152},
		"data":    {kind: "array", object: "server"},
		"pages":   {kind: "int", min: 1, max: 2097152},
		"size":    {kind: "int", min: 1, max: 1024},
		"total":   {kind: "int", min: 1, max: 2147483647},
	},
	"server": { // Table 6
		"create_at":             {kind: "int", min: 1},
		"update_at":             {kind: "int", min: 1},
		"charging_mode":         {kind: "string", enum: []string{"COMMON", "POST_PAID", "PRE_PAID"}},
		"cloud_server":          {kind: "object", object: "cloud_server"},
		"endpoints_response":    {kind: "array", object: "endpoints"},
		"flavor":                {kind: "string", re: specFlavor},
		"id":                    {kind: "string", re: specUUID},
		"key_pair_name":         {kind: "string", re: specName},
		"name":                  {kind: "string", re: specName},
		"order_id":              {kind: "string", re: specOrderID},
		"server_image_response": {kind: "object", object: "image"},
		"status":                {kind: "string", enum: statusNames()},
		"vpc_id":                {kind: "string", re: specUUID},
		"endpoints":             {kind: "array", object: "endpoints_res"},
		"volumes":               {kind: "array", object: "volume"},
		"image":                 {kind: "object", object: "image"},
		"category":              {kind: "string", enum: []string{"HPS", "SPOD", "SERVER"}},
		"server_hps":            {kind: "object", object: "server_hps"},
		"subnet_id":             {kind: "string", re: specUUID},
	},
	"cloud_server": { // Table 7
		"id":         {kind: "string", re: specUUID},
		"type":       {kind: "string", enum: specServerTypes},
		"hps_id":     {kind: "string", re: specUUID},
		"hps_ecs_id": {kind: "string", re: specUUID},
	},
	"endpoints": { // Table 8
		"allowed_access_ips": {kind: "strings"},
		"dev_service":        {kind: "string", enum: specServices},
		"extensions":         {kind: "map"},
		"ssh_keys":           {kind: "strings"},
	},
	"endpoints_res": { // Table 9
		"allowed_access_ips": {kind: "strings"},
		"dev_service":        {kind: "string", enum: specServices},
		"ssh_keys":           {kind: "strings"},
		"service":            {kind: "string", enum: specServices},
		"uri":                {kind: "string", re: specText},
	},
	"volume": { // Table 10
		"size":     {kind: "int", min: 100, max: 1024},
		"type":     {kind: "string", enum: []string{"ROOT", "DATA"}},
		"evs_type": {kind: "string", enum: []string{"ESSD", "GPSSD", "SAS", "SATA", "SSD"}},
		"evs_id":   {kind: "string", re: specUUID},
	},
	"image": { // Table 11
		"arch":        {kind: "string", enum: []string{"ARM", "X86"}},
		"image_id":    {kind: "string", re: specUUID},
		"name":        {kind: "string", re: specImage},
		"server_type": {kind: "string", enum: specServerTypes},
		"status":      {kind: "string", enum: []string{"ACTIVE", "INACTIVE"}},
	},
	// ListDevServerImages answers the same page wrapper around images
	// (its API page, table 3; the SDK's ListDevServerImagesResponse).
	"image_page": {
		"current": {kind: "int", min: 1, max: 2097152},
		"data":    {kind: "array", object: "image"},
		"pages":   {kind: "int", min: 1, max: 2097152},
		"size":    {kind: "int", min: 1, max: 2147483647},
		"total":   {kind: "int", min: 1, max: 2147483647},
	},
	"server_hps": { // Table 12
		"id":   {kind: "string", re: specUUID},
		"name": {kind: "string", re: specName},
	},
	"error": { // Tables 14, 16, 18, 20
		"error_code": {kind: "string", re: specText},
		"error_msg":  {kind: "string", re: specText},
	},
	"gateway_error": {
		"error_code": {kind: "string", re: specText},
		"error_msg":  {kind: "string", re: specText},
		"request_id": {kind: "string", re: requestIDRE},
	},
}

func statusNames() []string {
	var out []string
	for _, s := range modelarts.Statuses {
		out = append(out, string(s))
	}
	return out
}

// shapeChecker checks JSON values against specObjects and remembers which
// documented fields it saw.
type shapeChecker struct {
	t    *testing.T
	seen map[string]map[string]bool
}

func (c *shapeChecker) object(where, name string, v any) {
	c.t.Helper()
	spec, ok := specObjects[name]
	if !ok {
		c.t.Fatalf("no spec for object %q", name)
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.t.Errorf("%s: %T, want a JSON object (%s)", where, v, name)
		return
	}
	if c.seen[name] == nil {
		c.seen[name] = map[string]bool{}
	}
	for k, val := range m {
		f, ok := spec[k]
		if !ok {
			c.t.Errorf("%s: field %q is not documented for %s", where, k, name)
			continue
		}
		c.seen[name][k] = true
		c.field(where+"."+k, f, val)
	}
}

func (c *shapeChecker) field(where string, f specField, v any) {
	c.t.Helper()
	switch f.kind {
	case "string":
		s, ok := v.(string)
		switch {
		case !ok:
			c.t.Errorf("%s: %T, want a string", where, v)
		case f.enum != nil && !slices.Contains(f.enum, s):
			c.t.Errorf("%s: %q is not one of %v", where, s, f.enum)
		case f.re != nil && !f.re.MatchString(s):
			c.t.Errorf("%s: %q does not match %s", where, s, f.re)
		}
	case "int":
		n, ok := v.(float64)
		switch {
		case !ok || n != math.Trunc(n):
			c.t.Errorf("%s: %v, want an integer", where, v)
		case n < f.min || (f.max > 0 && n > f.max):
			c.t.Errorf("%s: %v is outside %v..%v", where, n, f.min, f.max)
		}
	case "object":
		c.object(where, f.object, v)
	case "array":
		a, ok := v.([]any)
		if !ok {
			c.t.Errorf("%s: %T, want an array", where, v)
			return
		}
		for i, e := range a {
			c.object(fmt.Sprintf("%s[%d]", where, i), f.object, e)
		}
	case "strings":
		a, ok := v.([]any)
		if !ok {
			c.t.Errorf("%s: %T, want an array of strings", where, v)
			return
		}
		for i, e := range a {
			if _, ok := e.(string); !ok {
				c.t.Errorf("%s[%d]: %T, want a string", where, i, e)
			}
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			c.t.Errorf("%s: %T, want an object of strings", where, v)
			return
		}
		for k, e := range m {
			if _, ok := e.(string); !ok {
				c.t.Errorf("%s.%s: %T, want a string", where, k, e)
			}
		}
	default:
		c.t.Fatalf("%s: unknown kind %q", where, f.kind)
	}
}

// TestWireShapeMatchesSpec checks every response body the simulator sends
// against the API page: only documented field names, with the documented
// JSON types, enums, patterns and ranges, so the console's client and
// Huawei's SDK decode the simulator exactly as they decode the cloud.
func TestWireShapeMatchesSpec(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{Servers: 200, Seed: 3})
	c := &shapeChecker{t: t, seen: map[string]map[string]bool{}}
	generic := func(r response) any {
		t.Helper()
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		return v
	}
	ok := func(r response) any {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d, body %s", r.status, r.body)
		}
		return generic(r)
	}

	// Reads.
	c.object("GET /all", "page", ok(do(t, sim, http.MethodGet, path("/all"), nil)))
	c.object("GET ?limit=7&offset=3", "page", ok(do(t, sim, http.MethodGet, path("?limit=7&offset=3&sort_dir=DESC"), nil)))
	servers := sim.Servers()
	for _, s := range servers[:10] {
		c.object("GET /"+s.ID, "server", ok(do(t, sim, http.MethodGet, path("/"+s.ID), nil)))
	}
	c.object("GET /images", "image_page", ok(do(t, sim, http.MethodGet, path("/images"), nil)))

	// State changes: a batch answers a page, a single-server call a server.
	running := pickN(t, sim, 3, "running and pay-per-use", postPaidWith(modelarts.StatusRunning))
	c.object("POST /action", "page", ok(do(t, sim, http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, running[0].ID, running[1].ID))))
	c.object("PUT /{id}/reboot", "server", ok(do(t, sim, http.MethodPut, path("/"+running[2].ID+"/reboot"), nil)))

	// Errors: ModelArts' own and the gateway's.
	for _, tt := range []struct {
		name, method, path, object string
		body                       any
	}{
		{name: "unknown id", method: http.MethodGet, path: path("/00000000-0000-4000-8000-000000000000"), object: "error"},
		{name: "invalid state", method: http.MethodPost, path: path("/action"), object: "error", body: batch(modelarts.BatchStart, nil, running[0].ID)},
		{name: "bad body", method: http.MethodPost, path: path("/action"), object: "error", body: `{"type":`},
		{name: "no such API", method: http.MethodGet, path: "/v2/nothing", object: "gateway_error"},
	} {
		r := do(t, sim, tt.method, tt.path, tt.body)
		if r.status < 400 {
			t.Fatalf("%s: status %d, want an error", tt.name, r.status)
		}
		c.object(tt.name, tt.object, generic(r))
	}

	// The fleet exercises the documented fields the console relies on.
	for obj, fields := range map[string][]string{
		"page":          {"current", "data", "pages", "size", "total"},
		"image_page":    {"current", "data", "pages", "size", "total"},
		"server":        {"create_at", "update_at", "charging_mode", "cloud_server", "endpoints_response", "flavor", "id", "key_pair_name", "name", "order_id", "status", "vpc_id", "endpoints", "volumes", "image", "category", "server_hps", "subnet_id"},
		"cloud_server":  {"id", "type", "hps_id", "hps_ecs_id"},
		"endpoints":     {"dev_service", "ssh_keys"},
		"endpoints_res": {"service", "uri"},
		"volume":        {"size", "type", "evs_type", "evs_id"},
		"image":         {"arch", "image_id", "name", "server_type", "status"},
		"server_hps":    {"id", "name"},
	} {
		var missing []string
		for _, f := range fields {
			if !c.seen[obj][f] {
				missing = append(missing, f)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("no %s in any response carried %v", obj, missing)
		}
	}
}

// TestClientDecodesEverySimulatedField reads every server through the
// console's real client over HTTP and checks that (1) the decoded value is
// exactly the simulator's own Server(id), and (2) re-encoding it gives back
// the JSON that was on the wire, so no field the simulator sends is dropped
// by the client's types.
func TestClientDecodesEverySimulatedField(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{Servers: 60, Seed: 5})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client := newClient(t, srv.URL, project, modelarts.NoAuth(), &callLog{})
	ctx := context.Background()

	all, err := client.ListAllServers(ctx)
	if err != nil {
		t.Fatalf("ListAllServers: %v", err)
	}
	if len(all) != 60 {
		t.Fatalf("ListAllServers = %d servers, want the 60 simulated", len(all))
	}
	if diff := cmp.Diff(sim.Servers(), all); diff != "" {
		t.Fatalf("listed servers differ from the simulator's (-sim +client):\n%s", diff)
	}
	for _, want := range all {
		got, err := client.ShowServer(ctx, want.ID)
		if err != nil {
			t.Fatalf("ShowServer %s: %v", want.ID, err)
		}
		own, _ := sim.Server(want.ID)
		if diff := cmp.Diff(own, *got); diff != "" {
			t.Errorf("ShowServer %s differs from Server(id) (-sim +client):\n%s", want.ID, diff)
		}
		wire := do(t, sim, http.MethodGet, path("/"+want.ID), nil)
		var onWire, reencoded any
		if err := json.Unmarshal(wire.body, &onWire); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &reencoded); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(onWire, reencoded); diff != "" {
			t.Errorf("server %s: the client's value does not re-encode to the wire JSON (-wire +client):\n%s", want.ID, diff)
		}
	}
}
