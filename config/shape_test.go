package config

import (
	"strings"
	"testing"
)

func TestShapeLimits(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	dotted := func(n int) string { return "a" + strings.Repeat(".a", n) }
	rejected := []struct {
		name, toml string
		line       int
		reason     string
	}{
		{"nested arrays", "\nx = " + deep(17), 2, "nested more than 16 deep"},
		{"nested inline tables", "x = " + strings.Repeat("{a=", 17) + "1" + strings.Repeat("}", 17), 1, "nested more than 16 deep"},
		{"unbalanced", "x = " + strings.Repeat("[", 100), 1, "nested more than 16 deep"},
		{"closers first", strings.Repeat("]", 50) + "\nx = " + deep(17), 2, "nested more than 16 deep"},
		{"long dotted key", dotted(17) + " = 1", 1, "more than 16 dots"},
		{"long header", "# c\n[" + dotted(17) + "]", 2, "more than 16 dots"},
		{"after a multi-line string", "x = \"\"\"\n[\n\"\"\"\ny = " + deep(17), 4, "nested more than 16 deep"},
		{"too large", "#" + strings.Repeat("x", maxFileSize), 0, "larger than 65536 bytes"},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			_, err := Parse("/c.toml", []byte(tt.toml))
			assertError(t, err, "/c.toml", "", tt.reason, ErrInvalid)
			if e := err.(*Error); e.Line != tt.line {
				t.Errorf("Line = %d, want %d (%v)", e.Line, tt.line, err)
			}
		})
	}

	// Brackets and dots inside strings and comments do not count, and a
	// valid file at the limits passes the scan.
	accepted := []string{
		"x = " + deep(16),
		dotted(16) + " = 1",
		`x = "` + deep(20)[:20] + dotted(20) + `"`,
		`x = '` + deep(20)[:20] + `\'`,
		"x = \"\"\"" + deep(20)[:20] + "\\\"\"\"\" # " + deep(20)[:20] + "\n",
		"x = '''" + deep(20)[:20] + "\n''''' # quote run",
		"x = 1.5 # " + dotted(20) + deep(20)[:20],
		"\"" + dotted(20) + "\" = 1",
		"x = [1.5, 2.5, 1979-05-27T00:32:00.999999-07:00]",
	}
	for _, s := range accepted {
		if line, err := checkShape([]byte(s)); err != nil {
			t.Errorf("checkShape(%q) = line %d: %v, want nil", s, line, err)
		}
	}
}
