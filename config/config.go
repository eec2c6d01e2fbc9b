// Package config owns Craton's configuration: the TOML file, the environment
// overrides, the built-in defaults and the validation that turns a bad value
// into an error naming the file, the key and what is wrong. It imports no other
// Craton package; its errors ([ErrInvalid], [ErrNotFound], carried by [*Error])
// are mapped to CK_RV values by the caller.
//
// # Lookup order
//
// [Load] reads at most one file, the first of:
//
//  1. $CRATON_CONF, if set and non-empty. The file must exist.
//  2. The reserved string handed to C_Initialize (CK_C_INITIALIZE_ARGS.pReserved,
//     which p11-kit fills from a module's x-init-reserved option), read as a
//     path with an optional "conf=" prefix. Empty means none; a named file
//     must exist.
//  3. The per-user file $XDG_CONFIG_HOME/craton/craton.toml, or
//     ~/.config/craton/craton.toml when XDG_CONFIG_HOME is unset or not
//     absolute. Used only if it exists; a file that exists but cannot be read
//     is an error, never silently skipped.
//
// Without any file Craton runs on the built-in defaults. A leading "~/" in
// CRATON_CONF or the reserved string is expanded to the home directory.
// Loading only reads: it never creates, writes or locks anything on disk.
//
// # Keys and defaults
//
//	fips_mode = false                  # true: the FIPS backend, fail-closed
//	[store]
//	path = "..."                       # $XDG_DATA_HOME/craton or ~/.local/share/craton
//	[log]
//	level = "warn"                     # debug | info | warn | error
//	file = ""                          # empty: stderr
//	[pin]
//	kdf_iterations = 600000            # 1000 .. 10000000
//	max_failures = 10                  # 1 .. 1000
//	[gcm]
//	journal = ""                       # empty: <store.path>/gcm.journal
//	max_encryptions = 4294967296       # 1 .. 2^32 (the NIST SP 800-38D cap)
//	[fips]
//	allow_prehashed_sign = false
//	[[slot]]                           # one table per slot; default: one slot, id 0
//	id = 0                             # required; 0 .. 2^31-1, unique
//	description = "Craton slot 0"      # at most 64 bytes; default "Craton slot <id>"
//	label = ""                         # token label before C_InitToken; at most 32 bytes
//
// Unknown keys are errors. Paths (store.path, log.file, gcm.journal) must be
// absolute; a leading "~/" is expanded to the home directory, and a relative
// path is an error because a library cannot know its host's working directory.
// An empty store.path is an error: omit the key to get the default.
//
// # Environment overrides
//
// After the file, these variables override single keys. Each is validated like
// the key it replaces, and errors name the variable. An empty variable counts
// as unset.
//
//	CRATON_STORE_PATH   store.path
//	CRATON_LOG_LEVEL    log.level   (debug, info, warn or error)
//	CRATON_LOG_FILE     log.file
//	CRATON_FIPS_MODE    fips_mode   (true, false, 1 or 0)
//
// # Errors
//
// Every error is an [*Error] and reads like
//
//	config /home/u/.config/craton/craton.toml: pin.max_failures = 0: must be between 1 and 1000
//
// Bad values, unknown keys and TOML syntax errors match [ErrInvalid] with
// [errors.Is]; a file named by CRATON_CONF or the reserved string that does not
// exist matches [ErrNotFound]. Other I/O failures (say, permission denied)
// match neither and unwrap to the underlying [*fs.PathError].
package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Limits and defaults. The names in the file are the contract; these values
// may only become more permissive.
const (
	defaultLogLevel       = "warn"
	defaultKDFIterations  = 600_000
	minKDFIterations      = 1_000
	maxKDFIterations      = 10_000_000
	defaultMaxFailures    = 10
	minMaxFailures        = 1
	maxMaxFailures        = 1_000
	maxGCMEncryptions     = 1 << 32 // NIST SP 800-38D, random 96-bit IVs
	maxSlotID             = 1<<31 - 1
	maxDescriptionLen     = 64 // CK_SLOT_INFO.slotDescription
	maxLabelLen           = 32 // CK_TOKEN_INFO.label
	journalFileName       = "gcm.journal"
	sourceDefaults        = "built-in defaults"
	sourceEnvironment     = "environment"
	defaultSlotDescPrefix = "Craton slot "
)

