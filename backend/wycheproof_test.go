package backend

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// wycheproofModule is the pinned Go module that carries the Wycheproof test
// vectors (C2SP/wycheproof publishes a go.mod). It is fetched through the Go
// module proxy into the module cache, so no vectors are vendored here; see
// testdata/README.md.
const wycheproofModule = "github.com/C2SP/wycheproof@v0.0.0-20250901140545-b51abcfb8daf"

var wycheproofCache struct {
	sync.Mutex
	dir string
}

// wycheproofDir returns the testvectors_v1 directory of the pinned
// Wycheproof module, downloading it into the module cache if needed. A
// failed download is a test failure, not a skip: CI reaches the proxy.
func wycheproofDir(t *testing.T) string {
	t.Helper()
	wycheproofCache.Lock()
	defer wycheproofCache.Unlock()
	if wycheproofCache.dir != "" {
		return wycheproofCache.dir
	}

	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "mod", "download", "-json", wycheproofModule)
	// Run outside this module so the download can never touch go.mod/go.sum.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil && runErr == nil {
		t.Fatalf("go mod download %s: bad JSON output: %v\n%s", wycheproofModule, err, stdout.Bytes())
	}
	if runErr != nil || info.Error != "" || info.Dir == "" {
		t.Fatalf("go mod download %s failed: %v %s\nstderr: %s", wycheproofModule, runErr, info.Error, stderr.Bytes())
	}
	dir := filepath.Join(info.Dir, "testvectors_v1")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("Wycheproof module has no testvectors_v1 directory at %s: %v", dir, err)
	}
	wycheproofCache.dir = dir
	return dir
}
