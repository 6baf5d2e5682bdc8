// Package config loads and validates the console's configuration from flags,
// with an environment variable for every flag.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/secrets"
)

// Config is everything the console needs to start.
type Config struct {
	Addr   string // CONSOLE_ADDR
	DBPath string // CONSOLE_DB
	// MetricsAddr is where Prometheus metrics are served, on a listener of
	// their own (CONSOLE_METRICS_ADDR, host:port); empty: no metrics.
	MetricsAddr string

	// ProjectsFile lists the ModelArts targets (CONSOLE_PROJECTS_FILE,
	// YAML); Load reads it into Projects. It replaces the single-project
	// settings below.
	ProjectsFile string
	Projects     []Project

	// Cloud, one project. No Region and no Endpoint (and no projects file)
	// means the embedded simulator.
	Region        string // MODELARTS_REGION
	Endpoint      string // MODELARTS_ENDPOINT
	ProjectID     string // MODELARTS_PROJECT_ID
	AccessKey     string // HUAWEICLOUD_SDK_AK
	SecretKey     string // HUAWEICLOUD_SDK_SK
	SecurityToken string // HUAWEICLOUD_SDK_SECURITY_TOKEN
	AuthToken     string // MODELARTS_AUTH_TOKEN: a project-scoped IAM token
	IAMEndpoint   string // MODELARTS_IAM_ENDPOINT
	IAMUser       string // MODELARTS_IAM_USER
	IAMPassword   string // MODELARTS_IAM_PASSWORD
	IAMDomain     string // MODELARTS_IAM_DOMAIN (account name)
	IAMProject    string // MODELARTS_IAM_PROJECT (project name, defaults to the region)

	RequestTimeout time.Duration // MODELARTS_TIMEOUT: per-call timeout to ModelArts

	// Embedded simulator.
	SimServers    int           // CONSOLE_SIM_SERVERS
	SimSeed       int64         // CONSOLE_SIM_SEED
	SimTransition time.Duration // CONSOLE_SIM_TRANSITION

	// Sign-in and sessions.
	AdminPassword   string        // CONSOLE_ADMIN_PASSWORD (first start only)
	SessionKey      string        // CONSOLE_SESSION_KEY (hex or base64, >= 32 bytes)
	SessionIdle     time.Duration // CONSOLE_SESSION_IDLE
	SessionAbsolute time.Duration // CONSOLE_SESSION_ABSOLUTE
	SecureCookies   bool          // CONSOLE_SECURE_COOKIES: behind a TLS-terminating proxy
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For is believed (CONSOLE_TRUSTED_PROXIES, comma
	// separated). Empty: the client address is the connection's.
	TrustedProxies []netip.Prefix
	// MFARequired lists the roles that must use a second factor
	// (CONSOLE_MFA_REQUIRED, comma separated, e.g. "operator,approver,admin").
	MFARequired []string

	// Fleet and batches.
	FleetTTL  time.Duration // CONSOLE_FLEET_TTL: how long one list walk is shared
	ChunkSize int           // CONSOLE_CHUNK_SIZE: servers per batch request
	LogLevel  string        // CONSOLE_LOG_LEVEL: debug, info, warn, error
	// ShutdownTimeout bounds how long a stopping console waits for a batch
	// chunk on its way (CONSOLE_SHUTDOWN_TIMEOUT, default 25s: under a
	// typical 30s grace period). Batches stop between chunks; chunks not
	// sent are recorded not_sent.
	ShutdownTimeout time.Duration
	LogFormat       string // CONSOLE_LOG_FORMAT: text or json
	// BatchFollowInterval and BatchSettleGrace are how often a running
	// batch's servers are checked and how long a server that has not moved
	// is given before it is judged (batch.Config; zero: the batch package's
	// defaults, 5 s and 30 s). Not read from the environment: browser
	// journeys shorten them to see a batch settle.
	BatchFollowInterval time.Duration
	BatchSettleGrace    time.Duration

	// Audit log integrity (docs/audit.md).
	// AuditKey is the key of the audit chain's HMAC, hex or base64, 32+
	// bytes (CONSOLE_AUDIT_KEY). AuditKeyFile names a file holding it
	// (CONSOLE_AUDIT_KEY_FILE). With neither, the key lives in
	// DefaultAuditKeyFile(DBPath), created (0600) on first start.
	AuditKey     string
	AuditKeyFile string
	// AuditAnchorFile receives signed checkpoints of the chain's head
	// (CONSOLE_AUDIT_ANCHOR_FILE); it must be outside the database's
	// directory. AuditAnchorSyslog also sends them to syslog
	// (CONSOLE_AUDIT_ANCHOR_SYSLOG).
	AuditAnchorFile   string
	AuditAnchorSyslog bool
	// AuditAnchorEvery is the longest time between checkpoints
	// (CONSOLE_AUDIT_ANCHOR_EVERY); AuditVerifyEvery the time between full
	// verifications of the chain (CONSOLE_AUDIT_VERIFY_EVERY).
	AuditAnchorEvery time.Duration
	AuditVerifyEvery time.Duration

	// Approvals (docs/approvals.md).
	// ApprovalActions are the actions that need an approver's approval
	// (CONSOLE_APPROVAL_ACTIONS, comma separated; "none" for none).
	ApprovalActions []modelarts.BatchType
	// ApprovalMinServers, when positive, makes any action on that many
	// servers or more need approval (CONSOLE_APPROVAL_MIN_SERVERS).
	ApprovalMinServers int
	// ApprovalTTL is how long a request waits for a decision before it
	// expires (CONSOLE_APPROVAL_TTL).
	ApprovalTTL time.Duration
	// SecretsKey seals the secrets of requests waiting for approval
	// (CONSOLE_SECRET_KEY, 32 bytes as hex or base64). Empty: a key file
	// beside the database, created on first start.
	SecretsKey string

	// Notifications.
	WebhookURL    string // CONSOLE_WEBHOOK_URL: empty sends nothing
	WebhookFormat string // CONSOLE_WEBHOOK_FORMAT: json, wecom, dingtalk, feishu or slack
	// WebhookLang is the language of the messages (CONSOLE_WEBHOOK_LANG:
	// en or zh-Hans): a channel is read by many people, so it is one
	// setting, not any one user's.
	WebhookLang string
	PublicURL   string // CONSOLE_PUBLIC_URL: base of the links in messages
}

// MinAuditKeyLen is the shortest audit key accepted, in bytes.
const MinAuditKeyLen = 32

// ParseAuditKey decodes an audit key (secrets.DecodeKey: hex or base64,
// standard or URL-safe, padded or not, surrounding space ignored) of at
// least MinAuditKeyLen bytes.
func ParseAuditKey(s string) ([]byte, error) {
	k, err := secrets.DecodeKey(s)
	if err != nil {
		return nil, err
	}
	if len(k) < MinAuditKeyLen {
		return nil, fmt.Errorf("%d bytes; at least %d are needed", len(k), MinAuditKeyLen)
	}
	return k, nil
}

// DefaultAuditKeyFile is where the audit key is kept when neither
// CONSOLE_AUDIT_KEY nor CONSOLE_AUDIT_KEY_FILE is set: beside the database.
func DefaultAuditKeyFile(dbPath string) string { return dbPath + ".audit-key" }

// sameDir reports whether files a and b are in the same directory, after
// making both absolute and resolving symbolic links where they exist.
func sameDir(a, b string) bool {
	dir := func(p string) string {
		d, err := filepath.Abs(filepath.Dir(p))
		if err != nil {
			return filepath.Dir(p)
		}
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return r
		}
		return d
	}
	return dir(a) == dir(b)
}

