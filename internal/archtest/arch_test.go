// Package archtest holds the test that keeps Craton's dependency graph the
// shape HOUSE-STYLE.md draws: one-way layers, crypto/* only in backend/,
// cgo only in cmd/libcraton, miekg/pkcs11 only in tests.
package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/craton-hsm/craton/"

// allowed lists, for each package, the Craton packages it may import.
var allowed = map[string][]string{
	"pkcs11/ck":     {},
	"config":        {},
	"gcmjournal":    {"pkcs11/ck"},
	"backend":       {"pkcs11/ck", "gcmjournal", "config"},
	"slots":         {"pkcs11/ck", "backend"},
	"session":       {"pkcs11/ck", "slots", "backend"},
	"pkcs11":        {"pkcs11/ck", "session", "slots", "backend", "config", "gcmjournal"},
	"cshared":       {},
	"cmd/libcraton": {"pkcs11", "pkcs11/ck", "cshared"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	CgoFiles   []string
}

func TestDependencyGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/craton-hsm/craton/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		if strings.HasPrefix(name, "tests/") || strings.HasPrefix(name, "internal/") || name == "tools" {
			continue
		}
		seen++
		rules, ok := allowed[name]
		if !ok {
			t.Errorf("%s: no rule in allowed; add one", name)
			continue
		}
		if len(p.CgoFiles) > 0 && name != "cmd/libcraton" {
			t.Errorf("%s uses cgo; only cmd/libcraton may", name)
		}
		for _, imp := range p.Imports {
			switch {
			case strings.HasPrefix(imp, mod):
				if dep := strings.TrimPrefix(imp, mod); !slices.Contains(rules, dep) {
					t.Errorf("%s imports %s", name, dep)
				}
			case imp == "crypto" || strings.HasPrefix(imp, "crypto/"):
				if name != "backend" {
					t.Errorf("%s imports %s; only backend may import crypto/*", name, imp)
				}
			case strings.HasPrefix(imp, "golang.org/x/crypto"):
				if name != "backend" {
					t.Errorf("%s imports %s; only backend may", name, imp)
				}
			case strings.HasPrefix(imp, "github.com/miekg/pkcs11"):
				t.Errorf("%s imports miekg/pkcs11 outside tests", name)
			}
		}
	}
	if seen < 7 {
		t.Fatalf("checked only %d packages", seen)
	}
}
