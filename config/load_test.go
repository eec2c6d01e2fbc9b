package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadPrecedence(t *testing.T) {
	// Each candidate file sets a different log level, so the level tells
	// which file Load read.
	tests := []struct {
		name      string
		conf      bool   // set CRATON_CONF to the conf file
		reserved  string // "file", "conf=file", "missing" or ""
		userFile  bool   // create the per-user default file
		wantLevel string
		wantFile  string // "conf", "reserved", "user" or "" for defaults
	}{
		{"CRATON_CONF beats everything", true, "file", true, "debug", "conf"},
		{"CRATON_CONF beats a missing reserved file", true, "missing", true, "debug", "conf"},
		{"reserved beats per-user", false, "file", true, "info", "reserved"},
		{"reserved with conf= prefix", false, "conf=file", true, "info", "reserved"},
		{"per-user default", false, "", true, "error", "user"},
		{"built-in defaults", false, "", false, "warn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			dir := t.TempDir()
			files := map[string]string{
				"conf":     writeFile(t, filepath.Join(dir, "conf.toml"), "[log]\nlevel = \"debug\"\n"),
				"reserved": writeFile(t, filepath.Join(dir, "reserved.toml"), "[log]\nlevel = \"info\"\n"),
				"user":     filepath.Join(home, ".config/craton/craton.toml"),
			}
			if tt.userFile {
				writeFile(t, files["user"], "[log]\nlevel = \"error\"\n")
			}
			if tt.conf {
				t.Setenv(envConf, files["conf"])
			}
			var reserved string
			switch tt.reserved {
			case "file":
				reserved = files["reserved"]
			case "conf=file":
				reserved = "conf=" + files["reserved"]
			case "missing":
				reserved = filepath.Join(dir, "missing.toml")
			}
			c, err := Load(reserved)
			if err != nil {
				t.Fatal(err)
			}
			if c.Log.Level != tt.wantLevel {
				t.Errorf("Log.Level = %q, want %q", c.Log.Level, tt.wantLevel)
			}
			if want := files[tt.wantFile]; c.Source != want {
				t.Errorf("Source = %q, want %q", c.Source, want)
			}
		})
	}
}

func TestLoadUserConfigXDG(t *testing.T) {
	home := isolate(t)
	xdg := t.TempDir()
	writeFile(t, filepath.Join(home, ".config/craton/craton.toml"), "[log]\nlevel = \"error\"\n")
	p := writeFile(t, filepath.Join(xdg, "craton/craton.toml"), "[log]\nlevel = \"info\"\n")
	t.Setenv("XDG_CONFIG_HOME", xdg)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != p || c.Log.Level != "info" {
		t.Errorf("Load read %q (level %q), want %q", c.Source, c.Log.Level, p)
	}

	// A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
	t.Setenv("XDG_CONFIG_HOME", "relative")
	if c, err = Load(""); err != nil || c.Log.Level != "error" {
		t.Errorf("with relative XDG_CONFIG_HOME: %+v, %v", c, err)
	}
}

func TestLoadTilde(t *testing.T) {
	home := isolate(t)
	p := writeFile(t, filepath.Join(home, "my.toml"), "[pin]\nmax_failures = 7\n")
	for _, tt := range []struct{ env, reserved string }{
		{env: "~/my.toml"},
		{reserved: "~/my.toml"},
		{reserved: "conf=~/my.toml"},
		{reserved: "  conf=~/my.toml\n"},
	} {
		t.Setenv(envConf, tt.env)
		c, err := Load(tt.reserved)
		if err != nil {
			t.Fatalf("%+v: %v", tt, err)
		}
		if c.Source != p || c.PIN.MaxFailures != 7 {
			t.Errorf("%+v: read %q, want %q", tt, c.Source, p)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) (conf, reserved, source string)
		kind     error
		contains string
	}{
		{"CRATON_CONF missing", func(t *testing.T, dir string) (string, string, string) {
			p := filepath.Join(dir, "nope.toml")
			return p, "", p
		}, ErrNotFound, "named by $CRATON_CONF does not exist"},
		{"reserved missing", func(t *testing.T, dir string) (string, string, string) {
			p := filepath.Join(dir, "nope.toml")
			return "", "conf=" + p, p
		}, ErrNotFound, "named by the C_Initialize reserved string does not exist"},
		{"CRATON_CONF under a file", func(t *testing.T, dir string) (string, string, string) {
			p := filepath.Join(writeFile(t, filepath.Join(dir, "file"), ""), "craton.toml")
			return p, "", p
		}, ErrNotFound, "does not exist"},
		{"directory", func(t *testing.T, dir string) (string, string, string) {
			return dir, "", dir
		}, ErrInvalid, "not a regular file"},
		{"too large", func(t *testing.T, dir string) (string, string, string) {
			p := writeFile(t, filepath.Join(dir, "big.toml"), "# "+strings.Repeat("x", maxFileSize))
			return p, "", p
		}, ErrInvalid, "larger than"},
		{"syntax error", func(t *testing.T, dir string) (string, string, string) {
			p := writeFile(t, filepath.Join(dir, "bad.toml"), "[pin\n")
			return "", p, p
		}, ErrInvalid, "line 2"},
		{"bad value in per-user file", func(t *testing.T, dir string) (string, string, string) {
			p := writeFile(t, filepath.Join(os.Getenv("HOME"), ".config/craton/craton.toml"), "[pin]\nmax_failures = 0\n")
			return "", "", p
		}, ErrInvalid, "pin.max_failures = 0"},
		{"tilde without home", func(t *testing.T, dir string) (string, string, string) {
			os.Unsetenv("HOME") // restored by isolate's t.Setenv
			return "~/craton.toml", "", "~/craton.toml"
		}, ErrInvalid, "cannot expand ~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			conf, reserved, source := tt.setup(t, t.TempDir())
			t.Setenv(envConf, conf)
			c, err := Load(reserved)
			if err == nil {
				t.Fatalf("Load = %+v, want an error", c)
			}
			assertError(t, err, source, "", tt.contains, tt.kind)
			other := ErrInvalid
			if tt.kind == ErrInvalid {
				other = ErrNotFound
			}
			if errors.Is(err, other) {
				t.Errorf("err = %v matches %v too", err, other)
			}
		})
	}
}