// DefaultApprovalActions need approval when CONSOLE_APPROVAL_ACTIONS is not set.
var DefaultApprovalActions = []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchReinstallOS, modelarts.BatchChangeOS}

// WebhookFormats are the accepted values of CONSOLE_WEBHOOK_FORMAT.
var WebhookFormats = []string{"json", "wecom", "dingtalk", "feishu", "slack"}

// ParseApprovalActions parses CONSOLE_APPROVAL_ACTIONS: a comma-separated
// list of batch types (any case), or "none".
func ParseApprovalActions(v string) ([]modelarts.BatchType, error) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "none") {
		return []modelarts.BatchType{}, nil
	}
	out := []modelarts.BatchType{}
	seen := map[modelarts.BatchType]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		t := modelarts.BatchType(strings.ToUpper(f))
		if strings.EqualFold(f, "none") {
			return nil, errors.New(`"none" cannot be combined with actions`)
		}
		if !t.Valid() {
			names := make([]string, len(modelarts.BatchTypes))
			for i, b := range modelarts.BatchTypes {
				names[i] = string(b)
			}
			return nil, fmt.Errorf("%q is not an action: use %s, or none", f, strings.Join(names, ", "))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New(`list the actions that need approval, or "none"`)
	}
	return out, nil
}

// Simulated reports whether the console runs against the embedded simulator.
func (c *Config) Simulated() bool {
	return c.Region == "" && c.Endpoint == "" && c.ProjectsFile == "" && len(c.Projects) == 0
}

