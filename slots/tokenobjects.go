package slots

import (
	"errors"

	"github.com/craton-hsm/craton/backend"
	. "github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
)

// How a token object is laid out in its row:
//   - clear: CKA_UNIQUE_ID always; for a public object also every attribute
//     that is not key material;
//   - sealed: AES-256-GCM under the token key, bound to the clear record:
//     every attribute of a private object, the key material of a public one.
// So the store's files never hold a key value or a private object in clear,
// and using such an object needs a logged-in process (which holds the key).
//
// Search tags (see backend.Tagger) index the attributes clients search by:
// plain digests for public objects, HMACs under a key derived from the token
// key for private ones.

func (t *Token) split(o *Object) (clearRec, sealedRec AttrSet) {
	var clearB, sealedB attrBuilder
	for typ, v := range o.Attrs.All() {
		switch {
		case typ == CKA_UNIQUE_ID:
			clearB.add(typ, v)
		case o.IsPrivate() || o.IsSecret(typ):
			sealedB.add(typ, v)
		default:
			clearB.add(typ, v)
		}
	}
	return clearB.build(), sealedB.build()
}

// rowLocked encodes o for the store. t.mu held.
func (t *Token) rowLocked(o *Object) (Row, error) {
	clearRec, sealedRec := t.split(o)
	r := Row{Handle: int64(o.Handle), Private: o.IsPrivate(), Clear: EncodeAttrs(clearRec)}
	if sealedRec.Len() > 0 {
		if t.tokenKey == nil {
			return r, Errorf(CKR_USER_NOT_LOGGED_IN, "storing key material or a private object needs a login")
		}
		plain := EncodeAttrs(sealedRec)
		sealed, err := backend.Seal(t.tokenKey, plain, r.Clear)
		clear(plain)
		if err != nil {
			return r, err
		}
		r.Sealed = sealed
		r.Generation = t.generation
	}
	tag := publicTags.Tag
	if o.IsPrivate() {
		if t.tagger == nil {
			return r, Errorf(CKR_USER_NOT_LOGGED_IN, "storing a private object needs a login")
		}
		tag = t.tagger.Tag
	}
	for typ, v := range o.Attrs.All() {
		if indexed[typ] {
			r.Tags = append(r.Tags, tag(typ, v))
		}
	}
	return r, nil
}

// decodeLocked turns a row into an Object. t.mu held.
func (t *Token) decodeLocked(r Row) (*Object, error) {
	attrs, err := DecodeAttrs(r.Clear)
	if err != nil {
		return nil, err
	}
	if r.Sealed != nil {
		if t.tokenKey == nil {
			return nil, errNeedsLogin
		}
		plain, err := backend.Open(t.tokenKey, r.Sealed, r.Clear)
		if err != nil {
			return nil, err
		}
		sealed, err := DecodeAttrs(plain)
		clear(plain)
		if err != nil {
			return nil, err
		}
		both := builderOf(attrs, sealed.Len())
		for typ, v := range sealed.All() {
			both.set(typ, v)
		}
		attrs = both.build()
		clear(sealed.data) // copied into attrs
	}
	return &Object{Handle: uint64(r.Handle), Attrs: attrs, Version: r.Version}, nil
}

var errNeedsLogin = errors.New("slots: object's sealed part needs a login")

// writeErrLocked maps a failed store write. A token re-initialised by
// another process voids this process's login: the keys are forgotten and
// the caller must log in again (with the new token's PINs).
func (t *Token) writeErrLocked(err error) error {
	if errors.Is(err, ErrTokenChanged) {
		t.forgetKeysLocked()
		t.log.Warn("token re-initialised by another process; logged out", zap.Uint64("slot", t.SlotID))
		return Errorf(CKR_USER_NOT_LOGGED_IN, "token re-initialised by another process")
	}
	return device(err)
}

// staleLocked reports (and acts on) a login that outlived a
// re-initialisation by another process: the keys are forgotten.
func (t *Token) staleLocked() bool {
	if t.tokenKey == nil || !t.mayBeStale() {
		return false
	}
	c, trusted := t.store.changes.Load() // before the query: a stamp for what it reads
	gen, err := t.store.Generation()
	if err != nil {
		return false
	}
	if gen == t.generation {
		if trusted {
			t.genChecked.Store(c + 1)
		}
		return false
	}
	t.forgetKeysLocked()
	t.log.Warn("token re-initialised by another process; logged out", zap.Uint64("slot", t.SlotID))
	return true
}

