package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrInvalid is matched by every error about the configuration's content:
	// a TOML syntax error, an unknown key, a value of the wrong type or out of
	// range, a file that is not a regular file or is too large.
	ErrInvalid = errors.New("invalid configuration")

	// ErrNotFound is matched when a file named by CRATON_CONF or by the
	// C_Initialize reserved string does not exist.
	ErrNotFound = errors.New("configuration file not found")
)

// Error is one configuration problem. It prints as
//
//	config SOURCE[: line N][: KEY[ = VALUE]]: REASON
//
// and unwraps to Kind and to Err.
type Error struct {
	Source string // the file, "environment" or "built-in defaults"
	Line   int    // line in Source, for TOML syntax errors; 0 otherwise
	Key    string // e.g. "pin.max_failures", "slot[1].id", "CRATON_LOG_LEVEL"; may be empty
	Value  string // the offending value as written in TOML, strings quoted; may be empty
	Reason string // what is wrong
	Kind   error  // ErrInvalid, ErrNotFound, or nil for other I/O failures
	Err    error  // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config ")
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
		if e.Value != "" {
			b.WriteString(" = ")
			b.WriteString(e.Value)
		}
	}
	b.WriteString(": ")
	switch {
	case e.Reason != "":
		b.WriteString(e.Reason)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	}
	return b.String()
}

// Unwrap returns Kind and Err, those that are set.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// invalid builds an ErrInvalid *Error whose reason is err's text.
func invalid(src, key, value string, err error) *Error {
	return &Error{Source: src, Key: key, Value: value, Reason: err.Error(), Kind: ErrInvalid}
}

// maxShownValue bounds how much of a string value an error repeats.
const maxShownValue = 80

// formatValue renders a value the way TOML would show it in the file; long
// strings are cut short.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > maxShownValue {
			return strconv.Quote(v[:maxShownValue]) + "..."
		}
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	default:
		return fmt.Sprint(v)
	}
}
