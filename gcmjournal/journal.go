package gcmjournal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Errors. The caller maps them to CK_RVs; none carries key material.
var (
	// ErrExhausted: the key reached the cap and is poisoned for good.
	ErrExhausted = errors.New("gcmjournal: AES-GCM key reached its encryption cap")

	// ErrPoisoned: the key is listed in a journal that failed its integrity
	// check (or was recorded as such); it never encrypts again.
	ErrPoisoned = errors.New("gcmjournal: AES-GCM key poisoned by a damaged journal")

	// ErrCorrupt: the journal file is not one this code can trust or safely
	// rewrite (not a journal, an unknown version, or malformed under a
	// matching footer). Nothing is written over it.
	ErrCorrupt = errors.New("gcmjournal: journal file corrupt")

	// ErrIO is matched by every failure to read, lock or write the journal.
	// The encryption it would have covered is refused.
	ErrIO = errors.New("gcmjournal: journal I/O failed")

	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("gcmjournal: journal closed")
)

const (
	// DefaultReserveStep is how far ahead a reservation reaches by default,
	// and the most it may: the spec asks for an fsync at least every 1,024
	// counts.
	DefaultReserveStep = 1024

	// maxFileSize bounds the journal file read (about 2.8 million keys).
	maxFileSize = 256 << 20
)

// Sealer computes the footer's MAC. The caller supplies it because only
// backend/ may import crypto/*. It must return HMAC-SHA256 (32 bytes) of data
// under a key derived from path; see the package documentation.
type Sealer interface {
	Sum(path string, data []byte) []byte
}

// Options configure [Open].
type Options struct {
	// Path is the journal file. "" keeps the counters in memory only: no
	// durability, no sharing between processes.
	Path string

	// Max is the cap per key, 1..2^32; 0 means 2^32.
	Max uint64

	// Sealer computes the footer's MAC; required when Path is set.
	Sealer Sealer

	// Log, if set, receives log lines: level is "debug", "info", "warn" or
	// "error", kv alternate keys and values. It never receives key material;
	// keys are named by a 12-hex-digit prefix of their fingerprint.
	Log func(level, msg string, kv ...any)

	// ReserveStep is how many encryptions one reservation covers,
	// 1..1024; 0 means 1024.
	ReserveStep uint64
}

// Journal counts AES-GCM encryptions per key. Its methods are safe for
// concurrent use.
type Journal struct {
	path   string // canonical journal path; "" in memory
	max    uint64
	step   uint64
	sealer Sealer
	log    func(level, msg string, kv ...any)

	mu        sync.Mutex // guards everything below; taken before the flock
	keys      map[Fingerprint]*entry
	lock      *os.File // the lock file, path+".lock"; flock'd around every read-modify-write
	closed    bool
	pinned    bool   // installed: Close is a no-op
	lastBad   []byte // the last damaged file content logged, to log it once
	badLogged bool
	failing   bool // the last reservation failed on I/O or a corrupt file (logged)
}

// entry is one key as this process knows it.
type entry struct {
	ceiling uint64 // the journal's ceiling: the highest read or written (all processes' reservations)
	next    uint64 // the next count of this process's block
	end     uint64 // the end of the block: counts next..end-1 are this process's to hand out
	state   State
}

// count is the conservative number of encryptions: everything reserved, by
// any process, minus what this process holds unused.
func (e *entry) count() uint64 { return e.ceiling - (e.end - e.next) }

