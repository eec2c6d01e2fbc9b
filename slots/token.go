package slots

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/craton-hsm/craton/backend"
	. "github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
)

// NotLoggedIn is the login state of a token nobody is logged in to.
const NotLoggedIn = ^uint64(0)

// PIN length bounds reported in CK_TOKEN_INFO and enforced on every new PIN.
const (
	MinPINLen = 4
	MaxPINLen = 255
)

// sessionObjectBase is where session object handles start, far above the
// store's row ids, so the two never meet.
const sessionObjectBase = 1 << 30

// indexed are the attributes that get a search tag: what clients search by.
var indexed = map[uint64]bool{
	CKA_CLASS: true, CKA_KEY_TYPE: true, CKA_LABEL: true, CKA_ID: true,
	CKA_CERTIFICATE_TYPE: true, CKA_SUBJECT: true, CKA_ISSUER: true,
	CKA_SERIAL_NUMBER: true, CKA_APPLICATION: true, CKA_OBJECT_ID: true,
	CKA_UNIQUE_ID: true,
}

// broadAttrs are indexed attributes that many objects share (the class, the
// key type): a search by them alone still scans their objects, so they
// never drive a lookup when a selective attribute is also given.
var broadAttrs = map[uint64]bool{CKA_CLASS: true, CKA_KEY_TYPE: true, CKA_CERTIFICATE_TYPE: true}

// Config is what a token takes from the configuration.
type Config struct {
	SlotID        uint64
	Description   string
	Label         string // token label shown until C_InitToken sets one
	KDFIterations int
	MaxFailures   int
}

// Token is one slot's token as this process sees it: the store, the login
// state (shared by all sessions of the process, as PKCS#11 says), the token
// key while someone is logged in, the cache of decoded token objects and
// the session objects.
//
// Lock order: callers may hold a session's lock when they call into a Token;
// a Token never calls out while holding mu. Token.mu guards every field below
// it up to sessMu (login is written under it and read without it); sessMu
// guards the session objects (see there). mu is held for reading only where
// nothing changes and the store is not asked (Find while it makes its
// tags), so operations starting in parallel do not queue on one another.
// Every change to a token object or the login, and every store query made
// to fill or confirm the cache, holds it for writing. Two paths take no lock at all: Object for a cached
// token object the store's change counter vouches for (fastObject), and
// Find for a cached object of the version its search returned
// (foundObject); both take their reference with tryAcquire, which refuses
// a retired object. Otherwise a reference to a token object is taken under
// mu, in either mode, and token objects are retired only under mu held for
// writing (session objects: both under sessMu), so no reference appears
// after the retire. Find asks the store without mu
// (Store has its own locks, taken after mu when both are held). PBKDF2 runs
// outside mu so a slow login does not stall other sessions.
type Token struct {
	Config
	store *Store
	log   *zap.Logger

	mu         sync.RWMutex
	tokenKey   []byte
	tagger     *backend.Tagger // private objects' search tags, under the index key it holds; nil when logged out
	generation int64           // of the token row when tokenKey was unwrapped
	// genChecked is the change counter + 1 when the store's generation was
	// last found to be generation (0: not since the login); see staleLocked.
	genChecked atomic.Uint64
	// cache holds the decoded token objects (int64 handle → *Object): written
	// under mu, read without it by Object's lock-free path. login is the
	// login state (CKU_SO, CKU_USER or NotLoggedIn): written under mu, read
	// with or without it.
	cache sync.Map
	login atomic.Uint64

	// sessMu guards the session objects: the map and the next handle. It
	// is taken alone, or after mu where both are held (Close, InitToken),
	// and never while taking another lock. A plain Mutex, not mu: a
	// session object's creation, lookup and destruction are a few map
	// operations, and an RWMutex's writer sleeps at once on a reader (as a
	// reader does on a waiting writer), where a Mutex spins first. On a
	// 2-vCPU VM a sleep costs about 100 µs to wake from, so two threads
	// making session keys under mu got no more done than one.
	sessMu   sync.Mutex
	sessObjs map[uint64]*Object
	nextSess uint64
}

// OpenToken opens the token's store at path.
func OpenToken(cfg Config, path string, log *zap.Logger) (*Token, error) {
	st, err := OpenStore(path)
	if err != nil {
		return nil, err
	}
	t := &Token{
		Config: cfg, store: st, log: log,
		sessObjs: map[uint64]*Object{},
		nextSess: sessionObjectBase,
	}
	t.login.Store(NotLoggedIn)
	return t, nil
}

// Close wipes key material and closes the store.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetKeysLocked()
	t.DropSessionObjects(0) // sessMu after mu
	return t.store.Close()
}

func (t *Token) forgetKeysLocked() {
	clear(t.tokenKey)
	if t.tagger != nil {
		t.tagger.Wipe() // and the index key with it
	}
	t.tokenKey, t.tagger = nil, nil
	t.login.Store(NotLoggedIn)
	t.cache.Range(func(h, o any) bool {
		t.cache.Delete(h)
		o.(*Object).retire()
		return true
	})
}

