package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Project is one ModelArts target the console manages: where it is, which
// project, and the credentials to call it with (read from environment
// variables; a projects file never holds them).
type Project struct {
	// Name is the short name shown in the console and used in URLs
	// (?project=NAME) and in audit entries, batches and metrics.
	Name string
	// Region (e.g. cn-north-9) and/or Endpoint (an http(s) URL that
	// overrides the region's).
	Region   string
	Endpoint string
	// ProjectID is the cloud project id (1–64 letters, digits, '-').
	ProjectID string

	// Exactly one kind of credentials: AK/SK (with an optional security
	// token), an IAM token, or an IAM user. For a simulated project none.
	AccessKey     string
	SecretKey     string
	SecurityToken string
	AuthToken     string
	IAMEndpoint   string
	IAMUser       string
	IAMPassword   string
	IAMDomain     string
	IAMProject    string

	// Simulated projects are served by an embedded simulator.
	Simulated bool
	// SimSeed seeds a simulated project's fleet.
	SimSeed int64
}

// String never shows a secret.
func (p Project) String() string {
	return fmt.Sprintf("Project{Name: %s, Region: %s, Endpoint: %s, ProjectID: %s, Simulated: %t}",
		p.Name, p.Region, p.Endpoint, p.ProjectID, p.Simulated)
}

// GoString never shows a secret.
func (p Project) GoString() string { return p.String() }

// SimulatedProjects are the projects the embedded simulator serves when no
// cloud is configured: two, so the project switcher can be tried.
func SimulatedProjects(seed int64) []Project {
	return []Project{
		{Name: "sim-north", Region: "cn-north-9", ProjectID: "0000000000000000000000000000c0de", Simulated: true, SimSeed: seed},
		{Name: "sim-southwest", Region: "cn-southwest-2", ProjectID: "0000000000000000000000000000beef", Simulated: true, SimSeed: seed + 1},
	}
}

// projectNameRE: short, URL- and label-safe names.
var projectNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// projectsFile is the YAML shape of CONSOLE_PROJECTS_FILE.
type projectsFile struct {
	Projects []projectEntry `yaml:"projects"`
}

type projectEntry struct {
	Name             string `yaml:"name"`
	Region           string `yaml:"region"`
	Endpoint         string `yaml:"endpoint"`
	ProjectID        string `yaml:"project_id"`
	AKEnv            string `yaml:"ak_env"`
	SKEnv            string `yaml:"sk_env"`
	SecurityTokenEnv string `yaml:"security_token_env"`
	TokenEnv         string `yaml:"token_env"`
	IAMEndpoint      string `yaml:"iam_endpoint"`
	IAMUserEnv       string `yaml:"iam_user_env"`
	IAMPasswordEnv   string `yaml:"iam_password_env"`
	IAMDomainEnv     string `yaml:"iam_domain_env"`
	IAMProject       string `yaml:"iam_project"`
}

// secretKeys are keys that would put a credential in the file itself.
var secretKeys = map[string]string{
	"ak": "ak_env", "sk": "sk_env", "access_key": "ak_env", "secret_key": "sk_env",
	"security_token": "security_token_env", "token": "token_env", "auth_token": "token_env",
	"iam_password": "iam_password_env", "password": "iam_password_env",
}

// LoadProjects reads a projects file (YAML) and resolves every project's
// credentials from getenv. Every problem is reported at once, naming the
// project and the key; a secret written in the file is refused (its value
// is never repeated in the error).
func LoadProjects(path string, getenv func(string) string) ([]Project, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CONSOLE_PROJECTS_FILE: %w", err)
	}
	ps, err := ParseProjects(raw, getenv)
	if err != nil {
		return nil, fmt.Errorf("CONSOLE_PROJECTS_FILE %s: %w", path, err)
	}
	return ps, nil
}

