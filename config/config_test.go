package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// isolate points HOME at a fresh directory and clears every variable Load
// reads, so that no test sees the machine's own configuration. It returns
// the home directory.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", envConf,
		envStorePath, envLogLevel, envLogFile, envFIPSMode} {
		t.Setenv(v, "") // empty counts as unset
	}
	return home
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantDefaults is the built-in configuration for a given store directory.
func wantDefaults(store string) *Config {
	return &Config{
		Store: Store{Path: store},
		Log:   Log{Level: "warn"},
		PIN:   PIN{KDFIterations: 600000, MaxFailures: 10},
		GCM:   GCM{MaxEncryptions: 1 << 32},
		Slots: []Slot{{ID: 0, Description: "Craton slot 0"}},
	}
}

func TestDefaults(t *testing.T) {
	home := isolate(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := wantDefaults(filepath.Join(home, ".local/share/craton"))
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(\"\") = %+v\nwant %+v", c, want)
	}
	if got, want := c.JournalPath(), filepath.Join(home, ".local/share/craton/gcm.journal"); got != want {
		t.Errorf("JournalPath() = %q, want %q", got, want)
	}
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Default() = %+v\nwant %+v", d, want)
	}
}

func TestDefaultStorePath(t *testing.T) {
	tests := []struct {
		name    string
		home    string // "" unsets HOME; "HOME" means the temp home
		xdgData string
		want    string // relative to the temp home unless absolute
		wantErr bool
	}{
		{name: "home", home: "HOME", want: ".local/share/craton"},
		{name: "xdg", home: "HOME", xdgData: "/srv/data", want: "/srv/data/craton"},
		{name: "xdg without home", xdgData: "/srv/data/", want: "/srv/data/craton"},
		{name: "relative xdg ignored", home: "HOME", xdgData: "rel/data", want: ".local/share/craton"},
		{name: "relative home", home: "rel/home", wantErr: true},
		{name: "no home", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			switch tt.home {
			case "HOME":
			case "":
				os.Unsetenv("HOME") // restored by isolate's t.Setenv
			default:
				t.Setenv("HOME", tt.home)
			}
			t.Setenv("XDG_DATA_HOME", tt.xdgData)
			c, err := Load("")
			if tt.wantErr {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Key != "store.path" {
					t.Fatalf("Load: err = %v, want an ErrInvalid *Error on store.path", err)
				}
				// Setting the store explicitly removes the need for a home.
				t.Setenv(envStorePath, "/srv/craton")
				if c, err = Load(""); err != nil || c.Store.Path != "/srv/craton" {
					t.Fatalf("Load with %s: %v, %v", envStorePath, c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if !filepath.IsAbs(want) {
				want = filepath.Join(home, want)
			}
			if c.Store.Path != want {
				t.Errorf("Store.Path = %q, want %q", c.Store.Path, want)
			}
		})
	}
}

const fullConfig = `
fips_mode = true
[store]
path = "/var/lib/craton/"
[log]
level = "debug"
file = "/var/log/craton.log"
[pin]
kdf_iterations = 1000
max_failures = 3
[gcm]
journal = "/var/lib/craton-journal/gcm.journal"
max_encryptions = 5
[fips]
allow_prehashed_sign = true
[[slot]]
id = 7
description = "first"
label = "alpha"
[[slot]]
id = 2147483647
[[slot]]
id = 0
description = ""
`

func TestParseAllKeys(t *testing.T) {
	isolate(t)
	c, err := Parse("/etc/craton.toml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Source:   "/etc/craton.toml",
		FIPSMode: true,
		Store:    Store{Path: "/var/lib/craton"},
		Log:      Log{Level: "debug", File: "/var/log/craton.log"},
		PIN:      PIN{KDFIterations: 1000, MaxFailures: 3},
		GCM:      GCM{Journal: "/var/lib/craton-journal/gcm.journal", MaxEncryptions: 5},
		FIPS:     FIPS{AllowPrehashedSign: true},
		Slots: []Slot{
			{ID: 7, Description: "first", Label: "alpha"},
			{ID: 2147483647, Description: "Craton slot 2147483647"},
			{ID: 0, Description: ""},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse = %+v\nwant %+v", c, want)
	}
	if got := c.JournalPath(); got != want.GCM.Journal {
		t.Errorf("JournalPath() = %q, want %q", got, want.GCM.Journal)
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		check func(*Config) bool
	}{
		{"empty file", "", func(c *Config) bool { return c.Log.Level == "warn" && len(c.Slots) == 1 }},
		{"comments only", "# nothing\n", func(c *Config) bool { return c.PIN.MaxFailures == 10 }},
		{"fips false", "fips_mode = false", func(c *Config) bool { return !c.FIPSMode }},
		{"kdf min", "[pin]\nkdf_iterations = 1000", func(c *Config) bool { return c.PIN.KDFIterations == 1000 }},
		{"kdf max", "[pin]\nkdf_iterations = 10_000_000", func(c *Config) bool { return c.PIN.KDFIterations == 10000000 }},
		{"failures min", "[pin]\nmax_failures = 1", func(c *Config) bool { return c.PIN.MaxFailures == 1 }},
		{"failures max", "[pin]\nmax_failures = 1000", func(c *Config) bool { return c.PIN.MaxFailures == 1000 }},
		{"encryptions min", "[gcm]\nmax_encryptions = 1", func(c *Config) bool { return c.GCM.MaxEncryptions == 1 }},
		{"encryptions cap", "[gcm]\nmax_encryptions = 4294967296", func(c *Config) bool { return c.GCM.MaxEncryptions == 1<<32 }},
		{"empty journal", "[gcm]\njournal = \"\"", func(c *Config) bool { return c.GCM.Journal == "" }},
		{"empty log file", "[log]\nfile = \"\"", func(c *Config) bool { return c.Log.File == "" }},
		{"tilde store", "[store]\npath = \"~/keys\"", func(c *Config) bool { return c.Store.Path == "/home/test/keys" }},
		{"tilde alone", "[store]\npath = \"~\"", func(c *Config) bool { return c.Store.Path == "/home/test" }},
		{"tilde log", "[log]\nfile = \"~/craton.log\"", func(c *Config) bool { return c.Log.File == "/home/test/craton.log" }},
		{"tilde journal", "[gcm]\njournal = \"~/j\"", func(c *Config) bool { return c.GCM.Journal == "/home/test/j" }},
		{"cleaned path", "[store]\npath = \"/a//b/../c/\"", func(c *Config) bool { return c.Store.Path == "/a/c" }},
		{"slot default description", "[[slot]]\nid = 5", func(c *Config) bool {
			return reflect.DeepEqual(c.Slots, []Slot{{ID: 5, Description: "Craton slot 5"}})
		}},
		{"description 64 bytes", "[[slot]]\nid = 1\ndescription = \"" + strings.Repeat("d", 64) + "\"",
			func(c *Config) bool { return len(c.Slots[0].Description) == 64 }},
		{"label 32 bytes", "[[slot]]\nid = 1\nlabel = \"" + strings.Repeat("é", 16) + "\"",
			func(c *Config) bool { return len(c.Slots[0].Label) == 32 }},
		{"inline slot array", "slot = [{id = 1}, {id = 2}]", func(c *Config) bool { return len(c.Slots) == 2 }},
		{"dotted keys", "pin.max_failures = 4", func(c *Config) bool { return c.PIN.MaxFailures == 4 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("HOME", "/home/test")
			c, err := Parse("/etc/craton.toml", []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected result %+v", c)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const name = "/etc/craton/craton.toml"
	tests := []struct {
		name   string
		toml   string
		key    string // Error.Key
		reason string // substring of the message
	}{
		// log
		{"level unknown", `log.level = "verbose"`, "log.level", `log.level = "verbose": must be one of debug, info, warn, error`},
		{"level empty", "[log]\nlevel = \"\"", "log.level", "must be one of"},
		{"level case", "[log]\nlevel = \"WARN\"", "log.level", "must be one of"},
		{"log file relative", "[log]\nfile = \"craton.log\"", "log.file", "must be an absolute path"},
		// pin
		{"kdf low", "[pin]\nkdf_iterations = 999", "pin.kdf_iterations", "pin.kdf_iterations = 999: must be between 1000 and 10000000"},
		{"kdf high", "[pin]\nkdf_iterations = 10000001", "pin.kdf_iterations", "between 1000 and 10000000"},
		{"kdf negative", "[pin]\nkdf_iterations = -600000", "pin.kdf_iterations", "= -600000: must be between"},
		{"failures zero", "[pin]\nmax_failures = 0", "pin.max_failures", "pin.max_failures = 0: must be between 1 and 1000"},
		{"failures high", "[pin]\nmax_failures = 1001", "pin.max_failures", "between 1 and 1000"},
		// gcm
		{"encryptions zero", "[gcm]\nmax_encryptions = 0", "gcm.max_encryptions", "gcm.max_encryptions = 0: must be between 1 and 4294967296"},
		{"encryptions above cap", "[gcm]\nmax_encryptions = 4294967297", "gcm.max_encryptions", "between 1 and 4294967296"},
		{"encryptions negative", "[gcm]\nmax_encryptions = -1", "gcm.max_encryptions", "between 1 and 4294967296"},
		{"journal relative", "[gcm]\njournal = \"gcm.journal\"", "gcm.journal", "must be an absolute path"},
		// store
		{"store relative", "[store]\npath = \"craton\"", "store.path", `store.path = "craton": must be an absolute path`},
		{"store dot relative", "[store]\npath = \"./craton\"", "store.path", "must be an absolute path"},
		{"store empty", "[store]\npath = \"\"", "store.path", "must not be empty"},
		{"store other user", "[store]\npath = \"~root/craton\"", "store.path", "must be an absolute path"},
		{"store NUL", "[store]\npath = \"/var/\\u0000lib\"", "store.path", "NUL"},
		// slots
		{"no slots", "slot = []", "slot", "at least one [[slot]]"},
		{"slot without id", "[[slot]]\ndescription = \"x\"", "slot[0].id", "slot[0].id: missing"},
		{"slot id negative", "[[slot]]\nid = -1", "slot[0].id", "slot[0].id = -1: must be between 0 and 2147483647"},
		{"slot id too big", "[[slot]]\nid = 0\n[[slot]]\nid = 2147483648", "slot[1].id", "slot[1].id = 2147483648: must be between 0 and 2147483647"},
		{"slot id duplicate", "[[slot]]\nid = 3\n[[slot]]\nid = 4\n[[slot]]\nid = 3", "slot[2].id", "slot[2].id = 3: duplicate slot id (also slot[0])"},
		{"description too long", "[[slot]]\nid = 1\ndescription = \"" + strings.Repeat("d", 65) + "\"", "slot[0].description", "must be at most 64 bytes, is 65"},
		{"label too long", "[[slot]]\nid = 1\nlabel = \"" + strings.Repeat("l", 33) + "\"", "slot[0].label", "must be at most 32 bytes, is 33"},
		// unknown keys
		{"unknown top-level key", "fipsmode = true", "fipsmode", `fipsmode: unknown key`},
		{"unknown key in table", "[pin]\nmax_failure = 3", "pin.max_failure", "pin.max_failure: unknown key"},
		{"unknown table", "[logging]\nlevel = \"warn\"", "logging", "unknown key"},
		{"unknown key in slot", "[[slot]]\nid = 1\nlable = \"x\"", "slot.lable", "unknown key"},
		{"misspelled slots", "[[slots]]\nid = 1", "slots", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			c, err := Parse(name, []byte(tt.toml))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.toml, c)
			}
			assertError(t, err, name, tt.key, tt.reason, ErrInvalid)
		})
	}
}

// assertError checks that err is an *Error from source on key whose
// message contains reason and that matches kind.
func assertError(t *testing.T, err error, source, key, reason string, kind error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("err = %v, want errors.Is(err, %v)", err, kind)
	}
	if e.Source != source {
		t.Errorf("Source = %q, want %q", e.Source, source)
	}
	if key != "" && e.Key != key {
		t.Errorf("Key = %q, want %q (err = %v)", e.Key, key, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config "+source+": ") {
		t.Errorf("message %q does not start with the source", msg)
	}
	if key != "" && !strings.Contains(msg, key) {
		t.Errorf("message %q does not name key %q", msg, key)
	}
	if !strings.Contains(msg, reason) {
		t.Errorf("message %q does not contain %q", msg, reason)
	}
}

func TestParseTOMLErrors(t *testing.T) {
	const name = "/etc/craton.toml"
	tests := []struct {
		name     string
		toml     string
		line     int    // want Error.Line: syntax errors only
		key      string // want Error.Key
		contains string // in the message
	}{
		// Syntax: the decoder's line and last key.
		{"missing value", "fips_mode = true\n[pin]\nmax_failures =\n", 3, "pin.max_failures", "line 3"},
		{"unterminated string", "[log]\nlevel = \"warn\n", 2, "log.level", "line 2"},
		{"unclosed table", "[pin\n", 2, "", "line 2"},
		{"duplicate key", "[pin]\nmax_failures = 1\nmax_failures = 2\n", 3, "pin.max_failures", "already been defined"},
		{"integer overflow", "[gcm]\nmax_encryptions = 99999999999999999999\n", 2, "gcm.max_encryptions", "line 2"},
		// Types: the key, the value and the expected type.
		{"bool as string", "fips_mode = \"yes\"", 0, "fips_mode", `fips_mode = "yes": must be a boolean, not a string`},
		{"bool as int", "[fips]\nallow_prehashed_sign = 1", 0, "fips.allow_prehashed_sign", "= 1: must be a boolean, not an integer"},
		{"integer as string", "[pin]\nmax_failures = \"10\"", 0, "pin.max_failures", `pin.max_failures = "10": must be an integer, not a string`},
		{"float", "[gcm]\nmax_encryptions = 4.2e9", 0, "gcm.max_encryptions", "must be an integer, not a float"},
		{"date", "[pin]\nkdf_iterations = 2024-01-01", 0, "pin.kdf_iterations", "not a date-time"},
		{"string as int", "[log]\nlevel = 3", 0, "log.level", "must be a string, not an integer"},
		{"path as array", "[store]\npath = [\"/a\"]", 0, "store.path", "must be a string, not an array"},
		{"table as value", "store = \"/var/lib/craton\"", 0, "store", `store = "/var/lib/craton": must be a table, not a string`},
		{"fips as bool", "fips = true", 0, "fips", "must be a table, not a boolean"},
		{"slot as table", "[slot]\nid = 0", 0, "slot", "must be an array of tables ([[slot]]), not a table"},
		{"slot as integers", "slot = [1, 2]", 0, "slot[0]", "slot[0] = 1: must be a table, not an integer"},
		{"slot id as string", "[[slot]]\nid = 0\n[[slot]]\nid = \"1\"", 0, "slot[1].id", `slot[1].id = "1": must be an integer, not a string`},
		{"inline slot label", "slot = [{id = 0, label = false}]", 0, "slot[0].label", "must be a string, not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			_, err := Parse(name, []byte(tt.toml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			assertError(t, err, name, tt.key, tt.contains, ErrInvalid)
			var e *Error
			errors.As(err, &e)
			if e.Line != tt.line {
				t.Errorf("Line = %d, want %d (err = %v)", e.Line, tt.line, err)
			}
		})
	}
}

// TestSchemaMatchesFileConfig keeps the type-error schema in step with the
// struct the decoder fills.
func TestSchemaMatchesFileConfig(t *testing.T) {
	got := map[string]map[string]tomlKind{}
	var walk func(table string, typ reflect.Type)
	walk = func(table string, typ reflect.Type) {
		got[table] = map[string]tomlKind{}
		for f := range typ.Fields() {
			tag := f.Tag.Get("toml")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Bool:
				got[table][tag] = kindBool
			case reflect.Int64:
				got[table][tag] = kindInt
			case reflect.String:
				got[table][tag] = kindString
			case reflect.Struct:
				got[table][tag] = kindTable
				walk(tag, ft)
			case reflect.Slice:
				got[table][tag] = kindSlots
				walk(tag, ft.Elem())
			default:
				t.Fatalf("unexpected field %s %s", f.Name, ft)
			}
		}
	}
	walk("", reflect.TypeFor[fileConfig]())
	if !reflect.DeepEqual(got, schema) {
		t.Errorf("schema = %v\nfileConfig says %v", schema, got)
	}
}

func TestErrorMessage(t *testing.T) {
	isolate(t)
	_, err := Parse("/path/craton.toml", []byte("[pin]\nmax_failures = 0\n"))
	const want = "config /path/craton.toml: pin.max_failures = 0: must be between 1 and 1000"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	_, err = Parse("/path/craton.toml", []byte("[[slot]]\nid = 1\ndescription = \""+strings.Repeat("x", 200)+"\"\n"))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long values should be cut short in messages: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"empty store", func(c *Config) { c.Store.Path = "" }, "store.path"},
		{"relative store", func(c *Config) { c.Store.Path = "rel" }, "store.path"},
		{"tilde store is not expanded", func(c *Config) { c.Store.Path = "~/x" }, "store.path"},
		{"level", func(c *Config) { c.Log.Level = "trace" }, "log.level"},
		{"log file", func(c *Config) { c.Log.File = "x.log" }, "log.file"},
		{"kdf", func(c *Config) { c.PIN.KDFIterations = 1 }, "pin.kdf_iterations"},
		{"failures", func(c *Config) { c.PIN.MaxFailures = 0 }, "pin.max_failures"},
		{"journal", func(c *Config) { c.GCM.Journal = "j" }, "gcm.journal"},
		{"encryptions zero", func(c *Config) { c.GCM.MaxEncryptions = 0 }, "gcm.max_encryptions"},
		{"encryptions above cap", func(c *Config) { c.GCM.MaxEncryptions = 1<<32 + 1 }, "gcm.max_encryptions"},
		{"no slots", func(c *Config) { c.Slots = nil }, "slot"},
		{"slot id", func(c *Config) { c.Slots[0].ID = 1 << 31 }, "slot[0].id"},
		{"duplicate", func(c *Config) { c.Slots = append(c.Slots, Slot{ID: 0}) }, "slot[1].id"},
		{"description", func(c *Config) { c.Slots[0].Description = strings.Repeat("x", 65) }, "slot[0].description"},
		{"label", func(c *Config) { c.Slots[0].Label = "\xff" }, "slot[0].label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			c, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("defaults do not validate: %v", err)
			}
			tt.mutate(c)
			assertError(t, c.Validate(), sourceDefaults, tt.key, "", ErrInvalid)
		})
	}
}