// Targets are the projects the console manages: those of the projects
// file; else the single project of MODELARTS_REGION/ENDPOINT and its
// credentials, named after its region (or "default"); else the embedded
// simulator's two projects.
func (c *Config) Targets() []Project {
	switch {
	case len(c.Projects) > 0:
		return c.Projects
	case c.Simulated():
		ps := SimulatedProjects(c.SimSeed)
		if c.ProjectID != "" {
			ps[0].ProjectID = c.ProjectID
		}
		return ps
	}
	name := c.Region
	if name == "" {
		name = "default"
	}
	return []Project{{
		Name: name, Region: c.Region, Endpoint: c.Endpoint, ProjectID: c.ProjectID,
		AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken,
		AuthToken: c.AuthToken, IAMEndpoint: c.IAMEndpoint, IAMUser: c.IAMUser,
		IAMPassword: c.IAMPassword, IAMDomain: c.IAMDomain, IAMProject: c.IAMProject,
	}}
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:             "127.0.0.1:8080",
		DBPath:           "./data/console.db",
		RequestTimeout:   30 * time.Second,
		ShutdownTimeout:  25 * time.Second,
		SimServers:       40,
		SimSeed:          1,
		SimTransition:    2 * time.Second,
		SessionIdle:      30 * time.Minute,
		SessionAbsolute:  12 * time.Hour,
		FleetTTL:         5 * time.Second,
		ChunkSize:        50,
		LogLevel:         "info",
		AuditAnchorEvery: time.Minute,
		AuditVerifyEvery: 24 * time.Hour,
		ApprovalActions:  append([]modelarts.BatchType(nil), DefaultApprovalActions...),
		ApprovalTTL:      24 * time.Hour,
		WebhookFormat:    "json",
		WebhookLang:      i18n.Default,
		LogFormat:        "text",
	}
}

