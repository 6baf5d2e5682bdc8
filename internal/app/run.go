package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/store"
)

// Run builds the console from cfg and serves it until ctx is cancelled
// ("console serve"), then closes it. The listening socket is opened first,
// so a busy port is reported before anything is written to the database.
// out receives the one-time bootstrap message (see New).
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) (err error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	a, err := New(ctx, cfg, log, out)
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	log.Info("console listening", "url", "http://"+ln.Addr().String(), "db", store.Redact(cfg.DBPath), "simulator", cfg.Simulated())
	return a.Serve(ctx, ln)
}
