package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
)

// LockKey names a lock shared by every replica: a PostgreSQL advisory lock
// key.
type LockKey int64

// LockKeyFor returns the lock key for name ("audit-chain", "batch:<id>",
// ...): a 64-bit FNV-1a hash of it, so unrelated names practically never
// share a key (and if two did, they would only wait for each other).
func LockKeyFor(name string) LockKey {
	h := fnv.New64a()
	h.Write([]byte("devserver-console:" + name))
	return LockKey(h.Sum64())
}

// LockAuditChain serialises appends to the audit log's hash chain across
// replicas: every append transaction takes it before it reads the chain's
// head, so two replicas can never link two entries to the same predecessor.
var LockAuditChain = LockKeyFor("audit-chain")

// LockXact takes key for the rest of the write transaction tx, waiting for
// other transactions (of any replica) that hold it, and releases it when tx
// ends. On PostgreSQL it is pg_advisory_xact_lock. On SQLite it does
// nothing: a write transaction (begun IMMEDIATE on db.Write) already holds
// the database's only write lock.
func (db *DB) LockXact(ctx context.Context, tx sqlx.ExecerContext, key LockKey) error {
	if db.Engine != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(key)); err != nil {
		return fmt.Errorf("store: take lock %d: %w", key, err)
	}
	return nil
}

// Claims hands out named, exclusive claims on work shared by the replicas
// (following a running batch): at most one holder per name at a time among
// every replica's Claims, and a holder that dies loses its claims at once,
// so another replica can take the work over.
//
// On PostgreSQL a claim is a session-level advisory lock held on a
// connection of the Claims' own: it ends with that connection, so a replica
// killed with SIGKILL frees its claims as soon as the server sees the
// connection close. Check (run by the Claims every checkEvery) finds a
// broken connection and ends every claim it held (Claim.Lost), since
// another replica may hold them now. On SQLite, where one process serves the
// database, claims are kept in memory.
type Claims struct {
	db   *DB
	mu   sync.Mutex
	conn *pgx.Conn // PostgreSQL: holds the locks; nil until needed or after a loss
	held map[string]*Claim
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// Claim is one held claim.
type Claim struct {
	c    *Claims
	name string
	lost chan struct{}
}

// Name returns the claimed name.
func (cl *Claim) Name() string { return cl.name }

// Lost is closed when the claim ended without Release: the connection that
// held it broke, or the Claims were closed. The holder must stop the work.
func (cl *Claim) Lost() <-chan struct{} { return cl.lost }

// NewClaims returns the replica's claim holder. checkEvery (0: 5 s) is how
// often it checks that its connection still holds the claims.
func (db *DB) NewClaims(checkEvery time.Duration) *Claims {
	if checkEvery <= 0 {
		checkEvery = 5 * time.Second
	}
	c := &Claims{db: db, held: map[string]*Claim{}, stop: make(chan struct{})}
	if db.Engine == Postgres {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			t := time.NewTicker(checkEvery)
			defer t.Stop()
			for {
				select {
				case <-c.stop:
					return
				case <-t.C:
					ctx, cancel := context.WithTimeout(context.Background(), checkEvery)
					_ = c.Check(ctx)
					cancel()
				}
			}
		}()
	}
	return c
}

// TryClaim claims name if no replica holds it, without waiting. It returns
// nil and no error when someone else (this replica included) holds it.
func (c *Claims) TryClaim(ctx context.Context, name string) (*Claim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stop:
		return nil, errClosed
	default:
	}
	if _, ok := c.held[name]; ok {
		return nil, nil
	}
	if c.db.Engine == Postgres {
		if c.conn == nil {
			conn, err := connect(ctx, c.db.dsn, "devserver-console claims")
			if err != nil {
				return nil, fmt.Errorf("store: claim %s: %w", name, redactErr(err, c.db.dsn))
			}
			c.conn = conn
		}
		var ok bool
		if err := c.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(LockKeyFor("claim:"+name))).Scan(&ok); err != nil {
			c.lostLocked()
			return nil, fmt.Errorf("store: claim %s: %w", name, err)
		}
		if !ok {
			return nil, nil
		}
	} else {
		c.db.claimMu.Lock()
		taken := c.db.claimed[name]
		c.db.claimed[name] = true
		c.db.claimMu.Unlock()
		if taken {
			return nil, nil
		}
	}
	cl := &Claim{c: c, name: name, lost: make(chan struct{})}
	c.held[name] = cl
	return cl, nil
}

// Release gives the claim up. Releasing a lost claim does nothing.
func (cl *Claim) Release(ctx context.Context) error {
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[cl.name] != cl {
		return nil
	}
	delete(c.held, cl.name)
	c.unclaimLocal(cl.name)
	if c.db.Engine == Postgres && c.conn != nil {
		if _, err := c.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(LockKeyFor("claim:"+cl.name))); err != nil {
			// The lock may still be held by a connection we can no longer
			// use: drop it, which frees every lock it held.
			close(cl.lost)
			c.lostLocked()
			return fmt.Errorf("store: release claim %s: %w", cl.name, err)
		}
	}
	return nil
}

// Check verifies that the claims are still held (that the connection holding
// them answers); if not, every claim is lost.
func (c *Claims) Check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	if err := c.conn.Ping(ctx); err != nil {
		c.lostLocked()
		return fmt.Errorf("store: claims connection: %w", err)
	}
	return nil
}

// lostLocked ends every claim and drops the connection (c.mu held).
func (c *Claims) lostLocked() {
	if c.conn != nil {
		c.conn.Close(context.Background())
		c.conn = nil
	}
	for name, cl := range c.held {
		close(cl.lost)
		delete(c.held, name)
		c.unclaimLocal(name)
	}
}

// unclaimLocal forgets a SQLite claim.
func (c *Claims) unclaimLocal(name string) {
	if c.db.Engine == Postgres {
		return
	}
	c.db.claimMu.Lock()
	delete(c.db.claimed, name)
	c.db.claimMu.Unlock()
}

// Close releases every claim (they end as lost) and stops the checks.
func (c *Claims) Close() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
	c.mu.Lock()
	c.lostLocked()
	c.mu.Unlock()
}

// LockAuditIndex serialises the writers of the audit log's search indexes
// (audit.Store's index catch-up) across replicas, so two never index the
// same entries.
var LockAuditIndex = LockKeyFor("audit-index")