// Flags registers a flag for every field but the secrets on fs, each
// defaulting to its environment variable when set, else to the value in c.
// Secrets are read from their environment variables (or files) only.
//
// It returns an error naming every environment variable that holds a value
// the flag cannot take.
func (c *Config) Flags(fs *flag.FlagSet, getenv func(string) string) error {
	var envErrs []error
	fromEnv := func(name, env string) {
		if v := getenv(env); v != "" {
			if err := fs.Set(name, v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	}
	str := func(p *string, name, env, usage string) {
		if v := getenv(env); v != "" {
			*p = v
		}
		fs.StringVar(p, name, *p, usage+" ($"+env+")")
	}
	dur := func(p *time.Duration, name, env, usage string) {
		fs.Func(name, usage+" ($"+env+", default "+p.String()+")", func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil {
				return err
			}
			*p = d
			return nil
		})
		fromEnv(name, env)
	}
	// Secrets have no flag: a command line is visible to every user of the
	// machine (ps, /proc). They come from $ENV, or from the file named by
	// $ENV_FILE (a mounted Kubernetes or Docker secret).
	secret := func(p *string, env string) {
		v, err := SecretFromEnv(getenv, env)
		if err != nil {
			envErrs = append(envErrs, err)
		}
		if v != "" {
			*p = v
		}
	}
	integer := func(p *int, name, env, usage string) {
		fs.Func(name, usage+" ($"+env+", default "+strconv.Itoa(*p)+")", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("not a whole number: %q", s)
			}
			*p = n
			return nil
		})
		fromEnv(name, env)
	}
	str(&c.Addr, "addr", "CONSOLE_ADDR", "address to listen on")
	str(&c.DBPath, "db", "CONSOLE_DB", "SQLite database file, or a postgres:// URL (docs/replicas.md)")
	str(&c.MetricsAddr, "metrics-addr", "CONSOLE_METRICS_ADDR", "address to serve Prometheus metrics on, e.g. 127.0.0.1:9090 (default: off)")
	str(&c.ProjectsFile, "projects", "CONSOLE_PROJECTS_FILE", "YAML file listing the ModelArts projects and regions to manage (replaces the single-project settings)")
	str(&c.Region, "region", "MODELARTS_REGION", "ModelArts region, e.g. cn-north-9")
	str(&c.Endpoint, "endpoint", "MODELARTS_ENDPOINT", "ModelArts endpoint URL (overrides the region's)")
	str(&c.ProjectID, "project-id", "MODELARTS_PROJECT_ID", "project ID")
	str(&c.AccessKey, "ak", "HUAWEICLOUD_SDK_AK", "access key ID (its secret key comes only from the environment)")
	secret(&c.SecretKey, "HUAWEICLOUD_SDK_SK")
	secret(&c.SecurityToken, "HUAWEICLOUD_SDK_SECURITY_TOKEN")
	secret(&c.AuthToken, "MODELARTS_AUTH_TOKEN")
	str(&c.IAMEndpoint, "iam-endpoint", "MODELARTS_IAM_ENDPOINT", "IAM endpoint (default https://iam.{region}.myhuaweicloud.com)")
	str(&c.IAMUser, "iam-user", "MODELARTS_IAM_USER", "IAM user name, to obtain a token (its password comes only from the environment)")
	secret(&c.IAMPassword, "MODELARTS_IAM_PASSWORD")
	str(&c.IAMDomain, "iam-domain", "MODELARTS_IAM_DOMAIN", "IAM account (domain) name")
	str(&c.IAMProject, "iam-project", "MODELARTS_IAM_PROJECT", "IAM project name (default: the region)")
	dur(&c.RequestTimeout, "timeout", "MODELARTS_TIMEOUT", "timeout of one call to ModelArts")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "CONSOLE_SHUTDOWN_TIMEOUT", "how long a stopping console waits for batch chunks on their way")
	integer(&c.SimServers, "sim-servers", "CONSOLE_SIM_SERVERS", "servers in the embedded simulator")
	fs.Func("sim-seed", "seed of the simulator's fleet ($CONSOLE_SIM_SEED)", func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", s)
		}
		c.SimSeed = n
		return nil
	})
	fromEnv("sim-seed", "CONSOLE_SIM_SEED")
	dur(&c.SimTransition, "sim-transition", "CONSOLE_SIM_TRANSITION", "how long simulated transitions take")
	secret(&c.AdminPassword, "CONSOLE_ADMIN_PASSWORD")
	secret(&c.SessionKey, "CONSOLE_SESSION_KEY")
	dur(&c.SessionIdle, "session-idle", "CONSOLE_SESSION_IDLE", "idle session timeout")
	dur(&c.SessionAbsolute, "session-absolute", "CONSOLE_SESSION_ABSOLUTE", "absolute session lifetime")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", getenv("CONSOLE_SECURE_COOKIES") == "true" || getenv("CONSOLE_SECURE_COOKIES") == "1",
		"mark cookies Secure: the console is behind a TLS-terminating proxy ($CONSOLE_SECURE_COOKIES)")
	fs.Func("trusted-proxies", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed ($CONSOLE_TRUSTED_PROXIES)", func(v string) error {
		ps, err := ParsePrefixes(v)
		if err != nil {
			return err
		}
		c.TrustedProxies = ps
		return nil
	})
	fromEnv("trusted-proxies", "CONSOLE_TRUSTED_PROXIES")
	fs.Func("mfa-required", "comma-separated roles that must use a second factor, e.g. operator,approver,admin ($CONSOLE_MFA_REQUIRED)", func(v string) error {
		roles, err := ParseRoles(v)
		if err != nil {
			return err
		}
		c.MFARequired = roles
		return nil
	})
	fromEnv("mfa-required", "CONSOLE_MFA_REQUIRED")
	dur(&c.FleetTTL, "fleet-ttl", "CONSOLE_FLEET_TTL", "how long one fleet listing is shared between users")
	integer(&c.ChunkSize, "chunk-size", "CONSOLE_CHUNK_SIZE", "servers per batch request")
	str(&c.LogLevel, "log-level", "CONSOLE_LOG_LEVEL", "debug, info, warn or error")
	// The audit key is a secret too: $CONSOLE_AUDIT_KEY only. Its file,
	// $CONSOLE_AUDIT_KEY_FILE, is kept as a path (audit.LoadKey reads it and
	// checks its permissions), so it may be a flag.
	if v := getenv("CONSOLE_AUDIT_KEY"); v != "" {
		c.AuditKey = v
	}
	str(&c.AuditKeyFile, "audit-key-file", "CONSOLE_AUDIT_KEY_FILE", "file holding the audit key (default: beside the database, created on first start)")
	str(&c.AuditAnchorFile, "audit-anchor-file", "CONSOLE_AUDIT_ANCHOR_FILE", "file outside the database's directory that receives signed checkpoints of the audit log")
	fs.BoolVar(&c.AuditAnchorSyslog, "audit-anchor-syslog", getenv("CONSOLE_AUDIT_ANCHOR_SYSLOG") == "true" || getenv("CONSOLE_AUDIT_ANCHOR_SYSLOG") == "1",
		"also send audit checkpoints to the local syslog ($CONSOLE_AUDIT_ANCHOR_SYSLOG)")
	dur(&c.AuditAnchorEvery, "audit-anchor-every", "CONSOLE_AUDIT_ANCHOR_EVERY", "longest time between audit checkpoints")
	dur(&c.AuditVerifyEvery, "audit-verify-every", "CONSOLE_AUDIT_VERIFY_EVERY", "time between full verifications of the audit chain")
	fs.Func("approval-actions", "comma-separated actions that need an approver's approval, or none ($CONSOLE_APPROVAL_ACTIONS, default DELETE,REINSTALLOS,CHANGEOS)", func(v string) error {
		acts, err := ParseApprovalActions(v)
		if err != nil {
			return err
		}
		c.ApprovalActions = acts
		return nil
	})
	fromEnv("approval-actions", "CONSOLE_APPROVAL_ACTIONS")
	integer(&c.ApprovalMinServers, "approval-min-servers", "CONSOLE_APPROVAL_MIN_SERVERS", "any action on this many servers or more needs approval; 0 for no size rule")
	dur(&c.ApprovalTTL, "approval-ttl", "CONSOLE_APPROVAL_TTL", "how long a request waits for a decision before it expires")
	// The key sealing approval secrets, and the webhook URL, which usually
	// carries a chat tool's token, are secrets: no flag.
	secret(&c.SecretsKey, "CONSOLE_SECRET_KEY")
	secret(&c.WebhookURL, "CONSOLE_WEBHOOK_URL")
	str(&c.WebhookFormat, "webhook-format", "CONSOLE_WEBHOOK_FORMAT", "message shape: json, wecom, dingtalk, feishu or slack")
	str(&c.WebhookLang, "webhook-lang", "CONSOLE_WEBHOOK_LANG", "language of the messages: "+strings.Join(i18n.Languages, " or "))
	fs.Func("public-url", "the console's address as users reach it, for links in messages ($CONSOLE_PUBLIC_URL)", func(v string) error {
		c.PublicURL = strings.TrimRight(strings.TrimSpace(v), "/")
		return nil
	})
	fromEnv("public-url", "CONSOLE_PUBLIC_URL")
	str(&c.LogFormat, "log-format", "CONSOLE_LOG_FORMAT", "text or json (one JSON object per line)")
	return errors.Join(envErrs...)
}

