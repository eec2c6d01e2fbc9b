package gcmjournal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	// MaxBlock is the most one write raises a key's ceiling by: SPEC §5
	// asks for an fsync at least every 1,024 counts.
	MaxBlock = 1024

	// DefaultReserveStep is how far this process's reservations of a key
	// may run ahead of its count by default, and the most they may: one
	// block in use and one fetched ahead. It is what a crash may cost a key,
	// per process. Two blocks rather than one let the block ahead be
	// fetched a whole block before it is needed, so a token encrypting as
	// fast as it can never waits for the disk, and each key costs one write
	// per 1,024 counts, the least SPEC §5 allows (see the package
	// documentation, "Reservation protocol").
	DefaultReserveStep = 2 * MaxBlock

	// maxFileSize bounds the journal file read (about 2.8 million keys).
	maxFileSize = 256 << 20

	// minAheadStep is the smallest ReserveStep at which a file journal
	// fetches blocks ahead (of ReserveStep/2 counts each); below it every
	// block is reserved when the previous one is used up, as the caller
	// waits (see the package documentation).
	minAheadStep = 16
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

	// ReserveStep bounds how far reservations run ahead of the count, per
	// process and key, 1..2048; 0 means 2048. It is what a crash can cost a
	// key at most, per process. A key with no count in hand gets a block of
	// min(ReserveStep, 1024) in the foreground, as the caller waits; a file
	// journal with ReserveStep of at least 16 then fetches blocks of
	// ReserveStep/2 ahead in the background.
	ReserveStep uint64
}

// Journal counts AES-GCM encryptions per key. Its methods are safe for
// concurrent use.
type Journal struct {
	path     string // canonical journal path; "" in memory
	max      uint64
	step     uint64 // the most this process holds ahead per key (ReserveStep)
	block    uint64 // the block a key with no count in hand gets: min(step, MaxBlock)
	half     uint64 // the block fetched ahead, step/2; 0: no fetching ahead
	sealer   Sealer
	log      func(level, msg string, kv ...any)
	testHook func(point string) error // tests only: called at the start of every write, without j.mu
	raiseOff bool                     // tests only: every write rewrites the journal
	checkOff *error                   // tests only: set when raiseOnly from off answers otherwise than a scan of every key

	mu             sync.Mutex // guards everything below; never held while waiting for the flock or doing I/O
	cond           sync.Cond  // on mu: broadcast when a write ends and when the journal closes
	keys           map[Fingerprint]*entry
	wanted         []Fingerprint // keys whose want is set, for the next write
	writing        bool          // the write token: a write (flock, read, rewrite) is in flight
	gen            uint64        // writes finished so far
	bgRunning      bool          // the background writer goroutine is running
	bgAsleep       bool          // it waits in wakeFD.wait for work; see wakeDue
	wakeFD         *wakeFD       // nil: the writer waits on cond
	bg             sync.WaitGroup
	lock           *os.File // the lock file, path+".lock"; flock'd around every read-modify-write
	closed         bool
	pinned         bool   // installed: Close does not close
	lastBad        []byte // the last damaged file content logged, to log it once
	badLogged      bool
	raiseBadLogged bool         // the damaged raise file was logged
	raiseBuf       []byte       // readRaise's buffer; used under the flock, by the one write in flight
	raiseSlot      []byte       // storeRaise's buffer; likewise
	view           *journalView // the journal as last read; used under the flock, by Open or the one write in flight
	raise          heldRaise    // the raise file, held open; likewise
	merged         *assessment  // the assessment last merged into keys (merging it again changes nothing)
	// off holds every key whose entry may differ from the journal as merged
	// (a ceiling above it, another state, or absent from it while used):
	// set afresh when a new journal is merged, added to whenever an entry
	// rises or changes state. The keys outside it need no raise record.
	off       map[Fingerprint]struct{}
	fullReads int  // tests only: journal readings that were not answered by view
	failing   bool // the last write failed on I/O or a corrupt file (logged)
}

