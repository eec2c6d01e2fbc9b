package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// Environment variables read by Load.
const (
	envConf      = "CRATON_CONF"
	envStorePath = "CRATON_STORE_PATH"
	envLogLevel  = "CRATON_LOG_LEVEL"
	envLogFile   = "CRATON_LOG_FILE"
	envFIPSMode  = "CRATON_FIPS_MODE"

	originReserved = "the C_Initialize reserved string"
	originUser     = "the per-user default path"
)

// maxFileSize bounds a configuration file; anything larger is not one.
const maxFileSize = 64 << 10

// Load finds, reads and validates the configuration, applies the environment
// overrides and returns the result. reserved is the C_Initialize reserved
// string (CK_C_INITIALIZE_ARGS.pReserved, p11-kit's x-init-reserved), or ""
// for none. See the package documentation for the lookup order. Load reads
// the environment and at most one file; it never writes to disk.
func Load(reserved string) (*Config, error) {
	path, origin, err := locate(reserved)
	if err != nil {
		return nil, err
	}
	c, src := defaults(), sourceDefaults
	if path != "" {
		data, err := readFile(path, origin)
		if err != nil {
			return nil, err
		}
		if c, err = decode(path, data); err != nil {
			return nil, err
		}
		src = path
	}
	if err := c.applyEnv(); err != nil {
		return nil, err
	}
	if err := c.finish(src); err != nil {
		return nil, err
	}
	return c, nil
}

// locate returns the configuration file to read and what named it, or ""
// when the built-in defaults apply.
func locate(reserved string) (path, origin string, err error) {
	if p := os.Getenv(envConf); p != "" {
		return namedPath(p, "$"+envConf)
	}
	if r := strings.TrimPrefix(strings.TrimSpace(reserved), "conf="); r != "" {
		return namedPath(r, originReserved)
	}
	p, err := userConfigPath()
	if err != nil {
		return "", "", nil // no home directory, so no per-user file
	}
	if _, err := os.Stat(p); err != nil {
		if notExist(err) {
			return "", "", nil
		}
		// It may exist: fail rather than silently drop its settings.
		return "", "", &Error{Source: p, Reason: fmt.Sprintf("cannot read %s: %v", originUser, err), Err: err}
	}
	return p, originUser, nil
}

// namedPath expands a leading "~/" in a path named by origin. Relative paths
// are kept: they are relative to the working directory of whoever named them.
func namedPath(p, origin string) (string, string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		v, err := expandPath(p, false)
		if err != nil {
			return "", "", &Error{Source: p, Reason: fmt.Sprintf("named by %s: %v", origin, err), Kind: ErrInvalid}
		}
		p = v
	}
	return p, origin, nil
}

// readFile reads a configuration file named by origin, refusing anything
// that is not a regular file of at most maxFileSize bytes (a FIFO or a device
// would block or never end).
func readFile(path, origin string) ([]byte, error) {
	fail := func(kind error, reason string, err error) ([]byte, error) {
		return nil, &Error{Source: path, Reason: reason, Kind: kind, Err: err}
	}
	fi, err := os.Stat(path)
	if notExist(err) {
		return fail(ErrNotFound, "file named by "+origin+" does not exist", err)
	}
	if err != nil {
		return fail(nil, err.Error(), err)
	}
	if !fi.Mode().IsRegular() {
		return fail(ErrInvalid, "not a regular file", nil)
	}
	f, err := os.Open(path)
	if err != nil {
		if notExist(err) {
			return fail(ErrNotFound, "file named by "+origin+" does not exist", err)
		}
		return fail(nil, err.Error(), err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return fail(nil, err.Error(), err)
	}
	if len(data) > maxFileSize {
		return fail(ErrInvalid, fmt.Sprintf("larger than %d bytes", maxFileSize), nil)
	}
	return data, nil
}

// notExist reports whether err says a path does not exist, including when a
// directory in it is a file.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// applyEnv applies the CRATON_* overrides, validating each like the key it
// replaces and naming the variable in errors. Empty variables are ignored.
func (c *Config) applyEnv() error {
	bad := func(env, value string, err error) error {
		return invalid(sourceEnvironment, env, formatValue(value), err)
	}
	if v := os.Getenv(envStorePath); v != "" {
		p, err := expandPath(v, false)
		if err != nil {
			return bad(envStorePath, v, err)
		}
		c.Store.Path = p
	}
	if v := os.Getenv(envLogLevel); v != "" {
		if err := checkLevel(v); err != nil {
			return bad(envLogLevel, v, err)
		}
		c.Log.Level = v
	}
	if v := os.Getenv(envLogFile); v != "" {
		p, err := expandPath(v, false)
		if err != nil {
			return bad(envLogFile, v, err)
		}
		c.Log.File = p
	}
	if v := os.Getenv(envFIPSMode); v != "" {
		switch v {
		case "true", "1":
			c.FIPSMode = true
		case "false", "0":
			c.FIPSMode = false
		default:
			return bad(envFIPSMode, v, errors.New("must be true, false, 1 or 0"))
		}
	}
	return nil
}
