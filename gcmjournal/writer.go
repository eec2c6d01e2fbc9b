package gcmjournal

import (
	"bytes"
	"fmt"
	"slices"
)

// This file holds the reservation machinery: how blocks are reserved in the
// file, in the foreground (a Reserve that has no count left) or in the
// background (a block fetched ahead). See "Reservation protocol" and "Locks"
// in the package documentation for the invariants it keeps.

// maybeAhead queues a block ahead for fp if this process's unused counts
// have fallen to step-half: the block (half counts) then brings them back
// to at most step. Called with j.mu held, after a count was handed out or a
// block installed. When it returns true the writer sleeps on its eventfd
// and the caller must wake it (j.wakeFD.wake), best once it has released
// j.mu: a writer woken inside the critical section can run at once, find
// j.mu held and park on it, and its wake-up from there goes through the
// scheduler of the very thread that woke it (on one CPU, each block).
func (j *Journal) maybeAhead(fp Fingerprint, e *entry) (wake bool) {
	if !j.aheadDue(e.unused()) || e.want || e.pending || e.err != nil || e.state != Live ||
		e.ceiling >= j.max {
		return false
	}
	j.want(fp, e)
	switch {
	case j.closed:
	case !j.bgRunning:
		j.bgRunning = true
		j.bg.Add(1)
		go j.background()
	case !j.writing:
		return j.wakeDue() // the writer waits for work
	}
	return false
}

// kickWriter wakes the background writer if it waits for work and has
// some (or the journal closed). Called with j.mu held.
func (j *Journal) kickWriter() {
	if j.wakeDue() {
		j.wakeFD.wake()
	}
}

// wakeDue reports whether the writer sleeps on its eventfd with work to do
// (or the journal closed), and if so marks it awake: the caller then owes
// it one j.wakeFD.wake. Without an eventfd it broadcasts on j.cond itself
// and returns false. Called with j.mu held.
func (j *Journal) wakeDue() bool {
	if j.wakeFD == nil {
		j.cond.Broadcast()
		return false
	}
	if j.bgAsleep && (len(j.wanted) > 0 || j.closed) {
		j.bgAsleep = false
		return true
	}
	return false
}

// aheadDue reports whether a key holding unused counts should fetch the
// block ahead: the journal fetches ahead, and what is held has fallen to
// step-half (the block, half counts, then brings it back to at most step).
// One rule for Counter.Reserve, maybeAhead and the write that serves it.
func (j *Journal) aheadDue(unused uint64) bool {
	return j.half > 0 && unused <= j.step-j.half
}

// want queues fp for the next write. Called with j.mu held.
func (j *Journal) want(fp Fingerprint, e *entry) {
	if !e.want {
		e.want = true
		e.queued.Store(true)
		j.wanted = append(j.wanted, fp)
	}
}

// refill is Reserve under j.mu: it hands out a count the process holds for
// fp, if any; else it waits for a write in flight (which may bring fp a
// block), surfaces the error of a failed background write for fp, or
// becomes the writer itself. Called with j.mu held; returns with it held.
func (j *Journal) refill(fp Fingerprint) error {
	for {
		if j.closed {
			return ErrClosed
		}
		e := j.entry(fp)
		switch {
		case e.state == Poisoned:
			return ErrPoisoned
		case e.take():
			if j.maybeAhead(fp, e) {
				j.wakeFD.wake()
			}
			return nil
		case e.err != nil:
			err := e.err
			e.err = nil // the next Reserve tries again, in the foreground
			return err
		case e.state == Exhausted:
			return ErrExhausted
		case j.writing:
			j.cond.Wait()
			continue
		}
		j.want(fp, e)
		j.write("foreground")
	}
}

