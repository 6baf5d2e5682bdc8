package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/logging"
)

func TestRequestIDOnEveryLineOfARequest(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "info", logging.FormatJSON).With("component", "web")
	ctx := logging.WithRequestID(context.Background(), "req-123")
	log.InfoContext(ctx, "inside a request", logging.Err(errors.New("boom")))
	log.WithGroup("g").WarnContext(ctx, "grouped")
	log.Info("outside any request")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	var first, outside map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-123" || first["err"] != "boom" || first["component"] != "web" {
		t.Errorf("line in a request = %v; want request_id, err and the With attribute", first)
	}
	if !strings.Contains(lines[1], `"request_id":"req-123"`) {
		t.Errorf("a grouped logger lost the request id: %s", lines[1])
	}
	if err := json.Unmarshal([]byte(lines[2]), &outside); err != nil {
		t.Fatal(err)
	}
	if _, ok := outside["request_id"]; ok {
		t.Errorf("a line outside any request has a request id: %s", lines[2])
	}
}

func TestTextFormatAndLevel(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "warn", logging.FormatText)
	log.Info("hidden")
	log.WarnContext(logging.WithRequestID(context.Background(), "r1"), "shown")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=shown request_id=r1") {
		t.Errorf("text log = %q", got)
	}
	if logging.ValidFormat("xml") == nil || logging.ValidFormat("json") != nil {
		t.Error("ValidFormat accepts xml or refuses json")
	}
}