// entry is one key as this process knows it.
type entry struct {
	// avail is how many counts this process owns and has not handed out,
	// all below ceiling and durable. Counter.Reserve takes from it with a
	// compare-and-swap, without j.mu; it rises only under j.mu.
	avail atomic.Uint64
	// queued mirrors want || pending for Counter.Reserve, which must not
	// take j.mu once per count while a block ahead is on its way.
	// Written under j.mu.
	queued atomic.Bool
	// barred is set, under j.mu, when the key is poisoned or the journal
	// closes: Counter.Reserve then hands out nothing more.
	barred atomic.Bool

	ceiling uint64 // the journal's ceiling: the highest read or written (all processes' reservations)
	state   State
	want    bool  // queued for the next write (in j.wanted)
	pending bool  // part of the write in flight
	err     error // a write for this key failed; returned by the next Reserve that needs a block
}

// unused is how many counts this process owns and has not handed out.
func (e *entry) unused() uint64 { return e.avail.Load() }

// count is the conservative number of encryptions: everything reserved, by
// any process, minus what this process holds unused.
func (e *entry) count() uint64 { return e.ceiling - e.unused() }

// take hands out the next owned count, if there is one. Safe without j.mu.
func (e *entry) take() bool {
	for {
		n := e.avail.Load()
		if n == 0 {
			return false
		}
		if e.avail.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// add gives the process the block [from, to), durable already. Only how
// many counts the process holds matters, not which: a count is a licence
// for one encryption, and the ceiling bounds them all. Called with j.mu
// held.
func (e *entry) add(from, to uint64) {
	e.avail.Add(to - from)
	e.ceiling = max(e.ceiling, to)
}

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
	j.block = min(j.step, MaxBlock)
	if j.max > MaxCap {
		return nil, fmt.Errorf("gcmjournal: Max %d is above 2^32", o.Max)
	}
	if j.step > DefaultReserveStep { // a fetched block would pass MaxBlock
		return nil, fmt.Errorf("gcmjournal: ReserveStep %d is above %d", o.ReserveStep, DefaultReserveStep)
	}
	if j.log == nil {
		j.log = func(string, string, ...any) {}
	}
	j.cond.L = &j.mu
	if o.Path == "" {
		return j, nil
	}
	if j.step >= minAheadStep {
		j.half = j.step / 2
		j.wakeFD = newWakeFD()
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
	// The journal is replaced by atomic renames, but the raise file is
	// written in place: read both under the flock.
	err = j.flock()
	var data []byte
	var a *assessment
	var rs raiseState
	if err == nil {
		data, a, rs, err = j.readFiles()
		j.funlock()
	}
	if err == nil {
		j.merge(data, a)
		j.mergeRaise(rs, a)
	}
	if err != nil {
		j.dropView()
		j.dropRaise()
		j.lock.Close()
		if j.wakeFD != nil {
			j.wakeFD.close()
		}
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
// journal. Normally that costs a mutex and an increment: the first
// encryption of a key waits for an fsync'd rewrite of the journal, and
// later blocks are fetched ahead by a background writer (see the package
// documentation), so Reserve waits only when it has used up every count it
// holds before the next block is durable. Otherwise the caller must refuse
// the encryption: ErrExhausted (the key reached the cap; durable, for good),
// ErrPoisoned (the key is listed in a damaged journal), ErrClosed, or an
// error matching ErrIO or ErrCorrupt (fail closed; also when fetching the
// block ahead failed in the background).
func (j *Journal) Reserve(fp Fingerprint) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.refill(fp)
}

// Counter is a handle on one key's count, for a caller that encrypts with
// the key many times: its Reserve takes no lock while the process holds
// counts of the key, where [Journal.Reserve] takes the journal's mutex and
// looks the key up. A token's encrypting thread must not park on that
// mutex while the writer holds it: through the C ABI the thread is the
// host's, and waking it again costs the time of a thousand encryptions.
type Counter struct {
	j  *Journal
	fp Fingerprint
	e  *entry
}

// Counter returns the handle on fp's count. It reserves nothing.
func (j *Journal) Counter(fp Fingerprint) *Counter {
	j.mu.Lock()
	defer j.mu.Unlock()
	return &Counter{j: j, fp: fp, e: j.entry(fp)}
}

// Journal returns the journal c counts in.
func (c *Counter) Journal() *Journal { return c.j }

// Reserve is [Journal.Reserve] for c's key. While the process holds counts
// of the key it is one compare-and-swap; it takes the journal's mutex once
// per block, to queue the block ahead, and when the counts run out.
func (c *Counter) Reserve() error {
	j, e := c.j, c.e
	if e.barred.Load() || !e.take() {
		return j.Reserve(c.fp)
	}
	if j.aheadDue(e.unused()) && !e.queued.Load() {
		j.mu.Lock()
		wake := j.maybeAhead(c.fp, e)
		j.mu.Unlock()
		if wake {
			j.wakeFD.wake()
		}
	}
	return nil
}

// entry returns fp's entry, made if the process has not seen fp. Called
// with j.mu held.
func (j *Journal) entry(fp Fingerprint) *entry {
	e := j.keys[fp]
	if e == nil {
		e = new(entry)
		e.barred.Store(j.closed)
		j.keys[fp] = e
	}
	return e
}

// setState worsens e's state to s; a poisoned key hands out no count it
// holds any more. Called with j.mu held.
func (j *Journal) setState(e *entry, s State) {
	e.state = max(e.state, s)
	if e.state == Poisoned {
		e.barred.Store(true)
	}
}

// Count returns, for fp, the encryptions counted (conservatively: every
// count reserved by any process as of this process's last look at the
// journal, minus what this process holds unused), the journal's ceiling, and
// whether the key is barred from encrypting (exhausted or poisoned). It does
// no I/O itself, but first waits for the writes this journal has in flight
// or queued when it is called, so that the ceiling it reports is settled and
// durable. A key this process has not seen reports zeros.
func (j *Journal) Count(fp Fingerprint) (count, ceiling uint64, poisoned bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.settle()
	e := j.keys[fp]
	if e == nil {
		return 0, 0, false
	}
	return e.count(), e.ceiling, e.state != Live
}

// Remaining returns how many more encryptions fp may have, and the error
// Reserve would return if it has none (ErrExhausted, ErrPoisoned, or
// ErrClosed). It does no I/O, waits for none and consumes nothing, so a
// length query can use it; it is advisory, since other processes may be
// using the same key: Reserve is the authority.
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
	case e.state == Exhausted && e.unused() > 0:
		return e.unused(), nil // the counts it holds, below a durable ceiling
	case e.state == Exhausted || e.count() >= j.max:
		return 0, ErrExhausted
	}
	return j.max - e.count(), nil
}

// Close waits for the write in flight, if any, stops the background writer
// and releases the journal's lock file. It writes nothing: every
// reservation is already durable, and the ceilings must not come down to
// the counts (other processes' blocks live under them, and what this
// process holds unused is simply never handed out). A journal installed
// with [Install] lives as long as the process: its Close only waits for the
// writes in flight or queued, and the journal stays usable.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	if j.pinned {
		j.settle()
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	for _, e := range j.keys {
		e.barred.Store(true) // Counter.Reserve falls back on Reserve, which returns ErrClosed
	}
	j.cond.Broadcast()
	j.kickWriter()
	for j.writing {
		j.cond.Wait()
	}
	j.mu.Unlock()
	j.bg.Wait()
	if j.wakeFD != nil {
		j.wakeFD.close()
	}
	j.dropView() // no write can start now
	j.dropRaise()
	if j.lock != nil {
		return j.lock.Close()
	}
	return nil
}
