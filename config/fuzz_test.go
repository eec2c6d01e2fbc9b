package config

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse checks that Parse never panics, that every failure is an
// ErrInvalid *Error, and that every success validates and survives a round
// trip through TOML unchanged. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Setenv("HOME", "/home/fuzz")
	f.Setenv("XDG_DATA_HOME", "")
	f.Add([]byte(fullConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/etc/craton/fuzz.toml"
		c, err := Parse(name, data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Source != name {
				t.Fatalf("Parse error %v (%T) is not an ErrInvalid *Error from %s", err, err, name)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		again, err := Parse(name, encode(t, c))
		if err != nil {
			t.Fatalf("re-parsing the encoded config: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
	})
}

// encode writes c back as a TOML file with every key set.
func encode(t *testing.T, c *Config) []byte {
	t.Helper()
	type slot struct {
		ID          uint64 `toml:"id"`
		Description string `toml:"description"`
		Label       string `toml:"label"`
	}
	var doc struct {
		FIPSMode bool `toml:"fips_mode"`
		Store    struct {
			Path string `toml:"path"`
		} `toml:"store"`
		Log struct {
			Level string `toml:"level"`
			File  string `toml:"file"`
		} `toml:"log"`
		PIN struct {
			KDFIterations int `toml:"kdf_iterations"`
			MaxFailures   int `toml:"max_failures"`
		} `toml:"pin"`
		GCM struct {
			Journal        string `toml:"journal"`
			MaxEncryptions uint64 `toml:"max_encryptions"`
		} `toml:"gcm"`
		FIPS struct {
			AllowPrehashedSign bool `toml:"allow_prehashed_sign"`
		} `toml:"fips"`
		Slots []slot `toml:"slot"`
	}
	doc.FIPSMode = c.FIPSMode
	doc.Store.Path = c.Store.Path
	doc.Log.Level, doc.Log.File = c.Log.Level, c.Log.File
	doc.PIN.KDFIterations, doc.PIN.MaxFailures = c.PIN.KDFIterations, c.PIN.MaxFailures
	doc.GCM.Journal, doc.GCM.MaxEncryptions = c.GCM.Journal, c.GCM.MaxEncryptions
	doc.FIPS.AllowPrehashedSign = c.FIPS.AllowPrehashedSign
	for _, s := range c.Slots {
		doc.Slots = append(doc.Slots, slot(s))
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		t.Fatalf("encoding %+v: %v", c, err)
	}
	return b.Bytes()
}
