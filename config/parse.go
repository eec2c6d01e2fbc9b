package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// fileConfig mirrors the TOML document. Pointers tell a key that is absent
// (keep the default) from one set to its zero value; integers are int64 so
// that negative or oversized values reach our own range checks.
type fileConfig struct {
	FIPSMode *bool `toml:"fips_mode"`
	Store    struct {
		Path *string `toml:"path"`
	} `toml:"store"`
	Log struct {
		Level *string `toml:"level"`
		File  *string `toml:"file"`
	} `toml:"log"`
	PIN struct {
		KDFIterations *int64 `toml:"kdf_iterations"`
		MaxFailures   *int64 `toml:"max_failures"`
	} `toml:"pin"`
	GCM struct {
		Journal        *string `toml:"journal"`
		MaxEncryptions *int64  `toml:"max_encryptions"`
	} `toml:"gcm"`
	FIPS struct {
		AllowPrehashedSign *bool `toml:"allow_prehashed_sign"`
	} `toml:"fips"`
	Slots *[]fileSlot `toml:"slot"`
}

type fileSlot struct {
	ID          *int64  `toml:"id"`
	Description *string `toml:"description"`
	Label       *string `toml:"label"`
}

// Parse decodes and validates one configuration file's contents. name is the
// file's path: it becomes [Config.Source] and is named in errors. Parse
// applies no environment overrides, but reads HOME and XDG_DATA_HOME to
// expand "~/" and to default store.path. It touches nothing on disk.
func Parse(name string, data []byte) (*Config, error) {
	c, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	if err := c.finish(name); err != nil {
		return nil, err
	}
	return c, nil
}

// decode parses data over the defaults and checks every key it sets. It
// leaves Store.Path empty when the file does not set it.
func decode(name string, data []byte) (*Config, error) {
	if len(data) > maxFileSize {
		return nil, &Error{Source: name, Reason: fmt.Sprintf("larger than %d bytes", maxFileSize), Kind: ErrInvalid}
	}
	if line, err := checkShape(data); err != nil {
		return nil, &Error{Source: name, Line: line, Reason: err.Error(), Kind: ErrInvalid}
	}
	var f fileConfig
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, tomlError(name, data, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, &Error{Source: name, Key: u[0].String(), Reason: "unknown key", Kind: ErrInvalid}
	}

	c := defaults()
	c.Source = name
	bad := func(key string, value any, err error) error {
		return invalid(name, key, formatValue(value), err)
	}

	if f.FIPSMode != nil {
		c.FIPSMode = *f.FIPSMode
	}
	if p := f.Store.Path; p != nil {
		v, err := expandPath(*p, false)
		if err != nil {
			return nil, bad("store.path", *p, err)
		}
		c.Store.Path = v
	}
	if l := f.Log.Level; l != nil {
		if err := checkLevel(*l); err != nil {
			return nil, bad("log.level", *l, err)
		}
		c.Log.Level = *l
	}
	if p := f.Log.File; p != nil {
		v, err := expandPath(*p, true)
		if err != nil {
			return nil, bad("log.file", *p, err)
		}
		c.Log.File = v
	}
	if n := f.PIN.KDFIterations; n != nil {
		if err := checkRange(*n, minKDFIterations, maxKDFIterations); err != nil {
			return nil, bad("pin.kdf_iterations", *n, err)
		}
		c.PIN.KDFIterations = int(*n)
	}
	if n := f.PIN.MaxFailures; n != nil {
		if err := checkRange(*n, minMaxFailures, maxMaxFailures); err != nil {
			return nil, bad("pin.max_failures", *n, err)
		}
		c.PIN.MaxFailures = int(*n)
	}
	if p := f.GCM.Journal; p != nil {
		v, err := expandPath(*p, true)
		if err != nil {
			return nil, bad("gcm.journal", *p, err)
		}
		c.GCM.Journal = v
	}
	if n := f.GCM.MaxEncryptions; n != nil {
		if err := checkRange(*n, 1, maxGCMEncryptions); err != nil {
			return nil, bad("gcm.max_encryptions", *n, err)
		}
		c.GCM.MaxEncryptions = uint64(*n)
	}
	if b := f.FIPS.AllowPrehashedSign; b != nil {
		c.FIPS.AllowPrehashedSign = *b
	}
	if f.Slots != nil {
		slots, err := decodeSlots(name, *f.Slots)
		if err != nil {
			return nil, err
		}
		c.Slots = slots
	}
	return c, nil
}

func decodeSlots(name string, fs []fileSlot) ([]Slot, error) {
	if len(fs) == 0 {
		return nil, invalid(name, "slot", "", errNoSlots)
	}
	slots := make([]Slot, 0, len(fs))
	seen := make(map[uint64]int, len(fs))
	for i, f := range fs {
		bad := func(field string, value any, err error) error {
			return invalid(name, slotKey(i, field), formatValue(value), err)
		}
		if f.ID == nil {
			return nil, invalid(name, slotKey(i, "id"), "", errors.New("missing: every [[slot]] needs an id"))
		}
		if err := checkRange(*f.ID, 0, maxSlotID); err != nil {
			return nil, bad("id", *f.ID, err)
		}
		id := uint64(*f.ID)
		if j, dup := seen[id]; dup {
			return nil, bad("id", *f.ID, fmt.Errorf("duplicate slot id (also slot[%d])", j))
		}
		seen[id] = i
		s := defaultSlot(id)
		if d := f.Description; d != nil {
			if err := checkText(*d, maxDescriptionLen); err != nil {
				return nil, bad("description", *d, err)
			}
			s.Description = *d
		}
		if l := f.Label; l != nil {
			if err := checkText(*l, maxLabelLen); err != nil {
				return nil, bad("label", *l, err)
			}
			s.Label = *l
		}
		slots = append(slots, s)
	}
	return slots, nil
}

