package slots

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/craton-hsm/craton/backend"
	_ "modernc.org/sqlite" // pure-Go SQLite: no C symbols leak into host processes
)

// Store is one token's persistent state: a SQLite database in WAL mode.
//
// Why SQLite (through modernc.org/sqlite, a pure-Go translation): it is what
// SoftHSMv2 and Kryoptic use, it gives crash-safe atomic commits (a kill -9
// loses nothing committed), it lets several processes share one token with
// proper file locking (each sees the others' commits; none overwrites
// another's), and its B-tree indexes keep lookups fast with many objects.
// The pure-Go build matters for a c-shared library: a cgo SQLite would export
// its sqlite3_* symbols into every host process and clash with the host's own
// SQLite.
//
// The store knows rows, not PKCS#11: sealing, tags and attribute rules are
// the Token's. Every write is one transaction, begun IMMEDIATE so that two
// processes queue on the write lock instead of failing on an upgrade.
//
// Next to the database lives its change file (path + "-changes"), a counter
// every process maps and every write moves: a process tells whether the
// store may have changed since it last looked with one memory load, where a
// query costs a read transaction (file locks on the WAL index, the VDBE) on
// every use of a token object. Like SQLite's -shm, the file must not be
// deleted or truncated while processes use the store: one keeping its old
// mapping would miss the changes of the others and use stale objects.
type Store struct {
	db      *sql.DB
	path    string
	changes *changeCounter
	// version and generation are prepared once: they run on every use of a
	// token object, and every search, that the change counter cannot vouch
	// for. Parsing a statement costs more than running one of these.
	version, generation *sql.Stmt
	// refs holds Refs's statements by number of tags, prepared on first use
	// (refs[0]: no tag); searches with more tags than it holds are prepared
	// each time.
	refsMu sync.Mutex
	refs   [4]*sql.Stmt
	// found remembers what Refs returned, while the change counter vouches
	// for it: applications look the same keys up again and again (by
	// label or ID, at every TLS handshake), and a search costs a read
	// transaction.
	found refsCache
}

// refsCache holds Refs results stamped with the change counter + 1 at which
// they were read; a write by any process moves the counter and so voids them
// all at once. It keeps at most maxFound searches, dropping one at random
// (Go's map order) to make room: a search logged in asks two scopes, so
// 32,768 holds every label of a 10,000-object token twice over (about 150
// bytes each).
type refsCache struct {
	mu sync.RWMutex
	at uint64
	m  map[string][]Ref
}

const maxFound = 1 << 15

// appendRefsKey appends the cache key of a search to dst: the scope, then
// each tag with its length.
func appendRefsKey(dst []byte, tags [][]byte, private bool) []byte {
	if private {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	for _, t := range tags {
		dst = append(dst, byte(len(t)))
		dst = append(dst, t...)
	}
	return dst
}

// get returns the refs remembered for key at counter c, if any.
func (f *refsCache) get(key []byte, c uint64) ([]Ref, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.at != c+1 {
		return nil, false
	}
	refs, ok := f.m[string(key)] // no copy: a lookup only
	return refs, ok
}

// put remembers refs for key, read at counter c (before the query). The
// counter only grows: an older stamp than the cache's is dropped, a newer
// one starts the cache afresh.
func (f *refsCache) put(key []byte, c uint64, refs []Ref) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case c+1 < f.at:
		return
	case c+1 > f.at:
		f.at, f.m = c+1, make(map[string][]Ref)
	case len(f.m) >= maxFound:
		for k := range f.m {
			delete(f.m, k)
			break
		}
	}
	f.m[string(key)] = refs
}

// ErrNoObject: no row with that handle (destroyed, maybe by another process).
var ErrNoObject = errors.New("slots: no such object")

