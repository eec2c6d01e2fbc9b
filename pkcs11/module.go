// Package pkcs11 is Craton's PKCS#11 surface in Go types: one Module value
// whose methods implement every C_* function, over session/, slots/ and
// backend/. It has no cgo: cmd/libcraton marshals C arguments into these
// methods, and tests drive a Module directly under the race detector.
//
// Lock order: Module.mu (read-held for the whole of every call, write-held by
// C_Initialize and C_Finalize, so finalisation waits for calls in flight),
// then session.Table, then a Session's lock, then a slots.Token's lock.
package pkcs11

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/config"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/session"
	"github.com/craton-hsm/craton/slots"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Module is the whole PKCS#11 surface in Go types.
//
// Every call read-locks the module (so that C_Finalize, which write-locks
// it, waits for the calls in flight); C_Initialize and C_Finalize write-lock
// it. The lock is split in shards, one per session handle modulo
// moduleShards, each on its own cache line: threads working on their own
// sessions then never write a shared line just to enter (a single RWMutex,
// even read-locked, made every core write its counter). Write-locking takes
// every shard, in order.
type Module struct {
	shards [moduleShards]moduleShard
	st     *state      // nil outside C_Initialize … C_Finalize; written with every shard locked
	ready  atomic.Bool // st != nil, for CheckInitialized without a lock

	// Options for tests: a configuration to use instead of config.Load, and
	// a logger instead of the one the configuration describes.
	opts Options
}

// Options adjust a Module for tests and embedding.
type Options struct {
	Config *config.Config
	Logger *zap.Logger
	// Journal replaces the process-wide GCM journal (tests run many modules
	// with their own stores in one process).
	Journal *gcmjournal.Journal
}

type state struct {
	cfg      *config.Config
	log      *zap.Logger
	closeLog func()
	slotIDs  []uint64
	tokens   map[uint64]*slots.Token
	sessions *session.Table
	backend  *backend.Backend

	journalMu    sync.Mutex                         // serialises opening the journal
	journal      atomic.Pointer[gcmjournal.Journal] // nil until it opens; read without journalMu
	givenJournal *gcmjournal.Journal                // Options.Journal
}

// New returns an uninitialised Module.
func New() *Module { return NewWithOptions(Options{}) }

const moduleShards = 16

type moduleShard struct {
	mu   sync.RWMutex
	exit func() // mu.RUnlock, what enter hands back: made once, since a method value built per call is an allocation per call
	_    [64 - 24 - 8]byte
}

// NewWithOptions returns an uninitialised Module with options.
func NewWithOptions(o Options) *Module {
	m := &Module{opts: o}
	for i := range m.shards {
		m.shards[i].exit = m.shards[i].mu.RUnlock
	}
	return m
}

// enter read-locks the module for one call that names no session and
// returns its state.
func (m *Module) enter() (*state, func(), error) { return m.enterShard(0) }