// device maps an I/O failure of the store to CKR_DEVICE_ERROR, keeping the cause.
func device(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := RVOf(err); ok {
		return err
	}
	return fmt.Errorf("%w: %w", CKR_DEVICE_ERROR, err)
}

// Info fills the token-specific fields of CK_TOKEN_INFO.
func (t *Token) Info() (TokenInfo, error) {
	rec, err := t.store.LoadToken()
	if err != nil {
		return TokenInfo{}, device(err)
	}
	info := TokenInfo{
		Label:           rec.Label,
		ManufacturerID:  "Craton",
		Model:           "Craton",
		SerialNumber:    rec.Serial,
		Flags:           CKF_RNG | CKF_LOGIN_REQUIRED,
		MaxPinLen:       MaxPINLen,
		MinPinLen:       MinPINLen,
		HardwareVersion: Version{Major: 0, Minor: 1},
		FirmwareVersion: Version{Major: 0, Minor: 1},
	}
	if rec.Initialized {
		info.Flags |= CKF_TOKEN_INITIALIZED
	} else {
		info.Label = t.Label
	}
	if rec.User.Set() {
		info.Flags |= CKF_USER_PIN_INITIALIZED
	}
	info.Flags |= t.pinFlags(rec.User.Failures, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED)
	info.Flags |= t.pinFlags(rec.SO.Failures, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED)
	return info, nil
}

func (t *Token) pinFlags(failures int, low, final, locked uint64) uint64 {
	switch {
	case failures >= t.MaxFailures:
		return locked
	case failures == t.MaxFailures-1:
		return low | final
	case failures > 0:
		return low
	}
	return 0
}

// LoginState is CKU_SO, CKU_USER or NotLoggedIn. It takes no lock:
// C_GetSessionInfo and every session check ask it, and a read lock shared
// by every thread costs more than the answer (two threads asking it did not
// get 1.1x one thread's calls through).
func (t *Token) LoginState() uint64 {
	return t.login.Load()
}

func checkPINLen(pin []byte) error {
	if len(pin) < MinPINLen || len(pin) > MaxPINLen {
		return Errorf(CKR_PIN_LEN_RANGE, "PIN length %d outside %d..%d", len(pin), MinPINLen, MaxPINLen)
	}
	return nil
}

func wrapAAD(which PINSlot) []byte { return []byte("craton token key v1 " + string(which)) }

// newPINRecord derives a fresh record for pin that wraps tokenKey.
func (t *Token) newPINRecord(which PINSlot, pin, tokenKey []byte) (PINRecord, error) {
	salt := backend.Random(backend.SaltLen)
	keys, err := backend.DerivePIN(pin, salt, t.KDFIterations)
	if err != nil {
		return PINRecord{}, err
	}
	defer keys.Wipe()
	wrapped, err := backend.Seal(keys.KEK[:], tokenKey, wrapAAD(which))
	if err != nil {
		return PINRecord{}, err
	}
	return PINRecord{Salt: salt, Verifier: append([]byte{}, keys.Verifier[:]...), Wrapped: wrapped, Iterations: t.KDFIterations}, nil
}

// checkPIN verifies pin against the stored record and returns the
// unwrapped token key. The attempt is counted before PBKDF2 runs (see
// Store.BeginAttempt) and the count is cleared when the PIN is right.
func (t *Token) checkPIN(which PINSlot, p PINRecord, pin []byte) ([]byte, error) {
	n, ok, err := t.store.BeginAttempt(which, t.MaxFailures)
	if err != nil {
		return nil, device(err)
	}
	if !ok {
		return nil, Errorf(CKR_PIN_LOCKED, "%s PIN locked", which)
	}
	keys, err := backend.DerivePIN(pin, p.Salt, p.Iterations)
	if err != nil {
		return nil, fmt.Errorf("%w: derive %s PIN key: %w", CKR_GENERAL_ERROR, which, err)
	}
	defer keys.Wipe()
	if !backend.Equal(keys.Verifier[:], p.Verifier) {
		t.log.Warn("wrong PIN", zap.Uint64("slot", t.SlotID), zap.String("pin", string(which)), zap.Int("failures", n), zap.Int("max_failures", t.MaxFailures))
		if n >= t.MaxFailures {
			t.log.Error("PIN locked", zap.Uint64("slot", t.SlotID), zap.String("pin", string(which)))
		}
		return nil, CKR_PIN_INCORRECT
	}
	key, err := backend.Open(keys.KEK[:], p.Wrapped, wrapAAD(which))
	if err != nil {
		return nil, fmt.Errorf("%w: %s PIN verified but the token key does not unwrap: %w", CKR_DEVICE_ERROR, which, err)
	}
	if err := t.store.ResetFailures(which); err != nil {
		clear(key)
		return nil, device(err)
	}
	return key, nil
}