const schema = `
CREATE TABLE IF NOT EXISTS token (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	serial        TEXT NOT NULL,
	label         TEXT NOT NULL DEFAULT '',
	initialized   INTEGER NOT NULL DEFAULT 0,
	generation    INTEGER NOT NULL DEFAULT 0,
	so_salt       BLOB, so_verifier BLOB, so_wrapped BLOB, so_iterations INTEGER NOT NULL DEFAULT 0,
	so_failures   INTEGER NOT NULL DEFAULT 0,
	user_salt     BLOB, user_verifier BLOB, user_wrapped BLOB, user_iterations INTEGER NOT NULL DEFAULT 0,
	user_failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS objects (
	handle  INTEGER PRIMARY KEY AUTOINCREMENT,
	private INTEGER NOT NULL,
	clear   BLOB NOT NULL,
	sealed  BLOB,
	version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS tags (
	object INTEGER NOT NULL REFERENCES objects(handle) ON DELETE CASCADE,
	tag    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_by_tag ON tags(tag);
CREATE INDEX IF NOT EXISTS tags_by_object ON tags(object);
`

// OpenStore opens (creating if needed) the token database at path.
func OpenStore(path string) (*Store, error) {
	// Create the file ourselves so it is private to its owner from the
	// start. An existing file of zero bytes is not a new store: something
	// emptied it, and opening it would silently make a blank token.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case errors.Is(err, os.ErrExist):
		if fi, serr := os.Stat(path); serr == nil && fi.Size() == 0 {
			if _, werr := os.Stat(path + "-wal"); werr != nil {
				return nil, fmt.Errorf("token store %s is an empty file: it was truncated, or its creation was interrupted (then delete it to start a new token)", path)
			}
		}
	default:
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, changes: openChangeCounter(path + "-changes")}
	// A process that may not write the store (its change file is read-only)
	// opens it to read, if it is complete: the schema and the token row are
	// made in one transaction, so the row says it is. Any other runs the
	// schema's transaction, which makes what is missing, and fails here on a
	// database that cannot be written: SQLite would keep the connections it
	// opened read-only, and every write would fail after the fault is gone.
	if s.changes.writable() == nil || s.db.QueryRow(`SELECT 1 FROM token WHERE id = 1`).Scan(new(int)) != nil {
		err = s.tx(func(tx *sql.Tx) error {
			if _, err := tx.Exec(schema); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT OR IGNORE INTO token (id, serial) VALUES (1, ?)`, hex.EncodeToString(backend.Random(8)))
			return err
		})
	}
	if err == nil {
		s.version, err = db.Prepare(`SELECT version FROM objects WHERE handle = ?`)
	}
	if err == nil {
		s.generation, err = db.Prepare(`SELECT generation FROM token WHERE id = 1`)
	}
	if err == nil {
		err = s.fixPool()
	}
	if err != nil {
		s.changes.close()
		db.Close()
		return nil, fmt.Errorf("open token store %s: %w", path, err)
	}
	return s, nil
}

// storeConns is how many SQLite connections a store keeps: a search or an
// object read can run beside a write or another search (WAL readers do not
// block each other), and no more, so that many threads do not make the pool
// open and close connections (each a file descriptor or two and a page
// cache).
const storeConns = 2

// fixPool opens the store's storeConns connections now and keeps them for
// its life: the process's file descriptors stay as they are after
// C_Initialize, and a search never waits for a connection to open (about
// 0.3 ms here).
func (s *Store) fixPool() error {
	s.db.SetMaxOpenConns(storeConns)
	s.db.SetMaxIdleConns(storeConns)
	ctx := context.Background()
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range storeConns {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

func (s *Store) Close() error {
	for _, st := range append([]*sql.Stmt{s.version, s.generation}, s.refs[:]...) {
		if st != nil {
			st.Close()
		}
	}
	s.changes.close()
	return s.db.Close()
}

// tx runs f in a write transaction and moves the change counter around it.
// The counter is written only by the holder of the database's write lock
// (taken by BEGIN IMMEDIATE), so writers never race on it.
func (s *Store) tx(f func(*sql.Tx) error) error {
	if err := s.changes.writable(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	defer s.changes.end(s.changes.begin())
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// changeFileSize is what the change file is sized to: one page, so that
// the mapping never reaches past the end of the file.
const changeFileSize = 4096

// errChangesReadOnly: this process cannot write the change file, so it may
// not write the store either (the other processes would not see the change).
var errChangesReadOnly = errors.New("slots: the store's change file is not writable, so the store is read-only")

// changeCounter is the change file of a store, mapped shared. Its first 8
// bytes are the counter: odd while a write may be committing, and moved by
// every write. So what a process read from the database after it saw the
// counter even at some value is still current while the counter reads that
// value.
type changeCounter struct {
	path string
	// read is the counter that Load reads, in a writable mapping or else a
	// read-only one; nil when the file could not be mapped at all.
	read atomic.Pointer[uint64]

	mu sync.Mutex
	// write is the counter in a writable mapping; nil until one is made.
	// Set once, it does not change until close.
	write    *uint64
	mappings [][]byte
}

// openChangeCounter maps the change file at path, creating it: read-write
// if it can, else read-only (a read-only mount, an immutable file), else
// not at all, and then every use of a cached object asks the database.
func openChangeCounter(path string) *changeCounter {
	c := &changeCounter{path: path}
	if c.writable() != nil {
		if m, err := mapChangeFile(path, false); err == nil {
			c.mappings = append(c.mappings, m)
			c.read.Store(counterIn(m))
		}
	}
	return c
}

// mapChangeFile maps the change file, writable or not. A writable one is
// created and sized if needed; a read-only one must hold the counter
// already, since reading a mapped page past the end of a file is SIGBUS.
func mapChangeFile(path string, writable bool) ([]byte, error) {
	flag, prot := os.O_RDONLY, syscall.PROT_READ
	if writable {
		flag, prot = os.O_RDWR|os.O_CREATE, syscall.PROT_READ|syscall.PROT_WRITE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < changeFileSize {
		if !writable {
			return nil, fmt.Errorf("%s: %d bytes, want %d", path, fi.Size(), changeFileSize)
		}
		if err := f.Truncate(changeFileSize); err != nil {
			return nil, err
		}
	}
	return syscall.Mmap(int(f.Fd()), 0, changeFileSize, prot, syscall.MAP_SHARED)
}

func counterIn(m []byte) *uint64 { return (*uint64)(unsafe.Pointer(&m[0])) }

// writable makes sure this process has the counter mapped writable,
// mapping it again if it was read-only when the store opened (the fault
// may be gone). Without it, no write may go to the store.
func (c *changeCounter) writable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.write != nil {
		return nil
	}
	m, err := mapChangeFile(c.path, true)
	if err != nil {
		return fmt.Errorf("%w: %w", errChangesReadOnly, err)
	}
	c.mappings = append(c.mappings, m)
	c.write = counterIn(m)
	c.read.Store(c.write)
	return nil
}

// begin marks a write under way: the counter turns odd. One left odd by a
// writer that died mid-write, or by one that has committed but not yet
// called end, moves on by two, so that it still changes. It returns the
// value it stored, for end.
func (c *changeCounter) begin() uint64 {
	v := atomic.LoadUint64(c.write)
	atomic.StoreUint64(c.write, v+1+v%2)
	return v + 1 + v%2
}

// end marks the write that began at mine done (committed or not): the
// counter turns even again, unless another writer has begun since. end runs
// after the commit, when the database's write lock is already free, so
// another process may begin in between; it then owns the counter, which
// must stay odd until its own end. Were end to add one regardless, the
// counter would read even while that write committed, and a reader could
// stamp what it read before that commit as current.
func (c *changeCounter) end(mine uint64) { atomic.CompareAndSwapUint64(c.write, mine, mine+1) }

// Load reads the counter. ok is false when it cannot be trusted: no
// mapping, or a write under way (or interrupted by a crash).
func (c *changeCounter) Load() (v uint64, ok bool) {
	p := c.read.Load()
	if p == nil {
		return 0, false
	}
	v = atomic.LoadUint64(p)
	return v, v%2 == 0
}

func (c *changeCounter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read.Store(nil)
	c.write = nil
	for _, m := range c.mappings {
		syscall.Munmap(m)
	}
	c.mappings = nil
}

// PINRecord is what the store keeps of one PIN: never the PIN itself.
type PINRecord struct {
	Salt, Verifier, Wrapped []byte
	Iterations              int
	Failures                int
}

func (p PINRecord) Set() bool { return len(p.Verifier) != 0 }

// TokenRecord is the token row.
type TokenRecord struct {
	Serial      string
	Label       string
	Initialized bool
	Generation  int64
	SO, User    PINRecord
}

// LoadToken reads the token row.
func (s *Store) LoadToken() (TokenRecord, error) {
	var r TokenRecord
	err := s.db.QueryRow(`SELECT serial, label, initialized, generation,
		so_salt, so_verifier, so_wrapped, so_iterations, so_failures,
		user_salt, user_verifier, user_wrapped, user_iterations, user_failures
		FROM token WHERE id = 1`).Scan(&r.Serial, &r.Label, &r.Initialized, &r.Generation,
		&r.SO.Salt, &r.SO.Verifier, &r.SO.Wrapped, &r.SO.Iterations, &r.SO.Failures,
		&r.User.Salt, &r.User.Verifier, &r.User.Wrapped, &r.User.Iterations, &r.User.Failures)
	return r, err
}

// Reinitialize wipes every object and writes a fresh token row (label, SO
// PIN, no user PIN), in one transaction: a crash leaves the old token or the
// new one, never a mix.
func (s *Store) Reinitialize(label string, so PINRecord) (int64, error) {
	var gen int64
	err := s.tx(func(tx *sql.Tx) error {
		if _, err := tx.Exec(`DELETE FROM tags; DELETE FROM objects;`); err != nil {
			return err
		}
		return tx.QueryRow(`UPDATE token SET label = ?, initialized = 1, generation = generation + 1,
			so_salt = ?, so_verifier = ?, so_wrapped = ?, so_iterations = ?, so_failures = 0,
			user_salt = NULL, user_verifier = NULL, user_wrapped = NULL, user_iterations = 0, user_failures = 0
			WHERE id = 1 RETURNING generation`, label, so.Salt, so.Verifier, so.Wrapped, so.Iterations).Scan(&gen)
	})
	return gen, err
}

// PINSlot names one of the two PINs.
type PINSlot string

const (
	SOPIN   PINSlot = "so"
	UserPIN PINSlot = "user"
)

// SetPIN replaces a PIN record and clears its failure count, provided the
// token is still the generation the caller read (else it was re-initialised
// under us, and the caller's token key is the wrong one).
func (s *Store) SetPIN(which PINSlot, gen int64, p PINRecord) error {
	return s.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(fmt.Sprintf(`UPDATE token SET %[1]s_salt = ?, %[1]s_verifier = ?, %[1]s_wrapped = ?,
			%[1]s_iterations = ?, %[1]s_failures = 0 WHERE id = 1 AND generation = ?`, which),
			p.Salt, p.Verifier, p.Wrapped, p.Iterations, gen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrTokenChanged
		}
		return nil
	})
}

// ErrTokenChanged: another process re-initialised the token meanwhile.
var ErrTokenChanged = errors.New("slots: token was re-initialised by another process")

// BeginAttempt counts a PIN attempt as a failure before the PIN is checked,
// in one atomic step with the lock check: it returns the new count, or
// ok = false when the PIN is already locked (count at max). A correct PIN
// then resets the count. Counting first means parallel guesses, in this
// process or others, can never run more PIN checks than max allows, and a
// crash mid-check errs on the side of the lock.
func (s *Store) BeginAttempt(which PINSlot, max int) (n int, ok bool, err error) {
	err = s.tx(func(tx *sql.Tx) error {
		err := tx.QueryRow(fmt.Sprintf(`UPDATE token SET %[1]s_failures = %[1]s_failures + 1
			WHERE id = 1 AND %[1]s_failures < ? RETURNING %[1]s_failures`, which), max).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return n, ok, err
}

// ResetFailures clears the failure count after a good PIN.
func (s *Store) ResetFailures(which PINSlot) error {
	return s.tx(func(tx *sql.Tx) error {
		_, err := tx.Exec(fmt.Sprintf(`UPDATE token SET %[1]s_failures = 0 WHERE id = 1`, which))
		return err
	})
}

// Row is one stored object.
type Row struct {
	Handle  int64
	Private bool
	Clear   []byte // encoded attributes stored in clear
	Sealed  []byte // encoded attributes sealed under the token key, or nil
	Version int64
	Tags    [][]byte
	// Generation, when not 0, is the token generation whose key sealed this
	// row: the write is refused with ErrTokenChanged if the token has been
	// re-initialised since, so a stale login can never store a record the
	// new token key cannot open.
	Generation int64
}

func checkGeneration(tx *sql.Tx, gen int64) error {
	if gen == 0 {
		return nil
	}
	var cur int64
	if err := tx.QueryRow(`SELECT generation FROM token WHERE id = 1`).Scan(&cur); err != nil {
		return err
	}
	if cur != gen {
		return ErrTokenChanged
	}
	return nil
}

// Generation reads the token's generation (bumped by every C_InitToken).
func (s *Store) Generation() (int64, error) {
	var g int64
	err := s.generation.QueryRow().Scan(&g)
	return g, err
}

// Insert stores a new object and returns its handle.
func (s *Store) Insert(r Row) (int64, error) {
	var h int64
	err := s.tx(func(tx *sql.Tx) error {
		var err error
		h, err = insertRowID(tx, r)
		return err
	})
	return h, err
}

// sqlTx is the transaction type store helpers take.
type sqlTx = sql.Tx

func insertRow(tx *sql.Tx, r Row) error {
	_, err := insertRowID(tx, r)
	return err
}

func insertRowID(tx *sql.Tx, r Row) (int64, error) {
	if err := checkGeneration(tx, r.Generation); err != nil {
		return 0, err
	}
	var h int64
	if err := tx.QueryRow(`INSERT INTO objects (private, clear, sealed) VALUES (?, ?, ?) RETURNING handle`,
		r.Private, r.Clear, r.Sealed).Scan(&h); err != nil {
		return 0, err
	}
	return h, insertTags(tx, h, r.Tags)
}

func insertTags(tx *sql.Tx, h int64, tags [][]byte) error {
	for _, t := range tags {
		if _, err := tx.Exec(`INSERT INTO tags (object, tag) VALUES (?, ?)`, h, t); err != nil {
			return err
		}
	}
	return nil
}

// Update replaces an object's attributes if its version is still
// wantVersion (optimistic concurrency across processes) and returns the new
// version. A changed version is ErrConflict; a vanished row ErrNoObject.
func (s *Store) Update(r Row, wantVersion int64) (int64, error) {
	var v int64
	err := s.tx(func(tx *sql.Tx) error {
		if err := checkGeneration(tx, r.Generation); err != nil {
			return err
		}
		err := tx.QueryRow(`UPDATE objects SET private = ?, clear = ?, sealed = ?, version = version + 1
			WHERE handle = ? AND version = ? RETURNING version`, r.Private, r.Clear, r.Sealed, r.Handle, wantVersion).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			var cur int64
			if tx.QueryRow(`SELECT version FROM objects WHERE handle = ?`, r.Handle).Scan(&cur) == nil {
				return ErrConflict
			}
			return ErrNoObject
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM tags WHERE object = ?`, r.Handle); err != nil {
			return err
		}
		return insertTags(tx, r.Handle, r.Tags)
	})
	return v, err
}

