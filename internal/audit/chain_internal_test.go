package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestChainHashEncoding pins the documented hash input (docs/audit.md): a
// change here breaks every existing chain, so it must be deliberate.
func TestChainHashEncoding(t *testing.T) {
	r := &row{
		CreatedAt: "2026-03-01T09:00:00.000001Z", Kind: "response", ActorID: 7, ActorName: "alice",
		ActorRole: "operator", ClientIP: "10.0.0.7", UserAgent: "Firefox", CorrelationID: "c-1", Action: "STOP",
		Targets: `[{"id":"a","name":"n"}]`, Detail: `{}`, Method: "POST", URL: "https://x/action",
		RequestHeaders: `{}`, RequestBody: []byte{}, Status: 200, ResponseHeaders: `{"X-Request-Id":["r"]}`,
		ResponseBody: []byte(`{"ok":true}` + "\n"), RequestID: "r", DurationMS: 120, Error: "", Outcome: "success", RefID: 41,
	}
	prev := "ab" + GenesisHash[2:]
	input := "console-audit-v1\n" + prev + "\n" +
		"created_at=27:2026-03-01T09:00:00.000001Z\n" +
		"kind=8:response\n" +
		"actor_id=1:7\n" +
		"actor_name=5:alice\n" +
		"actor_role=8:operator\n" +
		"client_ip=8:10.0.0.7\n" +
		"user_agent=7:Firefox\n" +
		"correlation_id=3:c-1\n" +
		"action=4:STOP\n" +
		`targets=23:[{"id":"a","name":"n"}]` + "\n" +
		"detail=2:{}\n" +
		"method=4:POST\n" +
		"url=16:https://x/action\n" +
		"request_headers=2:{}\n" +
		"request_body=0:\n" +
		"status=3:200\n" +
		`response_headers=22:{"X-Request-Id":["r"]}` + "\n" +
		"response_body=12:{\"ok\":true}\n\n" +
		"request_id=1:r\n" +
		"duration_ms=3:120\n" +
		"error=0:\n" +
		"outcome=7:success\n" +
		"ref_id=2:41\n"
	sum := sha256.Sum256([]byte(input))
	if got, want := chainHash(prev, r), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("chainHash = %s, want %s (the documented encoding)", got, want)
	}
}