// logLevels lists the accepted log.level values, in order of verbosity.
var logLevels = []string{"debug", "info", "warn", "error"}

// Config is a complete, validated configuration. [Load], [Parse] and
// [Default] return one; a caller that builds or edits a Config itself should
// call [Config.Validate].
type Config struct {
	// Source is the file the configuration came from, or "" for the
	// built-in defaults.
	Source string

	FIPSMode bool // fips_mode
	Store    Store
	Log      Log
	PIN      PIN
	GCM      GCM
	FIPS     FIPS
	Slots    []Slot // [[slot]]; never empty
}

// Store is the [store] table.
type Store struct {
	Path string // path: absolute directory holding the token store
}

// Log is the [log] table.
type Log struct {
	Level string // level: "debug", "info", "warn" or "error"
	File  string // file: absolute path, or "" for stderr
}

// PIN is the [pin] table.
type PIN struct {
	KDFIterations int // kdf_iterations: PBKDF2 iterations for PIN-derived keys
	MaxFailures   int // max_failures: consecutive wrong PINs before lockout
}

// GCM is the [gcm] table.
type GCM struct {
	Journal        string // journal: absolute path, or "" for <store.path>/gcm.journal; see [Config.JournalPath]
	MaxEncryptions uint64 // max_encryptions: per-key cap, at most 2^32
}

// FIPS is the [fips] table.
type FIPS struct {
	AllowPrehashedSign bool // allow_prehashed_sign
}

// Slot is one [[slot]] table.
type Slot struct {
	ID          uint64 // id: the CK_SLOT_ID, below 2^31
	Description string // description: CK_SLOT_INFO.slotDescription, at most 64 bytes
	Label       string // label: token label shown before C_InitToken, at most 32 bytes; may be empty
}

// JournalPath returns the GCM journal file: gcm.journal if set, else
// gcm.journal under the store directory.
func (c *Config) JournalPath() string {
	if c.GCM.Journal != "" {
		return c.GCM.Journal
	}
	return filepath.Join(c.Store.Path, journalFileName)
}

// defaults returns the built-in defaults except Store.Path, which is filled
// in by finish only when neither the file nor the environment sets it: its
// default needs the home directory, which may be missing where it is not
// needed.
// BuildFIPSDefault is the built-in fips_mode: "true" in the library that
// `make fips` builds against Go's certified module (set with -ldflags -X),
// "false" otherwise. A configuration file or CRATON_FIPS_MODE still decides.
var BuildFIPSDefault = "false"

func defaults() *Config {
	return &Config{
		FIPSMode: BuildFIPSDefault == "true",
		Log:      Log{Level: defaultLogLevel},
		PIN: PIN{
			KDFIterations: defaultKDFIterations,
			MaxFailures:   defaultMaxFailures,
		},
		GCM:   GCM{MaxEncryptions: maxGCMEncryptions},
		Slots: []Slot{defaultSlot(0)},
	}
}

func defaultSlot(id uint64) Slot {
	return Slot{ID: id, Description: fmt.Sprintf("%s%d", defaultSlotDescPrefix, id)}
}

// Default returns the built-in defaults, ignoring every file and environment
// override except the variables that locate the default store directory
// (XDG_DATA_HOME, HOME).
func Default() (*Config, error) {
	c := defaults()
	if err := c.finish(sourceDefaults); err != nil {
		return nil, err
	}
	return c, nil
}

