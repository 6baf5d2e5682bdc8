package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/web"
)

// SimulatorProjectID is the project id of the embedded simulator's first
// project when none is configured.
var SimulatorProjectID = config.SimulatedProjects(1)[0].ProjectID

// project is one ModelArts target with its own client, fleet cache and
// batch service (and, when simulated, its own embedded simulator).
type project struct {
	cfg      config.Project
	endpoint string
	client   *modelarts.Client
	fleet    *fleet.Cache
	batches  *batch.Service

	sim    *simulator.Simulator
	simSrv *http.Server
}

// openProjects builds every configured project, gives the batches written
// before projects existed to the first one, and recovers each project's
// interrupted batches.
func (a *App) openProjects(ctx context.Context) error {
	targets := a.cfg.Targets()
	for _, t := range targets {
		p, err := a.openProject(t)
		if err != nil {
			return fmt.Errorf("project %s: %w", t.Name, err)
		}
		a.projects = append(a.projects, p)
	}
	if err := a.adoptUnlabelled(ctx, targets[0].Name); err != nil {
		return err
	}
	for _, p := range a.projects {
		// The approval policy decides, in the batch service, which confirmed
		// actions become requests; approved ones run through it as the
		// requester.
		p.batches.SetGate(a.approval.Policy())
		p.batches.OnFinished(func(_ context.Context, b *batch.Batch) { a.notifier.Notify(batchFinished(a.notifyLoc, b)) })
		if err := p.batches.Recover(ctx); err != nil {
			return fmt.Errorf("project %s: batches: recover interrupted batches: %w", p.cfg.Name, err)
		}
	}
	return nil
}

// adoptUnlabelled gives batches, previews and approval requests recorded
// before projects existed (an empty project) to the first project: they were that console's one
// project.
func (a *App) adoptUnlabelled(ctx context.Context, name string) error {
	for _, q := range []string{
		`UPDATE batches SET project = ? WHERE project = ''`,
		`UPDATE prepared_actions SET project = ? WHERE project = ''`,
		`UPDATE approval_requests SET project = ? WHERE project = ''`,
	} {
		if _, err := a.db.Write.ExecContext(ctx, q, name); err != nil {
			return fmt.Errorf("give earlier batches to project %s: %w", name, err)
		}
	}
	return nil
}

func (a *App) openProject(t config.Project) (*project, error) {
	cfg := a.cfg
	p := &project{cfg: t}
	mc := modelarts.Config{
		ProjectID:  t.ProjectID,
		HTTPClient: &http.Client{Timeout: cfg.RequestTimeout},
		Logger:     a.log.With("project", t.Name),
		// The largest page the list API allows: a walk of 2,000 servers is
		// 2 calls instead of 20.
		PageSize: modelarts.MaxPageSize,
		Observer: a.metrics.Cloud(t.Name),
	}
	switch {
	case t.Simulated:
		p.sim = simulator.New(simulator.Options{Servers: cfg.SimServers, Seed: t.SimSeed, Transition: cfg.SimTransition,
			ProjectID: t.ProjectID})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("simulator: listen: %w", err)
		}
		p.simSrv = &http.Server{Handler: p.sim, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := p.simSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("embedded simulator stopped", "project", t.Name, "err", err)
			}
		}()
		mc.Endpoint = "http://" + ln.Addr().String()
		mc.Auth = modelarts.NoAuth()
		a.log.Warn("no cloud configured: using the embedded ModelArts simulator, not a real cloud",
			"project", t.Name, "simulator", mc.Endpoint, "servers", cfg.SimServers, "transition", cfg.SimTransition.String())
	default:
		mc.Endpoint = t.Endpoint
		if mc.Endpoint == "" {
			mc.Endpoint = modelarts.EndpointForRegion(t.Region)
		}
		switch {
		case t.AccessKey != "":
			mc.Auth = modelarts.NewAKSK(t.AccessKey, t.SecretKey, t.SecurityToken, t.ProjectID)
		case t.AuthToken != "":
			mc.Auth = modelarts.StaticToken(t.AuthToken)
		default:
			iamEndpoint := t.IAMEndpoint
			if iamEndpoint == "" {
				iamEndpoint = "https://iam." + t.Region + ".myhuaweicloud.com"
			}
			scope := t.IAMProject
			if scope == "" {
				scope = t.Region
			}
			mc.Auth = modelarts.NewIAMToken(modelarts.IAMConfig{
				Endpoint: iamEndpoint, Username: t.IAMUser, Password: t.IAMPassword,
				Domain: t.IAMDomain, ProjectName: scope,
				HTTPClient: &http.Client{Timeout: cfg.RequestTimeout},
				Observer:   a.metrics.Cloud(t.Name),
			})
		}
		a.log.Info("using ModelArts", "project", t.Name, "endpoint", mc.Endpoint, "project_id", t.ProjectID)
	}
	p.endpoint = mc.Endpoint
	var err error
	if p.client, err = modelarts.NewClient(mc); err != nil {
		return nil, err
	}
	p.fleet = fleet.NewCache(a.metrics.Walks(t.Name, p.client), cfg.FleetTTL, time.Now)
	if p.batches, err = batch.NewService(batch.Config{
		Cloud:          p.client,
		Audit:          a.audit,
		Fleet:          p.fleet,
		DB:             a.db,
		ChunkSize:      cfg.ChunkSize,
		Timeout:        cfg.RequestTimeout,
		FollowInterval: cfg.BatchFollowInterval,
		SettleGrace:    cfg.BatchSettleGrace,
		Log:            a.log.With("project", t.Name),
		Observer:       a.metrics.Batches(t.Name),
		Project:        t.Name,

		RecoverCalls: a.audit.RecoverUnfinishedFor,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// webProjects is what the web layer needs of each project.
func (a *App) webProjects() []web.Project {
	out := make([]web.Project, len(a.projects))
	for i, p := range a.projects {
		out[i] = web.Project{
			Name: p.cfg.Name, Region: p.cfg.Region, Endpoint: p.endpoint, ProjectID: p.cfg.ProjectID,
			Fleet: p.fleet, Batches: p.batches,
		}
	}
	return out
}

// Project returns the simulator, fleet cache and batch service of the
// project named name (nil, nil, nil when there is none).
func (a *App) Project(name string) (*simulator.Simulator, *fleet.Cache, *batch.Service) {
	for _, p := range a.projects {
		if p.cfg.Name == name {
			return p.sim, p.fleet, p.batches
		}
	}
	return nil, nil, nil
}

// ProjectNames lists the configured projects' names, the default first.
func (a *App) ProjectNames() []string {
	out := make([]string, len(a.projects))
	for i, p := range a.projects {
		out[i] = p.cfg.Name
	}
	return out
}