// background is the background writer: it serves the queued keys, one
// write at a time, and waits for more until the journal closes. Started by
// the first block fetched ahead, it stays: a goroutine started per write
// cost the writer a new stack, grown again every time.
func (j *Journal) background() {
	defer j.bg.Done()
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		for (j.writing || len(j.wanted) == 0) && !j.closed {
			if j.wakeFD == nil || j.writing {
				j.cond.Wait() // a write in flight broadcasts when it ends
				continue
			}
			j.bgAsleep = true
			j.mu.Unlock()
			j.wakeFD.wait()
			j.mu.Lock()
			j.bgAsleep = false
		}
		if j.closed {
			j.bgRunning = false
			return
		}
		j.write("background")
	}
}

// settle waits until the writes in flight or queued when it is called have
// finished (or the journal closed). Called with j.mu held.
func (j *Journal) settle() {
	target := j.gen
	if j.writing {
		target++
	}
	if len(j.wanted) > 0 && j.bgRunning {
		target++ // the background writer serves them next
	}
	for j.gen < target && !j.closed {
		j.cond.Wait()
	}
}

// grant is a block a write reserves for a key.
type grant struct {
	fp       Fingerprint
	from, to uint64
}

// write takes the write token, reserves a block for every queued key, and
// installs the blocks once they are durable. A key with no unused count gets
// a block (min(step, MaxBlock)); a key fetching ahead (it holds at most
// step-half) gets half a step; a key holding more gets nothing: what the
// process holds unused never exceeds step, whoever queued the key and
// whenever, and no write raises a ceiling by more than MaxBlock. A key whose
// ceiling reached the cap gets nothing; if it has no unused count it is
// marked exhausted, for good. If the write fails, every key that was to get
// a block records the error for its next Reserve that needs one.
//
// Called with j.mu held and the token free; releases j.mu for the I/O (the
// flock is taken without j.mu, then j.mu inside it for the merge and the
// snapshot, released for the rewrite) and returns with it held and the token
// free again.
func (j *Journal) write(who string) {
	j.writing = true
	fps := j.wanted
	j.wanted = nil
	for _, fp := range fps {
		e := j.keys[fp]
		e.want, e.pending = false, true
	}
	j.mu.Unlock()

	var err error
	if j.testHook != nil {
		if err = j.testHook(who); err != nil {
			err = fmt.Errorf("gcm journal %s: %w: %w", j.path, ErrIO, err)
		}
	}
	var data []byte
	var a *assessment
	var rs raiseState
	locked := false
	if err == nil && j.path != "" {
		if err = j.flock(); err == nil {
			locked = true
			data, a, rs, err = j.readFiles() // without j.mu
			if err != nil {
				err = fmt.Errorf("gcm journal %s: %w", j.path, err)
			}
		}
	}

	j.mu.Lock()
	needy := fps // the keys that fail if the write fails
	var grants []grant
	var exhausted []Fingerprint
	var recs []Record
	var raise []raiseRec
	if err == nil {
		j.merge(data, a)
		j.mergeRaise(rs, a)
		needy = nil
		for _, fp := range fps {
			e := j.keys[fp]
			unused := e.unused()
			switch {
			case e.state != Live:
			case e.ceiling >= j.max:
				if unused == 0 {
					j.setState(e, Exhausted)
					j.markOff(fp)
					exhausted = append(exhausted, fp)
					j.log("error", "AES-GCM key reached its encryption cap; it is poisoned and will never encrypt again",
						"key", fp.short(), "cap", j.max, "file", j.path)
				}
			case unused == 0:
				grants = append(grants, grant{fp, e.ceiling, min(e.ceiling+j.block, j.max)})
				needy = append(needy, fp)
			case j.aheadDue(unused): // fetching ahead
				grants = append(grants, grant{fp, e.ceiling, min(e.ceiling+j.half, j.max)})
				needy = append(needy, fp)
			}
		}
		if j.path != "" && (len(grants) > 0 || len(exhausted) > 0 || rs.damaged) {
			var ok bool
			if raise, ok = j.raiseOnly(a, rs, grants); !ok || len(exhausted) > 0 {
				raise, recs = nil, j.records(grants)
			}
		}
	}
	j.mu.Unlock()

	var werr error
	switch {
	case raise != nil:
		werr = j.storeRaise(rs, raise)
	case recs != nil:
		werr = j.store(recs)
		if werr == nil && rs.damaged {
			// Every key it may have raised is poisoned in the journal now:
			// start the raise file afresh.
			werr = j.storeRaise(raiseState{}, nil)
		}
	}
	if werr != nil {
		err = fmt.Errorf("gcm journal %s: %w", j.path, werr)
	}
	if locked {
		j.funlock()
	}

	j.mu.Lock()
	for _, fp := range fps {
		e := j.keys[fp]
		e.pending = false
		e.queued.Store(e.want)
	}
	if err != nil {
		if len(exhausted) > 0 {
			// Still refused: the state is in memory, and the ceiling
			// already on disk exhausts the key in the next process.
			j.log("error", "gcm journal: recording an exhausted key failed", "file", j.path, "keys", len(exhausted), "error", err)
		}
		for _, fp := range needy {
			if e := j.keys[fp]; e.state == Live {
				e.err = err
				if !j.failing {
					j.failing = true
					j.log("error", "gcm journal unusable; refusing AES-GCM encryption until it is fixed", "file", j.path, "error", err)
				}
			}
		}
	} else {
		if len(grants) > 0 {
			j.failing = false
		}
		for _, g := range grants {
			j.keys[g.fp].add(g.from, g.to)
			j.markOff(g.fp)
			if j.path != "" {
				j.log("debug", "gcm journal reservation", "key", g.fp.short(), "from", g.from, "to", g.to, "by", who)
			}
		}
		for _, g := range grants {
			// The write token is still held, so maybeAhead only queues:
			// kickWriter below wakes the writer for what it queued.
			j.maybeAhead(g.fp, j.keys[g.fp])
		}
	}
	j.writing = false
	j.gen++
	j.cond.Broadcast()
	j.kickWriter() // keys queued during the write, when the writer waits for work
}