// finish fills in the default store path if nothing set one, then validates
// the whole configuration. src names the configuration in errors.
func (c *Config) finish(src string) error {
	if c.Store.Path == "" {
		p, err := defaultStorePath()
		if err != nil {
			return &Error{Source: src, Key: "store.path", Reason: "no default: " + err.Error() +
				"; set store.path or CRATON_STORE_PATH", Kind: ErrInvalid, Err: err}
		}
		c.Store.Path = p
	}
	return c.Validate()
}

// Validate checks every value against the same rules the file parser applies
// and returns the first problem as an [*Error] matching [ErrInvalid]. Paths
// must already be absolute (Validate does not expand "~").
func (c *Config) Validate() error {
	src := c.Source
	if src == "" {
		src = sourceDefaults
	}
	bad := func(key string, value any, err error) error {
		return invalid(src, key, formatValue(value), err)
	}
	if err := checkPath(c.Store.Path, false); err != nil {
		return bad("store.path", c.Store.Path, err)
	}
	if err := checkLevel(c.Log.Level); err != nil {
		return bad("log.level", c.Log.Level, err)
	}
	if err := checkPath(c.Log.File, true); err != nil {
		return bad("log.file", c.Log.File, err)
	}
	if err := checkRange(int64(c.PIN.KDFIterations), minKDFIterations, maxKDFIterations); err != nil {
		return bad("pin.kdf_iterations", c.PIN.KDFIterations, err)
	}
	if err := checkRange(int64(c.PIN.MaxFailures), minMaxFailures, maxMaxFailures); err != nil {
		return bad("pin.max_failures", c.PIN.MaxFailures, err)
	}
	if err := checkPath(c.GCM.Journal, true); err != nil {
		return bad("gcm.journal", c.GCM.Journal, err)
	}
	if c.GCM.MaxEncryptions < 1 || c.GCM.MaxEncryptions > maxGCMEncryptions {
		return bad("gcm.max_encryptions", c.GCM.MaxEncryptions, errRange(1, maxGCMEncryptions))
	}
	if len(c.Slots) == 0 {
		return invalid(src, "slot", "", errNoSlots)
	}
	seen := make(map[uint64]int, len(c.Slots))
	for i, s := range c.Slots {
		if s.ID > maxSlotID {
			return bad(slotKey(i, "id"), s.ID, errRange(0, maxSlotID))
		}
		if j, dup := seen[s.ID]; dup {
			return bad(slotKey(i, "id"), s.ID, fmt.Errorf("duplicate slot id (also slot[%d])", j))
		}
		seen[s.ID] = i
		if err := checkText(s.Description, maxDescriptionLen); err != nil {
			return bad(slotKey(i, "description"), s.Description, err)
		}
		if err := checkText(s.Label, maxLabelLen); err != nil {
			return bad(slotKey(i, "label"), s.Label, err)
		}
	}
	return nil
}

func slotKey(i int, field string) string {
	return fmt.Sprintf("slot[%d].%s", i, field)
}

// The checks below return a reason, without the key or value, which the
// caller wraps into an *Error. The file parser, the environment overrides and
// Validate share them.

var errNoSlots = fmt.Errorf("at least one [[slot]] is required")

func errRange(lo, hi uint64) error {
	return fmt.Errorf("must be between %d and %d", lo, hi)
}

func checkRange(v, lo, hi int64) error {
	if v < lo || v > hi {
		return errRange(uint64(lo), uint64(hi))
	}
	return nil
}

func checkLevel(s string) error {
	for _, l := range logLevels {
		if s == l {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(logLevels, ", "))
}

// checkPath accepts an absolute path without NUL bytes, or "" when emptyOK.
func checkPath(p string, emptyOK bool) error {
	switch {
	case p == "" && emptyOK:
		return nil
	case p == "":
		return fmt.Errorf("must not be empty (omit the key for the default)")
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("must not contain a NUL byte")
	case !filepath.IsAbs(p):
		return fmt.Errorf("must be an absolute path (or start with ~/)")
	}
	return nil
}

func checkText(s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("must be valid UTF-8")
	}
	if len(s) > max {
		return fmt.Errorf("must be at most %d bytes, is %d", max, len(s))
	}
	return nil
}