// mayBeStale reports whether a login may have outlived a re-initialisation
// by another process since staleLocked last looked. Only a write
// re-initialises the token, and every write moves the change counter: while
// the counter reads what it read at the last check, that check holds. No
// lock needed: a stale answer only costs a check.
func (t *Token) mayBeStale() bool {
	if t.login.Load() == NotLoggedIn {
		return false
	}
	c, trusted := t.store.changes.Load()
	return !trusted || t.genChecked.Load() != c+1
}

// IsSessionHandle tells session object handles from token object handles.
func IsSessionHandle(h uint64) bool { return h >= sessionObjectBase }

// AddObject stores a new object: a token object in the store, a session
// object in this process owned by session owner. It returns the handle.
func (t *Token) AddObject(o *Object, owner uint64) (uint64, error) {
	if !o.IsToken() {
		t.sessMu.Lock()
		defer t.sessMu.Unlock()
		t.nextSess++
		o.Handle, o.Owner = t.nextSess, owner
		t.sessObjs[o.Handle] = o
		return o.Handle, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.rowLocked(o)
	if err != nil {
		return 0, err
	}
	h, err := t.store.Insert(r)
	if err != nil {
		return 0, t.writeErrLocked(err)
	}
	o.Handle, o.Version = uint64(h), 1
	t.cachePut(h, o)
	return o.Handle, nil
}

// visible applies the private-object rule: a private object exists
// only for a process logged in as the user. It needs no lock (login is
// atomic), so the lock-free lookup applies it too.
func (t *Token) visible(o *Object) bool {
	return !o.IsPrivate() || t.login.Load() == CKU_USER
}

// Object returns the current version of object h, or
// CKR_OBJECT_HANDLE_INVALID when it does not exist or is not visible. The
// caller must Release it when done.
func (t *Token) Object(h uint64) (*Object, error) {
	if IsSessionHandle(h) {
		t.sessMu.Lock()
		defer t.sessMu.Unlock()
		o, ok := t.sessObjs[h]
		if !ok || !t.visible(o) {
			return nil, CKR_OBJECT_HANDLE_INVALID
		}
		return o.acquire(), nil
	}
	if o := t.fastObject(int64(h)); o != nil {
		return o, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.tokenObjectLocked(int64(h), -1)
	if err != nil {
		return nil, err
	}
	return o.acquire(), nil
}

// fastObject is Object's path for a cached token object that was confirmed
// against the store at the change counter's current value (no process has
// written the store since) and is visible: no lock at all, so threads
// using keys share no lock here. An object retired meanwhile (destroyed,
// replaced, logged out) is refused by tryAcquire, and the caller takes the
// locked path.
func (t *Token) fastObject(h int64) *Object {
	c, ok := t.store.changes.Load()
	if !ok {
		return nil
	}
	o := t.cached(h)
	if o == nil || o.checked.Load() != c+1 || !t.visible(o) || !o.tryAcquire() {
		return nil
	}
	return o
}

// cached is the decoded token object h, or nil.
func (t *Token) cached(h int64) *Object {
	if v, ok := t.cache.Load(h); ok {
		return v.(*Object)
	}
	return nil
}

// cachePut makes o the cached version of token object h, retiring the one
// it replaces. t.mu held.
func (t *Token) cachePut(h int64, o *Object) {
	old, had := t.cache.Swap(h, o)
	if had && old.(*Object) != o {
		old.(*Object).retire()
	}
}

// cacheDrop forgets token object h and retires it. t.mu held.
func (t *Token) cacheDrop(h int64) {
	if old, ok := t.cache.LoadAndDelete(h); ok {
		old.(*Object).retire()
	}
}

// tokenObjectLocked returns token object h, from the cache when version is
// current. version < 0: read it from the store, and stamp the object
// returned as confirmed at the change counter read before the query (a
// write since then moves the counter, voiding the stamp). t.mu held.
func (t *Token) tokenObjectLocked(h int64, version int64) (*Object, error) {
	if h <= 0 {
		return nil, CKR_OBJECT_HANDLE_INVALID
	}
	var changes uint64
	stamp := false
	if version < 0 {
		changes, stamp = t.store.changes.Load()
		v, err := t.store.Version(h)
		if errors.Is(err, ErrNoObject) {
			t.cacheDrop(h)
			return nil, CKR_OBJECT_HANDLE_INVALID
		} else if err != nil {
			return nil, device(err)
		}
		version = v
	}
	if o := t.cached(h); o != nil && o.Version == version {
		if !t.visible(o) {
			return nil, CKR_OBJECT_HANDLE_INVALID
		}
		if stamp {
			o.checked.Store(changes + 1)
		}
		return o, nil
	}
	r, err := t.store.Get(h)
	if errors.Is(err, ErrNoObject) {
		t.cacheDrop(h)
		return nil, CKR_OBJECT_HANDLE_INVALID
	} else if err != nil {
		return nil, device(err)
	}
	if r.Private && t.login.Load() != CKU_USER {
		return nil, CKR_OBJECT_HANDLE_INVALID
	}
	o, err := t.decodeLocked(r)
	if err != nil && !errors.Is(err, errNeedsLogin) && t.staleLocked() {
		if r.Private {
			return nil, CKR_OBJECT_HANDLE_INVALID
		}
		err = errNeedsLogin
	}
	if err != nil {
		// The object's clear part is all we can show: its key material
		// needs a login, or its sealed part does not open.
		attrs, derr := DecodeAttrs(r.Clear)
		o = &Object{Handle: uint64(h), Attrs: attrs, Version: r.Version, Locked: true}
		if !errors.Is(err, errNeedsLogin) || derr != nil {
			o.Corrupt = true
			b := builderOf(attrs, 2) // attrs is empty if it did not decode
			b.set(CKA_TOKEN, Bool(true))
			b.set(CKA_PRIVATE, Bool(r.Private))
			o.Attrs = b.build()
			t.corruptLog(h, errors.Join(err, derr))
		}
		return o, nil
	}
	if stamp {
		o.checked.Store(changes + 1)
	}
	t.cachePut(h, o)
	return o, nil
}

func (t *Token) corruptLog(h int64, err error) {
	t.log.Error("token object does not decode; only C_DestroyObject works on it", zap.Uint64("slot", t.SlotID), zap.Int64("handle", h), zap.Error(err))
}

// ReplaceObject stores n as the new state of object old (same handle).
func (t *Token) ReplaceObject(old, n *Object) error {
	if IsSessionHandle(old.Handle) {
		t.sessMu.Lock()
		defer t.sessMu.Unlock()
		if _, ok := t.sessObjs[old.Handle]; !ok {
			return CKR_OBJECT_HANDLE_INVALID
		}
		n.Owner = old.Owner
		t.sessObjs[old.Handle].retire()
		t.sessObjs[old.Handle] = n
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, err := t.rowLocked(n)
	if err != nil {
		return err
	}
	v, err := t.store.Update(r, old.Version)
	switch {
	case errors.Is(err, ErrNoObject):
		return CKR_OBJECT_HANDLE_INVALID
	case errors.Is(err, ErrConflict):
		return Errorf(CKR_FUNCTION_FAILED, "object %d changed in another process; read it again", old.Handle)
	case err != nil:
		return t.writeErrLocked(err)
	}
	n.Version = v
	t.cachePut(int64(old.Handle), n)
	return nil
}

// DestroyObject removes object h.
func (t *Token) DestroyObject(h uint64) error {
	if IsSessionHandle(h) {
		t.sessMu.Lock()
		defer t.sessMu.Unlock()
		o, ok := t.sessObjs[h]
		if !ok {
			return CKR_OBJECT_HANDLE_INVALID
		}
		delete(t.sessObjs, h)
		o.retire()
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.store.Delete(int64(h))
	if errors.Is(err, ErrNoObject) {
		return CKR_OBJECT_HANDLE_INVALID
	} else if err != nil {
		return device(err)
	}
	t.cacheDrop(int64(h))
	return nil
}

// DropSessionObjects destroys the session objects of session owner, or of
// every session when owner is 0.
func (t *Token) DropSessionObjects(owner uint64) {
	t.sessMu.Lock()
	defer t.sessMu.Unlock()
	for h, o := range t.sessObjs {
		if owner == 0 || o.Owner == owner {
			delete(t.sessObjs, h)
			o.retire()
		}
	}
}

// Find returns the handles of the visible objects matching tmpl: session
// objects first, then token objects, each in handle order. Token objects
// are narrowed by their search tags before any is decoded.
func (t *Token) Find(tmpl Template) ([]uint64, error) {
	if t.mayBeStale() {
		t.mu.Lock()
		t.staleLocked()
		t.mu.Unlock()
	}
	var out []uint64
	t.sessMu.Lock()
	for _, h := range sortedKeys(t.sessObjs) {
		o := t.sessObjs[h]
		if t.visible(o) && o.Matches(tmpl) {
			out = append(out, h)
		}
	}
	t.sessMu.Unlock()
	if tok, ok := tmpl.Find(CKA_TOKEN); ok && len(tok) == 1 && tok[0] == 0 {
		return out, nil
	}
	// A read lock: searches run side by side; writers (a logout, a
	// change to a token object) wait.
	t.mu.RLock()
	// The tags are made under the lock (a logout wipes the index key in
	// place); the store is asked without it.
	type scope struct {
		private bool
		tags    [][]byte
	}
	// The scopes, tags and their buffer live on the stack, so a remembered
	// search allocates nothing here. A scope's tags only narrow the search
	// (Matches decides), so at most maxSearchTags are made, the selective
	// ones first. (Arrays indexed directly: what is stored through a slice
	// escapes.)
	scopes := [2]scope{{private: false}, {private: true}}
	nScopes := 1
	if t.login.Load() == CKU_USER {
		nScopes = 2
	}
	var bufArr [2][maxSearchTags * backend.TagSize]byte
	var tagArr [2][maxSearchTags][]byte
	for i := range nScopes {
		tg := publicTags
		if scopes[i].private {
			tg = t.tagger
		}
		// The first tag drives the index lookup: a selective one (label,
		// ID, …) rather than one every object of a kind shares.
		buf, n := bufArr[i][:0], 0
		for _, broad := range [2]bool{false, true} {
			for _, a := range tmpl {
				if n < maxSearchTags && indexed[a.Type] && broadAttrs[a.Type] == broad {
					buf = tg.AppendTag(buf, a.Type, a.Value)
					tagArr[i][n] = buf[len(buf)-backend.TagSize:]
					n++
				}
			}
		}
		scopes[i].tags = tagArr[i][:n]
	}
	t.mu.RUnlock()
	for _, sc := range scopes[:nScopes] {
		refs, err := t.store.Refs(sc.tags, sc.private)
		if err != nil {
			return nil, device(err)
		}
		for _, ref := range refs {
			o, err := t.foundObject(ref)
			if errors.Is(err, CKR_OBJECT_HANDLE_INVALID) {
				continue // destroyed since the query, or hidden by a logout
			} else if err != nil {
				return nil, err
			}
			if !o.Corrupt && o.Matches(tmpl) {
				out = append(out, o.Handle)
			}
			o.Release()
		}
	}
	return out, nil
}

// maxSearchTags is how many of a template's indexed attributes a search
// narrows by, per scope.
const maxSearchTags = 4

// publicTags makes public objects' search tags (unkeyed).
var publicTags = backend.NewTagger(nil)

// foundObject is the token object a search found at ref, with a reference
// the caller releases (a concurrent logout or destroy must not wipe it while
// the search compares its attributes): the cached one when it is of ref's
// version, visible and not retired (no lock), else through the store under
// t.mu.
func (t *Token) foundObject(ref Ref) (*Object, error) {
	if o := t.cached(ref.Handle); o != nil && o.Version == ref.Version && t.visible(o) && o.tryAcquire() {
		return o, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.tokenObjectLocked(ref.Handle, ref.Version)
	if err != nil {
		return nil, err
	}
	return o.acquire(), nil
}