// enterShard read-locks the module through the shard of key k (a session
// handle) and returns its state.
func (m *Module) enterShard(k uint64) (*state, func(), error) {
	sh := &m.shards[k%moduleShards]
	sh.mu.RLock()
	if m.st == nil {
		sh.mu.RUnlock()
		return nil, nil, ck.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	return m.st, sh.exit, nil
}

// lockAll write-locks the module (every shard, in order).
func (m *Module) lockAll() {
	for i := range m.shards {
		m.shards[i].mu.Lock()
	}
}

func (m *Module) unlockAll() {
	for i := range m.shards {
		m.shards[i].mu.Unlock()
	}
}

// CheckInitialized answers whether C_Initialize has run, for the C layer's
// first check, without a lock: the call itself checks again as it enters.
func (m *Module) CheckInitialized() error {
	if !m.ready.Load() {
		return ck.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	return nil
}

// fallbackLog is where panics and configuration errors go when no
// configured logger exists (before C_Initialize, or when it failed).
var fallbackLog = func() *zap.Logger {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.DisableStacktrace = true
	cfg.OutputPaths = []string{"stderr"}
	l, err := cfg.Build()
	if err != nil {
		return zap.NewNop()
	}
	return l.Named("craton")
}()

func (m *Module) logger() *zap.Logger {
	if st := m.st; st != nil {
		return st.log
	}
	if m.opts.Logger != nil {
		return m.opts.Logger
	}
	return fallbackLog
}

// LogPanic records a recovered panic; the C layer returns CKR_GENERAL_ERROR.
func (m *Module) LogPanic(fn string, r any) {
	m.logger().Error("recovered panic", zap.String("fn", fn), zap.String("panic", fmt.Sprint(r)), zap.Stack("stack"))
}

// LogUnmapped records an error that carried no CK_RV (a bug or an I/O
// failure nobody classified); the C layer returns CKR_GENERAL_ERROR.
func (m *Module) LogUnmapped(fn string, err error) {
	m.logger().Error("error without a CK_RV", zap.String("fn", fn), zap.Error(err))
}

// Initialize is C_Initialize.
func (m *Module) Initialize(args ck.InitArgs) error {
	m.lockAll()
	defer m.unlockAll()
	if m.st != nil {
		return ck.CKR_CRYPTOKI_ALREADY_INITIALIZED
	}
	if args.MutexCallbacks != 0 && args.MutexCallbacks != 4 {
		return ck.Errorf(ck.CKR_ARGUMENTS_BAD, "%d of 4 mutex callbacks given", args.MutexCallbacks)
	}
	if args.NoOSThreads && !args.OSLockingOK {
		// The Go runtime cannot run without threads of its own. p11-kit and
		// NSS pass CKF_LIBRARY_CANT_CREATE_OS_THREADS together with
		// CKF_OS_LOCKING_OK as a blanket default; their hosts run threaded
		// code and p11tool must work, so only the flag alone is refused.
		return ck.CKR_NEED_TO_CREATE_THREADS
	}
	if args.MutexCallbacks == 4 && !args.OSLockingOK {
		// The caller insists on its own mutexes; Craton locks with Go's.
		return ck.CKR_CANT_LOCK
	}
	cfg := m.opts.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(args.Reserved); err != nil {
			fallbackLog.Error("C_Initialize: configuration refused; nothing was touched", zap.Error(err))
			return fmt.Errorf("%w: %w", ck.CKR_FUNCTION_FAILED, err)
		}
	}
	log, closeLog, err := newLogger(cfg, m.opts.Logger)
	if err != nil {
		fallbackLog.Error("C_Initialize: cannot open the log", zap.String("config", cfg.Source), zap.Error(err))
		return fmt.Errorf("%w: %w", ck.CKR_FUNCTION_FAILED, err)
	}
	bopts := backend.Options{AllowPrehashedSign: cfg.FIPS.AllowPrehashedSign}
	be := backend.NewDefault(bopts)
	if cfg.FIPSMode {
		if be, err = backend.NewFIPS(bopts); err != nil {
			log.Error("C_Initialize: fips_mode = true but Go's FIPS 140-3 module is off in this process (GODEBUG=fips140=off, or a build without GOFIPS140); refusing to start",
				zap.String("config", cfg.Source))
			closeLog()
			return ck.Errorf(ck.CKR_FUNCTION_FAILED, "FIPS mode requested but the FIPS module is off")
		}
	}
	st, err := openState(cfg, log)
	if err != nil {
		log.Error("C_Initialize: cannot open the token store", zap.String("store", cfg.Store.Path), zap.Error(err))
		closeLog()
		return fmt.Errorf("%w: %w", ck.CKR_FUNCTION_FAILED, err)
	}
	st.closeLog, st.backend, st.givenJournal = closeLog, be, m.opts.Journal
	if _, err := st.gcmJournal(); err != nil {
		// Not fatal: everything but AES-GCM encryption works, and GCM
		// encryption retries the journal (CKR_DEVICE_ERROR until it opens).
		log.Error("C_Initialize: cannot open the GCM journal; AES-GCM encryption is refused until it can be", zap.String("journal", cfg.JournalPath()), zap.Error(err))
	}
	m.st = st
	m.ready.Store(true)
	log.Info("initialised", zap.String("config", cfg.Source), zap.String("store", cfg.Store.Path), zap.Int("slots", len(st.slotIDs)), zap.Bool("fips_mode", be.FIPS()))
	return nil
}

func openState(cfg *config.Config, log *zap.Logger) (*state, error) {
	if err := os.MkdirAll(cfg.Store.Path, 0o700); err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, log: log, tokens: map[uint64]*slots.Token{}, sessions: session.NewTable()}
	for _, sc := range cfg.Slots {
		tc := slots.Config{SlotID: sc.ID, Description: sc.Description, Label: sc.Label, KDFIterations: cfg.PIN.KDFIterations, MaxFailures: cfg.PIN.MaxFailures}
		t, err := slots.OpenToken(tc, filepath.Join(cfg.Store.Path, fmt.Sprintf("slot-%d.db", sc.ID)), log)
		if err != nil {
			st.closeTokens()
			return nil, err
		}
		st.tokens[sc.ID] = t
		st.slotIDs = append(st.slotIDs, sc.ID)
	}
	slices.Sort(st.slotIDs)
	return st, nil
}