// merge merges the journal content data, assessed as a (nil when there is
// no file yet), into j.keys: ceilings only rise, states only worsen. It logs
// a damaged file once. Called with j.mu held.
func (j *Journal) merge(data []byte, a *assessment) {
	if a == nil || a == j.merged {
		return // no file yet, or the file as merged before: ceilings only rose since, states only worsened
	}
	j.merged = a
	for fp, r := range a.keys {
		e := j.entry(fp)
		// The blocks this process holds stay valid: their counts lie below
		// the ceilings it wrote, which the file can only have raised.
		e.ceiling = max(e.ceiling, r.Ceiling)
		j.setState(e, r.State)
	}
	// A new journal: which keys differ from it is found afresh, once per
	// file (rewrites are rare; raises do not replace the journal).
	j.off = nil
	for fp, e := range j.keys {
		if e.differs(fp, a, e.ceiling) {
			j.markOff(fp)
		}
	}
	if a.verdict == sealed {
		j.lastBad, j.badLogged = nil, false
		return
	}
	if j.badLogged && bytes.Equal(j.lastBad, data) {
		return // logged already
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
}

// records snapshots j.keys as the journal's records, with the ceilings the
// grants raise: one record per key that was ever reserved, unsorted. Called
// with j.mu held.
func (j *Journal) records(grants []grant) []Record {
	to := make(map[Fingerprint]uint64, len(grants))
	for _, g := range grants {
		to[g.fp] = g.to
	}
	recs := make([]Record, 0, len(j.keys))
	for fp, e := range j.keys {
		c := max(e.ceiling, to[fp])
		if c == 0 && e.state == Live {
			continue // never reserved: nothing to remember
		}
		recs = append(recs, Record{FP: fp, Ceiling: c, State: e.state})
	}
	return recs
}

// store rewrites the whole journal as recs: sorted, sealed, written
// atomically. Called with the flock held and without j.mu.
func (j *Journal) store(recs []Record) error {
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