func TestLoadUserConfigNotADirectory(t *testing.T) {
	// ~/.config is a file: there is no per-user configuration.
	home := isolate(t)
	writeFile(t, filepath.Join(home, ".config"), "not a directory")
	c, err := Load("")
	if err != nil || c.Source != "" {
		t.Errorf("Load = %+v, %v; want built-in defaults", c, err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	isolate(t)
	p := writeFile(t, filepath.Join(t.TempDir(), "craton.toml"), "")
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envConf, p)
	_, err := Load("")
	if !errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want a permission error matching neither sentinel", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string
		want func(c *Config) bool
	}{
		{"store", map[string]string{envStorePath: "/srv/craton/"},
			"[store]\npath = \"/var/lib/craton\"",
			func(c *Config) bool {
				return c.Store.Path == "/srv/craton" && c.JournalPath() == "/srv/craton/gcm.journal"
			}},
		{"store tilde", map[string]string{envStorePath: "~/keys"}, "",
			func(c *Config) bool { return c.Store.Path == "/home/test/keys" }},
		{"level", map[string]string{envLogLevel: "debug"}, "[log]\nlevel = \"error\"",
			func(c *Config) bool { return c.Log.Level == "debug" }},
		{"log file", map[string]string{envLogFile: "/tmp/craton.log"}, "",
			func(c *Config) bool { return c.Log.File == "/tmp/craton.log" }},
		{"fips true", map[string]string{envFIPSMode: "true"}, "",
			func(c *Config) bool { return c.FIPSMode }},
		{"fips 1", map[string]string{envFIPSMode: "1"}, "",
			func(c *Config) bool { return c.FIPSMode }},
		{"fips false over file", map[string]string{envFIPSMode: "false"}, "fips_mode = true",
			func(c *Config) bool { return !c.FIPSMode }},
		{"fips 0 over file", map[string]string{envFIPSMode: "0"}, "fips_mode = true",
			func(c *Config) bool { return !c.FIPSMode }},
		{"empty means unset", map[string]string{envFIPSMode: "", envLogLevel: ""}, "fips_mode = true\n[log]\nlevel = \"info\"",
			func(c *Config) bool { return c.FIPSMode && c.Log.Level == "info" }},
		{"all at once", map[string]string{envStorePath: "/s", envLogLevel: "error", envLogFile: "/l", envFIPSMode: "1"}, "",
			func(c *Config) bool {
				return c.Store.Path == "/s" && c.Log.Level == "error" && c.Log.File == "/l" && c.FIPSMode
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("HOME", "/home/test") // never read from: no per-user file there
			if tt.file != "" {
				t.Setenv(envConf, writeFile(t, filepath.Join(t.TempDir(), "c.toml"), tt.file))
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load("")
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestEnvOverrideErrors(t *testing.T) {
	tests := []struct {
		env, value, contains string
	}{
		{envStorePath, "relative/store", `CRATON_STORE_PATH = "relative/store": must be an absolute path`},
		{envLogLevel, "verbose", `CRATON_LOG_LEVEL = "verbose": must be one of debug, info, warn, error`},
		{envLogLevel, "Warn", "must be one of"},
		{envLogFile, "craton.log", `CRATON_LOG_FILE = "craton.log": must be an absolute path`},
		{envFIPSMode, "yes", `CRATON_FIPS_MODE = "yes": must be true, false, 1 or 0`},
		{envFIPSMode, "TRUE", "must be true, false, 1 or 0"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			isolate(t)
			t.Setenv(tt.env, tt.value)
			_, err := Load("")
			assertError(t, err, sourceEnvironment, tt.env, tt.contains, ErrInvalid)
		})
	}
}

// TestLoadTouchesNothing checks that Load, with and without a file, creates
// nothing: not the store directory, not the journal, not a config directory.
func TestLoadTouchesNothing(t *testing.T) {
	home := isolate(t)
	conf := writeFile(t, filepath.Join(home, ".config/craton/craton.toml"), "[pin]\nmax_failures = 5\n")
	before := snapshot(t, home)
	for _, reserved := range []string{"", conf} {
		c, err := Load(reserved)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(c.Store.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("store directory %s: %v, want it absent", c.Store.Path, err)
		}
	}
	if after := snapshot(t, home); !reflect.DeepEqual(before, after) {
		t.Errorf("Load changed the home directory:\nbefore %v\nafter  %v", before, after)
	}
}

func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fi.Mode().String() + " " + fi.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
