// Package session owns the session table of one process and each session's
// operation state (an active find, and the cryptographic operations).
//
// Lock order: Table.mu, then Session.mu; neither is held while calling into
// a slots.Token (the caller takes a session's lock, then may call a token,
// whose lock is innermost). Handles only grow: a closed session's handle is
// never reused in the life of the module, so a stale handle is always
// CKR_SESSION_HANDLE_INVALID.
package session

import (
	"slices"
	"sync"
	"sync/atomic"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Session is one open session.
type Session struct {
	Handle uint64
	SlotID uint64
	RW     bool

	mu   sync.Mutex
	find *findState
	ops  [numOps]*Op
	// opSlots hold the active operations, so starting one allocates
	// nothing; ops[k] points into it while kind k is active.
	opSlots [numOps]Op
	// GeneratedIV is the IV the token chose for the last FIPS-mode GCM
	// encryption, until the C layer takes it (Module.TakeGeneratedIV).
	GeneratedIV []byte
}

type findState struct {
	handles []uint64
	next    int
}

// Lock and Unlock guard the session's operation state for a whole call.
func (s *Session) Lock()   { s.mu.Lock() }
func (s *Session) Unlock() { s.mu.Unlock() }

// State is the CKS_* state of the session given the token's login state.
func (s *Session) State(login uint64) uint64 {
	switch {
	case login == CKU_SO:
		return CKS_RW_SO_FUNCTIONS
	case login == CKU_USER && s.RW:
		return CKS_RW_USER_FUNCTIONS
	case login == CKU_USER:
		return CKS_RO_USER_FUNCTIONS
	case s.RW:
		return CKS_RW_PUBLIC_SESSION
	}
	return CKS_RO_PUBLIC_SESSION
}

// StartFind begins a search over a snapshot of matching handles. Lock held.
func (s *Session) StartFind(handles []uint64) error {
	if s.find != nil {
		return CKR_OPERATION_ACTIVE
	}
	s.find = &findState{handles: handles}
	return nil
}

// FindActive reports whether a search is active. Lock held.
func (s *Session) FindActive() bool { return s.find != nil }

// NextFound returns up to max further handles. Lock held.
func (s *Session) NextFound(max uint64) ([]uint64, error) {
	if s.find == nil {
		return nil, CKR_OPERATION_NOT_INITIALIZED
	}
	rest := s.find.handles[s.find.next:]
	n := min(uint64(len(rest)), max)
	s.find.next += int(n)
	return slices.Clone(rest[:n]), nil
}

// EndFind ends the search. Lock held.
func (s *Session) EndFind() error {
	if s.find == nil {
		return CKR_OPERATION_NOT_INITIALIZED
	}
	s.find = nil
	return nil
}

// Cancel ends the operations named by CKF_* operation flags
// (C_SessionCancel). Lock held.
func (s *Session) Cancel(flags uint64) {
	if flags&CKF_FIND_OBJECTS != 0 {
		s.find = nil
	}
	for k, f := range opFlags {
		if flags&f != 0 {
			s.EndOp(OpKind(k))
		}
	}
}

// Table is the process's session table. Changes take mu, and so does
// Count, for a settled view; Get, which every call on a session makes,
// reads without a lock, so threads on their own sessions share no lock
// here (a read-locked RWMutex still makes every core write one cache line).
type Table struct {
	mu       sync.RWMutex
	sessions sync.Map // handle → *Session
}

// lastHandle numbers sessions for the life of the process, across
// C_Finalize and C_Initialize: a handle kept by mistake past C_Finalize is
// then CKR_SESSION_HANDLE_INVALID, never another thread's new session
// (which could be read-only, or logged in differently).
var lastHandle atomic.Uint64

func NewTable() *Table { return &Table{} }

// Open adds a session and returns it.
func (t *Table) Open(slot uint64, rw bool) *Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &Session{Handle: lastHandle.Add(1), SlotID: slot, RW: rw}
	t.sessions.Store(s.Handle, s)
	return s
}

// Get finds an open session.
func (t *Table) Get(h uint64) (*Session, error) {
	s, ok := t.sessions.Load(h)
	if !ok {
		return nil, CKR_SESSION_HANDLE_INVALID
	}
	return s.(*Session), nil
}

// Close removes a session and returns it.
func (t *Table) Close(h uint64) (*Session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sessions.LoadAndDelete(h)
	if !ok {
		return nil, CKR_SESSION_HANDLE_INVALID
	}
	return s.(*Session), nil
}

// each calls f for every open session. mu held (read-locked at least).
func (t *Table) each(f func(*Session)) {
	t.sessions.Range(func(_, v any) bool {
		f(v.(*Session))
		return true
	})
}

// CloseSlot removes every session of a slot and returns them.
func (t *Table) CloseSlot(slot uint64) []*Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Session
	t.each(func(s *Session) {
		if s.SlotID == slot {
			out = append(out, s)
			t.sessions.Delete(s.Handle)
		}
	})
	return out
}

// Count returns how many sessions, and how many read/write ones, a slot has.
func (t *Table) Count(slot uint64) (all, rw int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.each(func(s *Session) {
		if s.SlotID == slot {
			all++
			if s.RW {
				rw++
			}
		}
	})
	return all, rw
}