// InitToken (re)initialises the token: wipes its objects, sets the SO PIN
// and label, clears the user PIN. The caller has checked that no session is
// open on this token in this process.
func (t *Token) InitToken(soPIN []byte, label string) error {
	if err := checkPINLen(soPIN); err != nil {
		return err
	}
	rec, err := t.store.LoadToken()
	if err != nil {
		return device(err)
	}
	if rec.Initialized {
		key, err := t.checkPIN(SOPIN, rec.SO, soPIN)
		if err != nil {
			return err
		}
		clear(key)
	}
	tokenKey := backend.Random(backend.KeyLen)
	defer clear(tokenKey)
	so, err := t.newPINRecord(SOPIN, soPIN, tokenKey)
	if err != nil {
		return err
	}
	if _, err := t.store.Reinitialize(strings.TrimRight(label, " "), so); err != nil {
		return device(err)
	}
	t.mu.Lock()
	t.forgetKeysLocked()
	t.DropSessionObjects(0) // sessMu after mu
	t.mu.Unlock()
	t.log.Info("token initialised", zap.Uint64("slot", t.SlotID))
	return nil
}

// Login checks the PIN of userType (CKU_SO or CKU_USER) and, on success,
// holds the token key for this process. The caller has checked the session
// rules (read-only sessions and SO, already logged in).
func (t *Token) Login(userType uint64, pin []byte) error {
	rec, err := t.store.LoadToken()
	if err != nil {
		return device(err)
	}
	which, p := UserPIN, rec.User
	if userType == CKU_SO {
		which, p = SOPIN, rec.SO
	}
	if !rec.Initialized || !p.Set() {
		return Errorf(CKR_USER_PIN_NOT_INITIALIZED, "no %s PIN on slot %d", which, t.SlotID)
	}
	key, err := t.checkPIN(which, p, pin)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.login.Load() != NotLoggedIn {
		clear(key)
		if t.login.Load() == userType {
			return CKR_USER_ALREADY_LOGGED_IN
		}
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN
	}
	t.tokenKey, t.tagger, t.generation = key, backend.NewTagger(backend.IndexKey(key)), rec.Generation
	t.genChecked.Store(0)
	t.login.Store(userType)
	return nil
}

// Logout forgets the token key and every decoded private object.
func (t *Token) Logout() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.login.Load() == NotLoggedIn {
		return CKR_USER_NOT_LOGGED_IN
	}
	t.forgetKeysLocked()
	return nil
}

// InitPIN sets the user PIN; the SO must be logged in.
func (t *Token) InitPIN(pin []byte) error {
	if err := checkPINLen(pin); err != nil {
		return err
	}
	t.mu.Lock()
	if t.login.Load() != CKU_SO {
		t.mu.Unlock()
		return CKR_USER_NOT_LOGGED_IN
	}
	key, gen := append([]byte{}, t.tokenKey...), t.generation
	t.mu.Unlock()
	defer clear(key)
	rec, err := t.newPINRecord(UserPIN, pin, key)
	if err != nil {
		return err
	}
	return t.storePIN(UserPIN, gen, rec)
}

func (t *Token) storePIN(which PINSlot, gen int64, rec PINRecord) error {
	err := t.store.SetPIN(which, gen, rec)
	if errors.Is(err, ErrTokenChanged) {
		return Errorf(CKR_DEVICE_ERROR, "token re-initialised by another process; log in again")
	}
	return device(err)
}

// SetPIN changes the SO PIN when the SO is logged in, else the user PIN,
// after checking the old one.
func (t *Token) SetPIN(oldPIN, newPIN []byte) error {
	if err := checkPINLen(newPIN); err != nil {
		return err
	}
	which := UserPIN
	if t.LoginState() == CKU_SO {
		which = SOPIN
	}
	rec, err := t.store.LoadToken()
	if err != nil {
		return device(err)
	}
	p := rec.User
	if which == SOPIN {
		p = rec.SO
	}
	if !p.Set() {
		return CKR_USER_PIN_NOT_INITIALIZED
	}
	key, err := t.checkPIN(which, p, oldPIN)
	if err != nil {
		return err
	}
	defer clear(key)
	nr, err := t.newPINRecord(which, newPIN, key)
	if err != nil {
		return err
	}
	return t.storePIN(which, rec.Generation, nr)
}

// VerifyUserPIN checks the user PIN again, for a context-specific login
// (CKA_ALWAYS_AUTHENTICATE), counting failures like any login.
func (t *Token) VerifyUserPIN(pin []byte) error {
	rec, err := t.store.LoadToken()
	if err != nil {
		return device(err)
	}
	key, err := t.checkPIN(UserPIN, rec.User, pin)
	clear(key)
	return err
}
