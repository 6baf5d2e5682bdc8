package config_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring; empty means success
		check   func(t *testing.T, c config.Config)
	}{
		{
			name: "defaults run the simulator",
			check: func(t *testing.T, c config.Config) {
				if !c.Simulated() || c.Addr != "127.0.0.1:8080" || c.DBPath != "./data/console.db" || c.ChunkSize != 50 {
					t.Errorf("defaults = %+v", c)
				}
			},
		},
		{
			name: "environment sets values",
			env:  map[string]string{"CONSOLE_ADDR": "0.0.0.0:9000", "CONSOLE_SIM_TRANSITION": "150ms", "CONSOLE_CHUNK_SIZE": "7"},
			check: func(t *testing.T, c config.Config) {
				if c.Addr != "0.0.0.0:9000" || c.SimTransition != 150*time.Millisecond || c.ChunkSize != 7 {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "flags override environment",
			args: []string{"--addr", "127.0.0.1:1234"},
			env:  map[string]string{"CONSOLE_ADDR": "0.0.0.0:9000"},
			check: func(t *testing.T, c config.Config) {
				if c.Addr != "127.0.0.1:1234" {
					t.Errorf("Addr = %q", c.Addr)
				}
			},
		},
		{name: "bad duration in environment", env: map[string]string{"CONSOLE_SIM_TRANSITION": "soon"}, wantErr: "CONSOLE_SIM_TRANSITION"},
		{name: "bad number in environment", env: map[string]string{"CONSOLE_CHUNK_SIZE": "many"}, wantErr: "CONSOLE_CHUNK_SIZE"},
		{name: "bad address", env: map[string]string{"CONSOLE_ADDR": "8080"}, wantErr: "CONSOLE_ADDR"},
		{name: "bad metrics address", env: map[string]string{"CONSOLE_METRICS_ADDR": "9090"}, wantErr: "CONSOLE_METRICS_ADDR"},
		{name: "metrics on the console's address", env: map[string]string{"CONSOLE_METRICS_ADDR": "127.0.0.1:8080"}, wantErr: "must differ"},
		{name: "chunk size out of range", args: []string{"--chunk-size", "0"}, wantErr: "CONSOLE_CHUNK_SIZE"},
		{name: "cloud needs a project", env: map[string]string{"MODELARTS_REGION": "cn-north-9", "HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b"}, wantErr: "MODELARTS_PROJECT_ID"},
		{name: "cloud needs credentials", env: map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "abc"}, wantErr: "no credentials"},
		{name: "AK without SK", env: map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "abc", "HUAWEICLOUD_SDK_AK": "a"}, wantErr: "together"},
		{name: "two kinds of credentials", env: map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "abc", "HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b", "MODELARTS_AUTH_TOKEN": "t"}, wantErr: "one kind"},
		{name: "bad region", env: map[string]string{"MODELARTS_REGION": "north", "MODELARTS_PROJECT_ID": "abc", "MODELARTS_AUTH_TOKEN": "t"}, wantErr: "MODELARTS_REGION"},
		{name: "bad endpoint", env: map[string]string{"MODELARTS_ENDPOINT": "ftp://x", "MODELARTS_PROJECT_ID": "abc", "MODELARTS_AUTH_TOKEN": "t"}, wantErr: "MODELARTS_ENDPOINT"},
		{
			name: "real cloud with AK/SK",
			env:  map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "0123456789abcdef0123456789abcdef", "HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b"},
			check: func(t *testing.T, c config.Config) {
				if c.Simulated() {
					t.Error("Simulated() with a region")
				}
			},
		},
		{name: "short admin password", env: map[string]string{"CONSOLE_ADMIN_PASSWORD": "short"}, wantErr: "CONSOLE_ADMIN_PASSWORD"},
		{name: "idle longer than absolute", args: []string{"--session-idle", "13h"}, wantErr: "session timeouts"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
		{name: "bad MFA role", env: map[string]string{"CONSOLE_MFA_REQUIRED": "operator,root"}, wantErr: "CONSOLE_MFA_REQUIRED"},
		{
			name: "MFA required roles",
			env:  map[string]string{"CONSOLE_MFA_REQUIRED": " Operator, admin,operator,"},
			check: func(t *testing.T, c config.Config) {
				if got := strings.Join(c.MFARequired, " "); got != "operator admin" {
					t.Errorf("MFARequired = %q, want operator admin", got)
				}
			},
		},
		{
			name: "approval defaults",
			check: func(t *testing.T, c config.Config) {
				want := []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchReinstallOS, modelarts.BatchChangeOS}
				if !slices.Equal(c.ApprovalActions, want) || c.ApprovalMinServers != 0 || c.ApprovalTTL != 24*time.Hour || c.WebhookFormat != "json" {
					t.Errorf("approval defaults: %v %d %s %q", c.ApprovalActions, c.ApprovalMinServers, c.ApprovalTTL, c.WebhookFormat)
				}
			},
		},
		{
			name: "approval settings",
			env: map[string]string{"CONSOLE_APPROVAL_ACTIONS": " stop, Reboot,STOP ", "CONSOLE_APPROVAL_MIN_SERVERS": "10", "CONSOLE_APPROVAL_TTL": "2h",
				"CONSOLE_WEBHOOK_URL": "https://hooks.example.com/x?key=k", "CONSOLE_WEBHOOK_FORMAT": "feishu", "CONSOLE_PUBLIC_URL": "https://console.example.com/",
				"CONSOLE_SECRET_KEY": strings.Repeat("ab", 32)},
			check: func(t *testing.T, c config.Config) {
				if !slices.Equal(c.ApprovalActions, []modelarts.BatchType{modelarts.BatchStop, modelarts.BatchReboot}) || c.ApprovalMinServers != 10 ||
					c.ApprovalTTL != 2*time.Hour || c.WebhookFormat != "feishu" || c.PublicURL != "https://console.example.com" {
					t.Errorf("got %v %d %s %q %q", c.ApprovalActions, c.ApprovalMinServers, c.ApprovalTTL, c.WebhookFormat, c.PublicURL)
				}
			},
		},
		{
			name: "approval off",
			env:  map[string]string{"CONSOLE_APPROVAL_ACTIONS": "none"},
			check: func(t *testing.T, c config.Config) {
				if c.ApprovalActions == nil || len(c.ApprovalActions) != 0 {
					t.Errorf("ApprovalActions = %#v, want empty", c.ApprovalActions)
				}
			},
		},
		{name: "unknown approval action", env: map[string]string{"CONSOLE_APPROVAL_ACTIONS": "DELETE,NUKE"}, wantErr: `CONSOLE_APPROVAL_ACTIONS="DELETE,NUKE": "NUKE" is not an action`},
		{name: "none with actions", env: map[string]string{"CONSOLE_APPROVAL_ACTIONS": "none,DELETE"}, wantErr: "CONSOLE_APPROVAL_ACTIONS"},
		{name: "empty approval list", args: []string{"--approval-actions", ","}, wantErr: "none"},
		{name: "negative min servers", env: map[string]string{"CONSOLE_APPROVAL_MIN_SERVERS": "-1"}, wantErr: "CONSOLE_APPROVAL_MIN_SERVERS"},
		{name: "approval ttl too short", env: map[string]string{"CONSOLE_APPROVAL_TTL": "10s"}, wantErr: "CONSOLE_APPROVAL_TTL"},
		{name: "bad secret key", env: map[string]string{"CONSOLE_SECRET_KEY": "abcd"}, wantErr: "CONSOLE_SECRET_KEY"},
		{name: "bad webhook format", env: map[string]string{"CONSOLE_WEBHOOK_FORMAT": "teams"}, wantErr: "CONSOLE_WEBHOOK_FORMAT"},
		{name: "bad public url", env: map[string]string{"CONSOLE_PUBLIC_URL": "console.local"}, wantErr: "CONSOLE_PUBLIC_URL"},
		{name: "bad trusted proxy", env: map[string]string{"CONSOLE_TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, wantErr: "CONSOLE_TRUSTED_PROXIES"},
		{
			name: "trusted proxies",
			env:  map[string]string{"CONSOLE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,fd00::/8"},
			check: func(t *testing.T, c config.Config) {
				var got []string
				for _, p := range c.TrustedProxies {
					got = append(got, p.String())
				}
				if want := "10.0.0.1/32 192.168.0.0/16 fd00::/8"; strings.Join(got, " ") != want {
					t.Errorf("TrustedProxies = %v, want %s", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestWebhookURLNeverRepeated checks that a bad webhook URL, which often
// carries a chat tool's token, is not echoed in the error.
func TestWebhookURLNeverRepeated(t *testing.T) {
	const bad = "ftp://hooks.example.com/robot?key=SECRET-TOKEN"
	_, err := config.Load(nil, env(map[string]string{"CONSOLE_WEBHOOK_URL": bad}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CONSOLE_WEBHOOK_URL") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "SECRET-TOKEN") {
		t.Errorf("the error repeats the webhook URL: %v", err)
	}
}

// TestSecretsComeFromTheEnvironmentOrAFile: secrets have no flags; each is
// read from its variable or from the file its _FILE variable names.
func TestSecretsComeFromTheEnvironmentOrAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sk")
	if err := os.WriteFile(file, []byte("secret-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "0123456789abcdef0123456789abcdef",
		"HUAWEICLOUD_SDK_AK": "AK", "HUAWEICLOUD_SDK_SK_FILE": file, "CONSOLE_SESSION_KEY": strings.Repeat("ab", 32),
	}
	getenv := func(k string) string { return vars[k] }
	c, err := config.Load(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretKey != "secret-from-a-file" || c.SessionKey != strings.Repeat("ab", 32) {
		t.Errorf("SecretKey %q, SessionKey %q", c.SecretKey, c.SessionKey)
	}
	vars["HUAWEICLOUD_SDK_SK"] = "also-set"
	if _, err := config.Load(nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both HUAWEICLOUD_SDK_SK and _FILE: %v, want refused", err)
	}
	delete(vars, "HUAWEICLOUD_SDK_SK")
	// The audit key comes from its variable (its file is a path, see audit.LoadKey).
	vars["CONSOLE_AUDIT_KEY"] = strings.Repeat("cd", 32)
	if c, err := config.Load(nil, getenv, io.Discard); err != nil || c.AuditKey != strings.Repeat("cd", 32) {
		t.Errorf("CONSOLE_AUDIT_KEY: AuditKey %q, %v", c.AuditKey, err)
	}
	delete(vars, "CONSOLE_AUDIT_KEY")
	// So does the webhook URL, which usually carries a chat tool's token.
	hook := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(hook, []byte("https://hooks.example.com/robot?key=T\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars["CONSOLE_WEBHOOK_URL_FILE"] = hook
	if c, err := config.Load(nil, getenv, io.Discard); err != nil || c.WebhookURL != "https://hooks.example.com/robot?key=T" {
		t.Errorf("CONSOLE_WEBHOOK_URL_FILE: WebhookURL %q, %v", c.WebhookURL, err)
	}
	delete(vars, "CONSOLE_WEBHOOK_URL_FILE")
	vars["HUAWEICLOUD_SDK_SK_FILE"] = file + ".missing"
	if _, err := config.Load(nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "HUAWEICLOUD_SDK_SK_FILE") {
		t.Errorf("missing secret file: %v, want an error naming the variable", err)
	}
	for _, flag := range []string{"--sk", "--admin-password", "--session-key", "--auth-token", "--iam-password", "--security-token", "--audit-key", "--secret-key", "--webhook-url"} {
		var pe *config.ParseError
		if _, err := config.Load([]string{flag, "x"}, func(string) string { return "" }, io.Discard); !errors.As(err, &pe) {
			t.Errorf("%s is accepted as a flag (%v); secrets must not be on the command line", flag, err)
		}
	}
}