func (st *state) closeTokens() {
	for _, t := range st.tokens {
		if err := t.Close(); err != nil {
			st.log.Warn("closing token store", zap.Uint64("slot", t.SlotID), zap.Error(err))
		}
	}
}

func newLogger(cfg *config.Config, given *zap.Logger) (*zap.Logger, func(), error) {
	if given != nil {
		return given, func() {}, nil
	}
	lvl, err := zap.ParseAtomicLevel(cfg.Log.Level)
	if err != nil {
		return nil, nil, err
	}
	zc := zap.NewProductionConfig()
	zc.Level = lvl
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.DisableStacktrace = true
	zc.Sampling = nil
	zc.OutputPaths = []string{"stderr"}
	if cfg.Log.File != "" {
		zc.OutputPaths = []string{cfg.Log.File}
	}
	zc.ErrorOutputPaths = []string{"stderr"}
	l, err := zc.Build()
	if err != nil {
		return nil, nil, err
	}
	l = l.Named("craton")
	return l, func() { _ = l.Sync() }, nil
}

// Finalize is C_Finalize: every session closes, every token forgets its keys
// and closes its store, and the next C_Initialize starts clean.
func (m *Module) Finalize() error {
	m.lockAll()
	defer m.unlockAll()
	st := m.st
	if st == nil {
		return ck.CKR_CRYPTOKI_NOT_INITIALIZED
	}
	for _, id := range st.slotIDs {
		endAll(st.sessions.CloseSlot(id))
	}
	st.closeTokens()
	st.log.Info("finalised")
	st.closeLog()
	m.st = nil
	m.ready.Store(false)
	return nil
}

// token finds a slot's token.
func (st *state) token(slot uint64) (*slots.Token, error) {
	t, ok := st.tokens[slot]
	if !ok {
		return nil, ck.CKR_SLOT_ID_INVALID
	}
	return t, nil
}

// session finds an open session and its token.
func (st *state) session(sh uint64) (*session.Session, *slots.Token, error) {
	s, err := st.sessions.Get(sh)
	if err != nil {
		return nil, nil, err
	}
	return s, st.tokens[s.SlotID], nil
}

// inSession is the start of every call on a session: the module entered,
// session sh and its token found. The caller defers done.
func (m *Module) inSession(sh uint64) (st *state, s *session.Session, t *slots.Token, done func(), err error) {
	if st, done, err = m.enterShard(sh); err != nil {
		return nil, nil, nil, nil, err
	}
	if s, t, err = st.session(sh); err != nil {
		done()
		return nil, nil, nil, nil, err
	}
	return st, s, t, done, nil
}

// session is the check behind not-yet-implemented functions.
func (m *Module) session(sh uint64) (*session.Session, error) {
	st, done, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	s, _, err := st.session(sh)
	return s, err
}

// endAll ends every operation of the given sessions, releasing the keys
// they hold.
func endAll(ss []*session.Session) {
	for _, s := range ss {
		s.Lock()
		s.EndAll()
		s.Unlock()
	}
}