// Open opens (or creates on first reservation) the journal o.Path, or an
// in-memory journal when o.Path is "". It creates the directory if needed
// and reads the file if it exists, applying the trust policy (see the package
// documentation); it writes nothing. A file that is not a journal, or that is
// malformed under a matching footer, fails with ErrCorrupt.
func Open(o Options) (*Journal, error) {
	j := &Journal{
		max:    o.Max,
		step:   o.ReserveStep,
		sealer: o.Sealer,
		log:    o.Log,
		keys:   make(map[Fingerprint]*entry),
	}
	if j.max == 0 {
		j.max = MaxCap
	}
	if j.step == 0 {
		j.step = DefaultReserveStep
	}
	if j.max > MaxCap {
		return nil, fmt.Errorf("gcmjournal: Max %d is above 2^32", o.Max)
	}
	if j.step > DefaultReserveStep {
		return nil, fmt.Errorf("gcmjournal: ReserveStep %d is above %d", o.ReserveStep, DefaultReserveStep)
	}
	if j.log == nil {
		j.log = func(string, string, ...any) {}
	}
	if o.Path == "" {
		return j, nil
	}
	if o.Sealer == nil {
		return nil, errors.New("gcmjournal: a journal file needs a Sealer")
	}
	if mac := o.Sealer.Sum(o.Path, nil); len(mac) != macSize {
		return nil, fmt.Errorf("gcmjournal: Sealer returns %d bytes, want %d", len(mac), macSize)
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	path, err := canonical(o.Path)
	if err != nil {
		return nil, err
	}
	j.path = path
	j.lock, err = os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	// No flock needed to read: every write is an atomic rename.
	data, err := readJournal(path)
	if err == nil {
		err = j.load(data)
	}
	if err != nil {
		j.lock.Close()
		return nil, fmt.Errorf("gcm journal %s: %w", path, err)
	}
	return j, nil
}

// canonical returns p made absolute with its directory's symlinks resolved,
// the name the footer's key is derived from, so that every process naming
// the same file computes the same key.
func canonical(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("gcmjournal: path %q: %w", p, err)
	}
	dir, base := filepath.Split(abs)
	if base == "" || base == "." || base == ".." {
		return "", fmt.Errorf("gcmjournal: path %q names a directory", p)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return filepath.Join(dir, base), nil
}

// Path returns the canonical journal path, "" for an in-memory journal.
func (j *Journal) Path() string { return j.path }

// Max returns the cap per key.
func (j *Journal) Max() uint64 { return j.max }

// Reserve counts one encryption under fp. It returns nil if the encryption
// may proceed: the count is covered by a ceiling already durable in the
// journal (the first encryption of a key, and every ReserveStep-th, waits for
// an fsync'd rewrite of the journal). Otherwise the caller must refuse the
// encryption: ErrExhausted (the key reached the cap; durable, for good),
// ErrPoisoned (the key is listed in a damaged journal), ErrClosed, or an error
// matching ErrIO or ErrCorrupt (fail closed).
func (j *Journal) Reserve(fp Fingerprint) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	e := j.keys[fp]
	if e != nil {
		switch {
		case e.state == Poisoned:
			return ErrPoisoned
		case e.state == Exhausted:
			return ErrExhausted
		case e.next < e.end:
			e.next++
			return nil
		}
	}
	return j.refill(fp)
}

// refill takes a new block for fp and hands out its first count. Called
// with j.mu held; takes the flock for a file-backed journal. A failure to
// read or write the journal is logged once until a reservation succeeds
// again, not once per refused encryption.
func (j *Journal) refill(fp Fingerprint) error {
	err := j.take(fp)
	switch {
	case err == nil:
		j.failing = false
	case errors.Is(err, ErrIO) || errors.Is(err, ErrCorrupt):
		if !j.failing {
			j.failing = true
			j.log("error", "gcm journal unusable; refusing AES-GCM encryption until it is fixed", "file", j.path, "error", err)
		}
	}
	return err
}

func (j *Journal) take(fp Fingerprint) error {
	if j.path != "" {
		if err := j.flock(); err != nil {
			return err
		}
		defer j.funlock()
		data, err := readJournal(j.path)
		if err == nil {
			err = j.load(data)
		}
		if err != nil {
			return fmt.Errorf("gcm journal %s: %w", j.path, err)
		}
	}
	e := j.keys[fp]
	if e == nil {
		e = new(entry)
		j.keys[fp] = e
	}
	switch e.state {
	case Poisoned:
		return ErrPoisoned
	case Exhausted:
		return ErrExhausted
	}
	if e.ceiling >= j.max {
		e.state = Exhausted
		j.log("error", "AES-GCM key reached its encryption cap; it is poisoned and will never encrypt again",
			"key", fp.short(), "cap", j.max, "file", j.path)
		if err := j.store(); err != nil {
			// Still refused: the state is in memory, and the ceiling
			// already on disk exhausts the key in the next process.
			j.log("error", "gcm journal: recording an exhausted key failed", "file", j.path, "key", fp.short(), "error", err)
		}
		return ErrExhausted
	}
	old := e.ceiling
	e.ceiling = min(old+j.step, j.max)
	if err := j.store(); err != nil {
		e.ceiling = old
		return fmt.Errorf("gcm journal %s: %w", j.path, err)
	}
	e.next, e.end = old+1, e.ceiling
	if j.path != "" {
		j.log("debug", "gcm journal reservation", "key", fp.short(), "from", old, "to", e.ceiling)
	}
	return nil
}