// ParseProjects parses the YAML of a projects file; see LoadProjects.
func ParseProjects(raw []byte, getenv func(string) string) ([]Project, error) {
	// Look for secrets first, on a generic tree, so the message says what
	// to do instead of "field sk not found".
	var tree struct {
		Projects []map[string]any `yaml:"projects"`
	}
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var errs []error
	for i, p := range tree.Projects {
		for k := range p {
			if instead, ok := secretKeys[strings.ToLower(k)]; ok {
				errs = append(errs, fmt.Errorf("projects[%d] (%v): %q holds a credential; credentials are never written in this file — name an environment variable with %s instead", i, p["name"], k, instead))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var f projectsFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a projects file: %w", err)
	}
	if len(f.Projects) == 0 {
		return nil, errors.New(`lists no projects (expected "projects:" with at least one entry)`)
	}
	seen := map[string]bool{}
	var out []Project
	for i, e := range f.Projects {
		where := fmt.Sprintf("projects[%d]", i)
		if e.Name != "" {
			where = fmt.Sprintf("project %q", e.Name)
		}
		bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+": "+format, a...)) }
		switch {
		case e.Name == "":
			bad("name is required")
		case !projectNameRE.MatchString(e.Name):
			bad("name must be 1 to 32 lower-case letters, digits and '-', starting with a letter or digit")
		case seen[e.Name]:
			bad("the name is used twice")
		}
		seen[e.Name] = true
		env := func(key, name string) string {
			if name == "" {
				return ""
			}
			v := getenv(name)
			if v == "" {
				bad("%s names %s, which is not set", key, name)
			}
			return v
		}
		p := Project{
			Name: e.Name, Region: e.Region, Endpoint: e.Endpoint, ProjectID: e.ProjectID,
			AccessKey: env("ak_env", e.AKEnv), SecretKey: env("sk_env", e.SKEnv),
			SecurityToken: env("security_token_env", e.SecurityTokenEnv),
			AuthToken:     env("token_env", e.TokenEnv),
			IAMEndpoint:   e.IAMEndpoint, IAMProject: e.IAMProject,
			IAMUser: env("iam_user_env", e.IAMUserEnv), IAMPassword: env("iam_password_env", e.IAMPasswordEnv),
			IAMDomain: env("iam_domain_env", e.IAMDomainEnv),
		}
		if e.AKEnv != "" && e.SKEnv == "" || e.SKEnv != "" && e.AKEnv == "" {
			bad("ak_env and sk_env go together")
		}
		for _, err := range p.validate("region", "endpoint", "project_id", "credentials (ak_env/sk_env, token_env or iam_user_env/iam_password_env/iam_domain_env)") {
			bad("%v", err)
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// credentialKinds says which kinds of credentials are given (any part of
// one counts: the caller then says which part is missing) and how many
// kinds, for the one rule that exactly one kind is: AK/SK, an IAM token,
// or an IAM user.
func credentialKinds(ak, sk, token, iamUser, iamPassword, iamDomain string) (aksk, iam bool, n int) {
	aksk = ak != "" || sk != ""
	iam = iamUser != "" || iamPassword != "" || iamDomain != ""
	for _, given := range []bool{aksk, token != "", iam} {
		if given {
			n++
		}
	}
	return aksk, iam, n
}

// validate checks a cloud project; the names say how the caller calls each
// setting (environment variables or projects-file keys).
func (p *Project) validate(regionName, endpointName, projectIDName, credsName string) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.Region == "" && p.Endpoint == "" {
		bad("%s or %s is required", regionName, endpointName)
	}
	if p.Region != "" && !regionRE.MatchString(p.Region) {
		bad("%s %q does not look like a region id such as cn-north-9", regionName, p.Region)
	}
	if p.Endpoint != "" {
		u, err := url.Parse(p.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("%s %q is not an http(s) URL", endpointName, p.Endpoint)
		}
	}
	if p.ProjectID == "" {
		bad("%s is required", projectIDName)
	} else if !projectIDRE.MatchString(p.ProjectID) {
		bad("%s %q: 1 to 64 letters, digits and hyphens", projectIDName, p.ProjectID)
	}
	aksk, iam, n := credentialKinds(p.AccessKey, p.SecretKey, p.AuthToken, p.IAMUser, p.IAMPassword, p.IAMDomain)
	switch {
	case n == 0:
		bad("no %s", credsName)
	case n > 1:
		bad("choose one kind of credentials: AK/SK, an IAM token, or an IAM user")
	case aksk && (p.AccessKey == "" || p.SecretKey == ""):
		bad("the access key and the secret key must be set together")
	case iam && (p.IAMUser == "" || p.IAMPassword == "" || p.IAMDomain == ""):
		bad("an IAM user needs its name, password and domain")
	case iam && p.Region == "" && p.IAMEndpoint == "":
		bad("an IAM user needs a region or an IAM endpoint to know where to get a token")
	}
	if p.SecurityToken != "" && p.AccessKey == "" {
		bad("a security token needs temporary AK/SK as well")
	}
	return errs
}

// KnownProjectNames names the projects a console started with this
// environment would have, without reading any credential: those of the
// projects file path (CONSOLE_PROJECTS_FILE), else the single project of
// MODELARTS_REGION or MODELARTS_ENDPOINT, else the simulator's. Commands
// that name projects (console user projects) check names against it.
func KnownProjectNames(path string, getenv func(string) string) ([]string, error) {
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("CONSOLE_PROJECTS_FILE: %w", err)
		}
		var f struct {
			Projects []struct {
				Name string `yaml:"name"`
			} `yaml:"projects"`
		}
		if err := yaml.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("CONSOLE_PROJECTS_FILE %s: not valid YAML: %w", path, err)
		}
		var names []string
		for _, p := range f.Projects {
			names = append(names, p.Name)
		}
		return names, nil
	}
	c := Config{Region: getenv("MODELARTS_REGION"), Endpoint: getenv("MODELARTS_ENDPOINT"), SimSeed: 1}
	var names []string
	for _, p := range c.Targets() {
		names = append(names, p.Name)
	}
	return names, nil
}
