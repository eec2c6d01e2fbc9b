package gcmjournal

import (
	"bytes"
	"fmt"
)

// verdict is what assess concluded about a journal's integrity.
type verdict uint8

const (
	sealed    verdict = iota // the footer's MAC matches: every record is trusted
	truncated                // no footer, every complete line well formed: the tail was cut
	tampered                 // footer mismatch, or damage that is not a clean cut
)

// assessment is the trust policy's result for one reading of a journal.
type assessment struct {
	verdict verdict
	keys    map[Fingerprint]Record // the records to merge, after the policy
	listed  int                    // fingerprints the file names (tampered: all poisoned)
	cut     []Fingerprint          // truncated: the keys of a cut last line (poisoned)
	lost    bool                   // truncated: the cut line names no key; a record may be lost
	damaged int                    // tampered: lines that are not well-formed records
}

// assess parses data read from path and applies the trust policy (see the
// package documentation). It is pure: logging is the caller's job.
//
//   - Footer present and its MAC matches: every record is honoured; a
//     duplicate or malformed line is ErrCorrupt (no Craton writer produces it).
//   - Footer present but its MAC does not match (a changed byte, a file copied
//     from another path), or damage other than a cut last line: every
//     fingerprint the file names is Poisoned.
//   - No footer, and every complete line is a well-formed record (the file
//     was cut): the records are honoured; the keys a cut last line names are
//     Poisoned, since their ceiling may have lost digits.
//
// Duplicate records outside a sealed file merge to the highest ceiling and
// the worst state.
func assess(path string, data []byte, s Sealer) (*assessment, error) {
	f, err := Parse(data)
	if err != nil {
		return nil, err
	}
	a := &assessment{keys: make(map[Fingerprint]Record, len(f.Records))}
	switch {
	case f.HasFooter && f.Footer != nil && bytes.Equal(s.Sum(path, f.Sealed), f.Footer):
		if len(f.Damage) > 0 {
			return nil, fmt.Errorf("%w: line %d is not a record, yet the footer matches", ErrCorrupt, f.Damage[0].Line)
		}
		for _, r := range f.Records {
			if _, dup := a.keys[r.FP]; dup {
				return nil, fmt.Errorf("%w: key %s is recorded twice, yet the footer matches", ErrCorrupt, r.FP.short())
			}
			a.keys[r.FP] = r
		}
		a.verdict = sealed
		return a, nil
	case !f.HasFooter && (len(f.Damage) == 0 || len(f.Damage) == 1 && f.Damage[0].Fragment):
		a.verdict = truncated
		for _, r := range f.Records {
			a.merge(r)
		}
		if len(f.Damage) == 1 {
			a.cut = f.Damage[0].FPs
			a.lost = len(a.cut) == 0
			for _, fp := range a.cut {
				a.merge(Record{FP: fp, State: Poisoned})
			}
		}
		return a, nil
	default:
		a.verdict = tampered
		a.damaged = len(f.Damage)
		for _, r := range f.Records {
			r.State = Poisoned
			a.merge(r)
		}
		for _, d := range f.Damage {
			for _, fp := range d.FPs {
				a.merge(Record{FP: fp, State: Poisoned})
			}
		}
		a.listed = len(a.keys)
		return a, nil
	}
}

func (a *assessment) merge(r Record) {
	if old, ok := a.keys[r.FP]; ok {
		r.Ceiling = max(r.Ceiling, old.Ceiling)
		r.State = max(r.State, old.State)
	}
	a.keys[r.FP] = r
}