// ErrConflict: another process changed the object since it was read.
var ErrConflict = errors.New("slots: object changed by another process")

// Delete removes an object; ErrNoObject if it was already gone.
func (s *Store) Delete(h int64) error {
	return s.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM objects WHERE handle = ?`, h)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoObject
		}
		return nil
	})
}

// Get reads one object row (without its tags).
func (s *Store) Get(h int64) (Row, error) {
	r := Row{Handle: h}
	err := s.db.QueryRow(`SELECT private, clear, sealed, version FROM objects WHERE handle = ?`, h).
		Scan(&r.Private, &r.Clear, &r.Sealed, &r.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoObject
	}
	return r, err
}

// Ref names a row and its version, so a cached object can be checked cheaply.
type Ref struct {
	Handle, Version int64
	Private         bool
}

// Refs lists the objects whose private flag is private and that carry every
// tag in tags (all of them when tags is empty). The slice it returns may be
// shared: the caller must not change it.
func (s *Store) Refs(tags [][]byte, private bool) ([]Ref, error) {
	c, trusted := s.changes.Load()
	if !trusted {
		return s.queryRefs(tags, private)
	}
	var kb [128]byte // most searches' keys fit: no allocation for a hit
	key := appendRefsKey(kb[:0], tags, private)
	if refs, ok := s.found.get(key, c); ok {
		return refs, nil
	}
	refs, err := s.queryRefs(tags, private)
	if err == nil {
		s.found.put(key, c, refs)
	}
	return refs, err
}

// queryRefs is Refs from the database.
// The tags are copied into the arguments: what goes into an interface
// escapes, and the caller's tags should not have to (a search that is
// answered from memory then allocates none).
func (s *Store) queryRefs(tags [][]byte, private bool) ([]Ref, error) {
	args := make([]any, 0, 1+len(tags))
	if len(tags) > 0 {
		args = append(args, bytes.Clone(tags[0]))
	}
	args = append(args, private)
	for _, t := range tags[min(len(tags), 1):] {
		args = append(args, bytes.Clone(t))
	}
	var rows *sql.Rows
	var err error
	if st, perr := s.refsStmt(len(tags)); perr != nil {
		return nil, perr
	} else if st != nil {
		rows, err = st.Query(args...)
	} else {
		rows, err = s.db.Query(refsQuery(len(tags)), args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Ref
	for rows.Next() {
		var r Ref
		if err := rows.Scan(&r.Handle, &r.Version, &r.Private); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// refsStmt returns the prepared statement for a search with n tags, nil
// when n is more than s.refs holds.
func (s *Store) refsStmt(n int) (*sql.Stmt, error) {
	if n >= len(s.refs) {
		return nil, nil
	}
	s.refsMu.Lock()
	defer s.refsMu.Unlock()
	if s.refs[n] == nil {
		st, err := s.db.Prepare(refsQuery(n))
		if err != nil {
			return nil, err
		}
		s.refs[n] = st
	}
	return s.refs[n], nil
}

// refsQuery is Refs's query for n tags. Its arguments: the first tag (if
// any), the private flag, then the other tags.
func refsQuery(n int) string {
	if n == 0 {
		return `SELECT handle, version, private FROM objects o WHERE private = ? ORDER BY 1`
	}
	// The first tag drives the search through its index; the others
	// narrow it.
	q := `SELECT o.handle, o.version, o.private FROM tags t JOIN objects o ON o.handle = t.object
		WHERE t.tag = ? AND o.private = ?`
	for range n - 1 {
		q += ` AND EXISTS (SELECT 1 FROM tags u WHERE u.object = o.handle AND u.tag = ?)`
	}
	return q + ` ORDER BY 1`
}

// Version reads the current version of one object.
func (s *Store) Version(h int64) (int64, error) {
	var v int64
	err := s.version.QueryRow(h).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNoObject
	}
	return v, err
}
