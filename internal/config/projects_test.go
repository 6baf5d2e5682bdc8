package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/config"
)

const twoProjects = `
projects:
  - name: bj-train              # short name shown in the console and used in URLs
    region: cn-north-9
    project_id: 0123456789abcdef0123456789abcdef
    ak_env: BJ_AK
    sk_env: BJ_SK
  - name: gy-infer
    endpoint: https://modelarts.cn-southwest-2.myhuaweicloud.com
    project_id: fedcba9876543210fedcba9876543210
    token_env: GY_TOKEN
`

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "projects.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProjectsFileListsTargetsWithCredentialsFromTheEnvironment(t *testing.T) {
	path := writeFile(t, twoProjects)
	env := envMap(map[string]string{"CONSOLE_PROJECTS_FILE": path, "BJ_AK": "ak-bj", "BJ_SK": "sk-bj-secret", "GY_TOKEN": "tok-gy-secret"})
	cfg, err := config.Load(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Simulated() {
		t.Error("a console with a projects file thinks it is simulated")
	}
	ps := cfg.Targets()
	if len(ps) != 2 {
		t.Fatalf("%d projects, want 2", len(ps))
	}
	bj, gy := ps[0], ps[1]
	if bj.Name != "bj-train" || bj.Region != "cn-north-9" || bj.ProjectID != "0123456789abcdef0123456789abcdef" ||
		bj.AccessKey != "ak-bj" || bj.SecretKey != "sk-bj-secret" {
		t.Errorf("bj-train = %#v", bj)
	}
	if gy.Name != "gy-infer" || gy.Endpoint != "https://modelarts.cn-southwest-2.myhuaweicloud.com" || gy.AuthToken != "tok-gy-secret" {
		t.Errorf("gy-infer = %#v", gy)
	}
	for _, p := range ps {
		if s := p.String() + p.GoString(); strings.Contains(s, "secret") {
			t.Errorf("a project prints a secret: %s", s)
		}
	}
	// The flag works as the variable does.
	if cfg, err := config.Load([]string{"--projects", path}, envMap(map[string]string{"BJ_AK": "a", "BJ_SK": "b", "GY_TOKEN": "t"}), io.Discard); err != nil || len(cfg.Targets()) != 2 {
		t.Errorf("--projects: %v", err)
	}
}

func TestProjectsFileProblemsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       []string
		notWant    string
	}{
		{name: "secret written in the file", yaml: "projects:\n  - name: a\n    region: cn-north-9\n    project_id: p1\n    ak_env: A\n    sk: very-secret-value\n",
			env: map[string]string{"A": "x"}, want: []string{`"sk" holds a credential`, "sk_env"}, notWant: "very-secret-value"},
		{name: "unset variable", yaml: "projects:\n  - name: a\n    region: cn-north-9\n    project_id: p1\n    token_env: NOPE\n",
			want: []string{`project "a"`, "token_env names NOPE, which is not set"}},
		{name: "unknown key", yaml: "projects:\n  - name: a\n    regoin: cn-north-9\n",
			want: []string{"regoin"}},
		{name: "duplicate and bad names", yaml: "projects:\n  - name: a\n    region: cn-north-9\n    project_id: p1\n    token_env: T\n  - name: a\n    region: cn-north-9\n    project_id: p2\n    token_env: T\n  - name: Bad Name\n    region: cn-north-9\n    project_id: p3\n    token_env: T\n",
			env: map[string]string{"T": "t"}, want: []string{"used twice", "lower-case"}},
		{name: "no place, no id, no credentials", yaml: "projects:\n  - name: a\n",
			want: []string{"region or endpoint is required", "project_id is required", "no credentials"}},
		{name: "two kinds of credentials", yaml: "projects:\n  - name: a\n    region: cn-north-9\n    project_id: p1\n    token_env: T\n    ak_env: A\n    sk_env: S\n",
			env: map[string]string{"T": "t", "A": "a", "S": "s"}, want: []string{"one kind of credentials"}},
		{name: "empty", yaml: "projects: []\n", want: []string{"lists no projects"}},
		{name: "not yaml", yaml: "projects: [\n", want: []string{"not valid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CONSOLE_PROJECTS_FILE": writeFile(t, tc.yaml)}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := config.Load(nil, envMap(env), io.Discard)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error repeats %q: %v", tc.notWant, err)
			}
		})
	}
}

func TestProjectsFileAndSingleProjectSettingsExcludeEachOther(t *testing.T) {
	path := writeFile(t, twoProjects)
	_, err := config.Load(nil, envMap(map[string]string{"CONSOLE_PROJECTS_FILE": path, "BJ_AK": "a", "BJ_SK": "b", "GY_TOKEN": "t",
		"MODELARTS_REGION": "cn-north-9"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "one or the other") {
		t.Errorf("err = %v; want the two ways refused together", err)
	}
}

func TestSingleProjectSettingsAreAOneEntryList(t *testing.T) {
	cfg, err := config.Load(nil, envMap(map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "abc",
		"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Targets()
	if len(ps) != 1 || ps[0].Name != "cn-north-9" || ps[0].ProjectID != "abc" || ps[0].AccessKey != "a" || ps[0].Simulated {
		t.Errorf("targets = %#v", ps)
	}
}

func TestWithoutCloudTheSimulatorServesTwoProjects(t *testing.T) {
	cfg, err := config.Load(nil, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Targets()
	if len(ps) != 2 || !ps[0].Simulated || !ps[1].Simulated || ps[0].ProjectID == ps[1].ProjectID || ps[0].Name == ps[1].Name {
		t.Errorf("targets = %#v; want two distinct simulated projects", ps)
	}
}