// SecretFromEnv returns the secret in $env, else the contents of the file
// named by $env_FILE without its final line ending, else "". Setting both is
// an error, as is a file that cannot be read.
func SecretFromEnv(getenv func(string) string, env string) (string, error) {
	v, file := getenv(env), getenv(env+"_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("set %s or %s_FILE, not both", env, env)
	case file == "":
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", env, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// ParseError is a command line that cannot be parsed (an unknown flag, a
// flag value of the wrong kind, a stray argument).
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Load parses args (flags) over the environment and validates the result:
// it is the one place the settings are checked. -h writes the flags to help
// and returns flag.ErrHelp.
func Load(args []string, getenv func(string) string, help io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("console serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(help, "usage: console serve [flags]  (secrets come from the environment only; see README)")
		fs.SetOutput(help)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := c.Flags(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, &ParseError{err}
	}
	if fs.NArg() > 0 {
		return c, &ParseError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if c.ProjectsFile != "" {
		ps, err := LoadProjects(c.ProjectsFile, getenv)
		if err != nil {
			return c, errors.Join(err, c.Validate())
		}
		c.Projects = ps
	}
	return c, c.Validate()
}

// ParseRoles parses a comma-separated list of console roles, ignoring
// spaces, case and repeats.
func ParseRoles(v string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(v, ",") {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" || seen[r] {
			continue
		}
		switch r {
		case "viewer", "operator", "approver", "admin":
		default:
			return nil, fmt.Errorf("%q is not a role (viewer, operator, approver or admin)", r)
		}
		seen[r] = true
		out = append(out, r)
	}
	return out, nil
}

// ParsePrefixes parses a comma-separated list of IP addresses and CIDR
// ranges; a bare address is a single-address range.
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

var (
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	projectIDRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// Validate checks the configuration and reports every problem at once, in
// words an operator can act on.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("CONSOLE_ADDR %q is not host:port: %v", c.Addr, err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("CONSOLE_METRICS_ADDR %q is not host:port: %v", c.MetricsAddr, err)
		} else if c.MetricsAddr == c.Addr {
			bad("CONSOLE_METRICS_ADDR must differ from CONSOLE_ADDR: metrics are served on a listener of their own")
		}
	}
	if strings.TrimSpace(c.DBPath) == "" {
		bad("CONSOLE_DB must name a file or a postgres:// URL")
	}
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		bad("MODELARTS_REGION %q does not look like a region id such as cn-north-9", c.Region)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("MODELARTS_ENDPOINT %q is not an http(s) URL", c.Endpoint)
		}
	}
	legacy := c.Region != "" || c.Endpoint != "" || c.AccessKey != "" || c.SecretKey != "" ||
		c.AuthToken != "" || c.IAMUser != "" || c.IAMPassword != "" || c.IAMDomain != ""
	if c.ProjectsFile != "" || len(c.Projects) > 0 {
		if legacy {
			bad("CONSOLE_PROJECTS_FILE replaces MODELARTS_REGION, MODELARTS_ENDPOINT and the single project's credentials: set one or the other")
		}
		seen := map[string]bool{}
		for _, p := range c.Projects {
			if !projectNameRE.MatchString(p.Name) || seen[p.Name] {
				bad("project %q: names must be unique, 1 to 32 lower-case letters, digits and '-'", p.Name)
			}
			seen[p.Name] = true
			if p.Simulated {
				continue
			}
			for _, err := range p.validate("region", "endpoint", "project_id", "credentials") {
				bad("project %q: %v", p.Name, err)
			}
		}
	} else if !c.Simulated() {
		if c.ProjectID == "" {
			bad("MODELARTS_PROJECT_ID is required with a region or endpoint")
		} else if !projectIDRE.MatchString(c.ProjectID) {
			bad("MODELARTS_PROJECT_ID %q: 1 to 64 letters, digits and hyphens", c.ProjectID)
		}
		aksk, iam, n := credentialKinds(c.AccessKey, c.SecretKey, c.AuthToken, c.IAMUser, c.IAMPassword, c.IAMDomain)
		switch {
		case n == 0:
			bad("no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or MODELARTS_AUTH_TOKEN, or MODELARTS_IAM_USER/PASSWORD/DOMAIN")
		case n > 1:
			bad("choose one kind of credentials: AK/SK, an IAM token, or an IAM user")
		case aksk && (c.AccessKey == "" || c.SecretKey == ""):
			bad("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK must be set together")
		case iam && (c.IAMUser == "" || c.IAMPassword == "" || c.IAMDomain == ""):
			bad("MODELARTS_IAM_USER, MODELARTS_IAM_PASSWORD and MODELARTS_IAM_DOMAIN must be set together")
		case iam && c.Region == "" && c.IAMEndpoint == "":
			bad("an IAM user needs MODELARTS_REGION or MODELARTS_IAM_ENDPOINT to know where to get a token")
		}
		if c.SecurityToken != "" && c.AccessKey == "" {
			bad("HUAWEICLOUD_SDK_SECURITY_TOKEN needs temporary AK/SK as well")
		}
	}
	if c.RequestTimeout <= 0 {
		bad("MODELARTS_TIMEOUT must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		bad("CONSOLE_SHUTDOWN_TIMEOUT must be positive")
	}
	if c.SimServers < 0 || c.SimServers > 100000 {
		bad("CONSOLE_SIM_SERVERS must be between 0 and 100000")
	}
	if c.SimTransition < 0 {
		bad("CONSOLE_SIM_TRANSITION must not be negative")
	}
	if c.SessionIdle <= 0 || c.SessionAbsolute <= 0 || c.SessionIdle > c.SessionAbsolute {
		bad("session timeouts must be positive and the idle timeout no longer than the absolute lifetime")
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 12 {
		bad("CONSOLE_ADMIN_PASSWORD must be at least 12 characters")
	}
	if c.FleetTTL < 0 {
		bad("CONSOLE_FLEET_TTL must not be negative")
	}
	if c.ChunkSize < 1 || c.ChunkSize > 1000 {
		bad("CONSOLE_CHUNK_SIZE must be between 1 and 1000")
	}
	if c.ApprovalMinServers < 0 {
		bad("CONSOLE_APPROVAL_MIN_SERVERS must not be negative (0 turns the size rule off)")
	}
	if c.ApprovalTTL < time.Minute || c.ApprovalTTL > 30*24*time.Hour {
		bad("CONSOLE_APPROVAL_TTL must be between 1m and 720h")
	}
	if strings.TrimSpace(c.SecretsKey) != "" {
		if _, err := secrets.ParseKey(c.SecretsKey); err != nil {
			bad("CONSOLE_SECRET_KEY: %v", err)
		}
	}
	if c.WebhookURL != "" {
		// The URL often holds the chat tool's token: never repeat it.
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("CONSOLE_WEBHOOK_URL is not an http(s) URL")
		}
	}
	if !slices.Contains(WebhookFormats, c.WebhookFormat) {
		bad("CONSOLE_WEBHOOK_FORMAT must be one of %s", strings.Join(WebhookFormats, ", "))
	}
	if !i18n.Supported(c.WebhookLang) {
		bad("CONSOLE_WEBHOOK_LANG must be one of %s", strings.Join(i18n.Languages, ", "))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("CONSOLE_PUBLIC_URL %q is not an http(s) base URL such as https://console.example.com", c.PublicURL)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("CONSOLE_LOG_LEVEL must be debug, info, warn or error")
	}
	if c.AuditKey != "" && c.AuditKeyFile != "" {
		bad("set CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE, not both")
	}
	if c.AuditKey != "" {
		if _, err := ParseAuditKey(c.AuditKey); err != nil {
			bad("CONSOLE_AUDIT_KEY: %v (generate one with: head -c 32 /dev/urandom | xxd -p -c 64)", err)
		}
	}
	if c.AuditAnchorFile != "" && sameDir(c.AuditAnchorFile, c.DBPath) {
		bad("CONSOLE_AUDIT_ANCHOR_FILE %q must be outside the database's directory: whoever can replace the database could otherwise cut back the checkpoints too", c.AuditAnchorFile)
	}
	if c.AuditAnchorEvery < time.Second || c.AuditAnchorEvery > time.Hour {
		bad("CONSOLE_AUDIT_ANCHOR_EVERY must be between 1s and 1h")
	}
	if c.AuditVerifyEvery < time.Minute {
		bad("CONSOLE_AUDIT_VERIFY_EVERY must be at least 1m")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("CONSOLE_LOG_FORMAT must be text or json")
	}
	return errors.Join(errs...)
}