// tomlError turns a decoder error into an ErrInvalid *Error. Syntax errors
// carry a line and the last key read. Anything else is a value of the wrong
// TOML type, which the decoder describes in Go terms; typeError finds the key
// again and says what it should have been.
func tomlError(name string, data []byte, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{Source: name, Line: pe.Position.Line, Key: pe.LastKey,
			Reason: pe.Message, Kind: ErrInvalid, Err: err}
	}
	if e := typeError(name, data); e != nil {
		e.Err = err
		return e
	}
	return &Error{Source: name, Reason: strings.TrimPrefix(err.Error(), "toml: "),
		Kind: ErrInvalid, Err: err}
}

// tomlKind is the TOML type a known key must have.
type tomlKind string

const (
	kindBool   tomlKind = "a boolean"
	kindInt    tomlKind = "an integer"
	kindString tomlKind = "a string"
	kindTable  tomlKind = "a table"
	kindSlots  tomlKind = "an array of tables ([[slot]])"
)

// schema gives, for each table ("" is the top level), the kind of each key.
// It must agree with fileConfig; TestSchemaMatchesFileConfig checks that.
var schema = map[string]map[string]tomlKind{
	"":      {"fips_mode": kindBool, "store": kindTable, "log": kindTable, "pin": kindTable, "gcm": kindTable, "fips": kindTable, "slot": kindSlots},
	"store": {"path": kindString},
	"log":   {"level": kindString, "file": kindString},
	"pin":   {"kdf_iterations": kindInt, "max_failures": kindInt},
	"gcm":   {"journal": kindString, "max_encryptions": kindInt},
	"fips":  {"allow_prehashed_sign": kindBool},
	"slot":  {"id": kindInt, "description": kindString, "label": kindString},
}

// typeError re-reads data generically and returns the first known key whose
// value has the wrong TOML type, or nil if it finds none.
func typeError(name string, data []byte) *Error {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil
	}
	return checkTypes(name, "", "", doc)
}

func checkTypes(name, table, prefix string, m map[string]any) *Error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		want, known := schema[table][k]
		if !known {
			continue // reported as an unknown key once decoding succeeds
		}
		key, v := prefix+k, m[k]
		mismatch := func(key string, v any, want tomlKind) *Error {
			var value string
			switch v.(type) {
			case bool, int64, string:
				value = formatValue(v)
			}
			return &Error{Source: name, Key: key, Value: value,
				Reason: fmt.Sprintf("must be %s, not %s", want, tomlKindOf(v)), Kind: ErrInvalid}
		}
		switch want {
		case kindBool, kindInt, kindString:
			if tomlKindOf(v) != want {
				return mismatch(key, v, want)
			}
		case kindTable:
			sub, ok := v.(map[string]any)
			if !ok {
				return mismatch(key, v, want)
			}
			if e := checkTypes(name, k, key+".", sub); e != nil {
				return e
			}
		case kindSlots:
			var elems []any
			switch arr := v.(type) {
			case []map[string]any: // [[slot]]
				for _, t := range arr {
					elems = append(elems, t)
				}
			case []any: // slot = [{...}, ...]
				elems = arr
			default:
				return mismatch(key, v, want)
			}
			for i, el := range elems {
				sub, ok := el.(map[string]any)
				if !ok {
					return mismatch(fmt.Sprintf("%s[%d]", key, i), el, kindTable)
				}
				if e := checkTypes(name, k, fmt.Sprintf("%s[%d].", key, i), sub); e != nil {
					return e
				}
			}
		}
	}
	return nil
}

// tomlKindOf names the TOML type of a generically decoded value.
func tomlKindOf(v any) tomlKind {
	switch v.(type) {
	case bool:
		return kindBool
	case int64:
		return kindInt
	case string:
		return kindString
	case float64:
		return "a float"
	case map[string]any:
		return kindTable
	case []any, []map[string]any:
		return "an array"
	default:
		return "a date-time"
	}
}

// expandPath expands a leading "~" or "~/" to the home directory, cleans the
// result and checks it with checkPath. "~user" is not supported.
func expandPath(p string, emptyOK bool) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := homeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %w", err)
		}
		p = filepath.Join(home, p[1:])
	}
	if err := checkPath(p, emptyOK); err != nil {
		return "", err
	}
	if p == "" {
		return "", nil
	}
	return filepath.Clean(p), nil
}

// homeDir returns the user's home directory ($HOME, else what
// os.UserHomeDir finds), which must be absolute.
func homeDir() (string, error) {
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(h) {
		return "", fmt.Errorf("home directory %q is not absolute", h)
	}
	return h, nil
}

// xdgDir returns $env if it is an absolute path (the XDG base directory
// specification says relative values are to be ignored), else home/fallback.
func xdgDir(env, fallback string) (string, error) {
	if d := os.Getenv(env); filepath.IsAbs(d) {
		return filepath.Clean(d), nil
	}
	home, err := homeDir()
	if err != nil {
		return "", fmt.Errorf("neither %s nor HOME is usable: %w", env, err)
	}
	return filepath.Join(home, fallback), nil
}

// defaultStorePath is $XDG_DATA_HOME/craton or ~/.local/share/craton.
func defaultStorePath() (string, error) {
	d, err := xdgDir("XDG_DATA_HOME", ".local/share")
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "craton"), nil
}

// userConfigPath is $XDG_CONFIG_HOME/craton/craton.toml or
// ~/.config/craton/craton.toml.
func userConfigPath() (string, error) {
	d, err := xdgDir("XDG_CONFIG_HOME", ".config")
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "craton", "craton.toml"), nil
}
