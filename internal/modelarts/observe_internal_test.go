package modelarts

import "testing"

func TestOperationOf(t *testing.T) {
	base := "/v1/0123456789abcdef0123456789abcdef/dev-servers"
	id := "/0a1b2c3d-0000-4000-8000-000000000000"
	for _, tc := range []struct{ method, path, want string }{
		{"GET", base, "list_servers"},
		{"GET", base + "/images", "list_images"},
		{"POST", base + "/action", "batch_action"},
		{"GET", base + id, "show_server"},
		{"DELETE", base + id, "delete_server"},
		{"PUT", base + id + "/start", "start_server"},
		{"PUT", base + id + "/stop", "stop_server"},
		{"PUT", base + id + "/reboot", "reboot_server"},
		{"POST", base + id + "/changeos", "change_os"},
		{"POST", base + id + "/reinstallos", "reinstall_os"},
		{"GET", "/v3/auth/tokens", "other"},
		{"PATCH", base + id, "other"},
	} {
		if got := operationOf(tc.method, tc.path); got != tc.want {
			t.Errorf("operationOf(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