// load applies the trust policy to data read from the journal and merges the
// result into j.keys: ceilings only rise, states only worsen. Called with
// j.mu held.
func (j *Journal) load(data []byte) error {
	if data == nil {
		return nil // no file yet
	}
	a, err := assess(j.path, data, j.sealer)
	if err != nil {
		return err
	}
	for fp, r := range a.keys {
		e := j.keys[fp]
		if e == nil {
			e = &entry{ceiling: r.Ceiling, next: r.Ceiling, end: r.Ceiling, state: r.State}
			j.keys[fp] = e
			continue
		}
		// A block this process holds stays valid: its counts lie below the
		// ceiling it wrote, which the file can only have raised.
		e.ceiling = max(e.ceiling, r.Ceiling)
		e.state = max(e.state, r.State)
	}
	if a.verdict == sealed {
		j.lastBad, j.badLogged = nil, false
		return nil
	}
	if j.badLogged && bytes.Equal(j.lastBad, data) {
		return nil // logged already
	}
	j.lastBad, j.badLogged = bytes.Clone(data), true
	switch a.verdict {
	case tampered:
		j.log("error", "gcm journal failed its integrity check (footer mismatch or damaged lines): every key it lists is poisoned and will not encrypt; keys it does not list may",
			"file", j.path, "keys", a.listed, "damaged_lines", a.damaged)
	case truncated:
		j.log("warn", "gcm journal has no footer (the file was cut); honouring the complete records",
			"file", j.path, "keys", len(a.keys)-len(a.cut))
		if len(a.cut) > 0 {
			j.log("error", "gcm journal: the cut last line names a key; it is poisoned", "file", j.path, "candidates", len(a.cut))
		}
		if a.lost {
			j.log("warn", "gcm journal: the cut last line names no readable key; a key recorded there starts counting again", "file", j.path)
		}
	}
	return nil
}

// store rewrites the whole journal from j.keys: one record per key, sorted,
// sealed, written atomically. Called with j.mu and the flock held. A no-op in
// memory.
func (j *Journal) store() error {
	if j.path == "" {
		return nil
	}
	recs := make([]Record, 0, len(j.keys))
	for fp, e := range j.keys {
		if e.ceiling == 0 && e.state == Live {
			continue // never reserved: nothing to remember
		}
		recs = append(recs, Record{FP: fp, Ceiling: e.ceiling, State: e.state})
	}
	slices.SortFunc(recs, func(a, b Record) int { return compareFP(a.FP, b.FP) })
	body := appendBody(make([]byte, 0, len(header)+1+len(recs)*90+len(footerPrefix)+2*macSize+1), recs)
	mac := j.sealer.Sum(j.path, body)
	if len(mac) != macSize {
		return fmt.Errorf("%w: Sealer returned %d bytes", ErrIO, len(mac))
	}
	return writeAtomic(j.path, appendFooter(body, mac))
}

func compareFP(a, b Fingerprint) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// Count returns, for fp, the encryptions counted (conservatively: every
// count reserved by any process as of this process's last look at the
// journal, minus what this process holds unused), the journal's ceiling, and
// whether the key is barred from encrypting (exhausted or poisoned). It does
// no I/O. A key this process has not seen reports zeros.
func (j *Journal) Count(fp Fingerprint) (count, ceiling uint64, poisoned bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.keys[fp]
	if e == nil {
		return 0, 0, false
	}
	return e.count(), e.ceiling, e.state != Live
}

// Remaining returns how many more encryptions fp may have, and the error
// Reserve would return if it has none (ErrExhausted, ErrPoisoned, or
// ErrClosed). It does no I/O and consumes nothing, so a length query can use
// it; it is advisory, since other processes may be using the same key:
// Reserve is the authority.
func (j *Journal) Remaining(fp Fingerprint) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, ErrClosed
	}
	e := j.keys[fp]
	switch {
	case e == nil:
		return j.max, nil
	case e.state == Poisoned:
		return 0, ErrPoisoned
	case e.state == Exhausted || e.count() >= j.max:
		return 0, ErrExhausted
	}
	return j.max - e.count(), nil
}

// Close releases the journal's lock file. It writes nothing: every
// reservation is already durable, and the ceilings must not come down to
// the counts (other processes' blocks live under them, and the unused part
// of this process's block is simply never handed out). A journal installed
// with [Install] lives as long as the process: its Close is a no-op.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.pinned || j.closed {
		return nil
	}
	j.closed = true
	if j.lock != nil {
		return j.lock.Close()
	}
	return nil
}
