package metrics_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/metrics"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestOperationsDocNamesOnlyRealMetrics keeps docs/operations.md honest:
// every console_* name in it (tables, alert rules, dashboard) is a metric
// the console exports, and the dashboard is valid JSON.
func TestOperationsDocNamesOnlyRealMetrics(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.SetAuditChain(func(context.Context) (metrics.ChainState, error) {
		return metrics.ChainState{Verified: true, OK: true}, nil
	})
	m.SetPendingApprovals(func(context.Context) (map[string]int, error) { return map[string]int{"p": 0}, nil })
	// Make every vector show up once.
	m.ObserveRequest("GET", "/x", 200, 0)
	m.Batches("p").ChunkDone("STOP", "ok", 1)
	m.AuditAppend("request", 0, nil)
	_, _ = m.Walks("p", lister{}).ListAllServers(context.Background())
	m.Cloud("p").ObserveCall(modelarts.CallObservation{Service: "modelarts", Operation: "list_servers", Outcome: "ok"})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
	}
	for _, name := range regexp.MustCompile(`\bconsole_[a-z_]+[a-z]`).FindAllString(string(doc), -1) {
		base := name
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			base = strings.TrimSuffix(base, suf)
		}
		if !known[name] && !known[base] {
			t.Errorf("docs/operations.md names %s, which the console does not export", name)
		}
	}
	i := strings.Index(string(doc), "```json\n")
	if i < 0 {
		t.Fatal("docs/operations.md has no dashboard JSON")
	}
	rest := string(doc)[i+len("```json\n"):]
	var dash map[string]any
	if err := json.Unmarshal([]byte(rest[:strings.Index(rest, "```")]), &dash); err != nil {
		t.Errorf("the dashboard JSON does not parse: %v", err)
	}
}
