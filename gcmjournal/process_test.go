package gcmjournal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The tests below re-execute the test binary as a child process, selected by
// GCMJOURNAL_CHILD, with the journal named by GCMJOURNAL_PATH, _MAX, _STEP.
func TestMain(m *testing.M) {
	if mode := os.Getenv("GCMJOURNAL_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	maxEnc, _ := strconv.ParseUint(os.Getenv("GCMJOURNAL_MAX"), 10, 64)
	step, _ := strconv.ParseUint(os.Getenv("GCMJOURNAL_STEP"), 10, 64)
	j, err := Open(Options{Path: os.Getenv("GCMJOURNAL_PATH"), Max: maxEnc, ReserveStep: step, Sealer: testSealer{}})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	switch mode {
	case "race":
		// Reserve as fast as possible from the "go" line until exhausted;
		// print the number of successes.
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		n := 0
		for {
			err := j.Reserve(fpA)
			if err == nil {
				n++
				continue
			}
			if !errors.Is(err, ErrExhausted) {
				fmt.Println("error", err)
				return 1
			}
			fmt.Println("successes", n)
			return 0
		}
	case "crash", "crash-paced":
		// Reserve for A and B in turn, printing each success, until killed;
		// paced, with 20µs of work before each, as a caller encrypting.
		for i := 0; ; i++ {
			if mode == "crash-paced" {
				for t := time.Now(); time.Since(t) < 20*time.Microsecond; {
				}
			}
			fp, name := fpA, "A\n"
			if i%3 == 2 {
				fp, name = fpB, "B\n"
			}
			if err := j.Reserve(fp); err != nil {
				fmt.Println("error", err)
				return 1
			}
			os.Stdout.WriteString(name)
		}
	}
	return 2
}

func childCmd(t *testing.T, mode, path string, maxEnc, step uint64) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GCMJOURNAL_CHILD="+mode, "GCMJOURNAL_PATH="+path,
		"GCMJOURNAL_MAX="+itoa(maxEnc), "GCMJOURNAL_STEP="+itoa(step))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestTwoProcesses: two processes share a key and a journal with Max 5000
// and encrypt as fast as they can: together they get exactly 5000.
func TestTwoProcesses(t *testing.T) {
	for _, step := range []uint64{16, DefaultReserveStep} {
		t.Run("step="+itoa(step), func(t *testing.T) {
			path := tempPath(t)
			type proc struct {
				cmd *exec.Cmd
				in  io.WriteCloser
				out *bufio.Reader
			}
			var ps []proc
			for range 2 {
				cmd := childCmd(t, "race", path, 5000, step)
				in, _ := cmd.StdinPipe()
				out, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				p := proc{cmd, in, bufio.NewReader(out)}
				if line, _ := p.out.ReadString('\n'); line != "ready\n" {
					t.Fatalf("child: %q", line)
				}
				ps = append(ps, p)
			}
			for _, p := range ps {
				io.WriteString(p.in, "go\n")
			}
			total := 0
			for i, p := range ps {
				line, _ := p.out.ReadString('\n')
				var n int
				if _, err := fmt.Sscanf(line, "successes %d", &n); err != nil {
					t.Fatalf("child %d: %q", i, line)
				}
				if err := p.cmd.Wait(); err != nil {
					t.Fatalf("child %d: %v", i, err)
				}
				t.Logf("process %d: %d successes", i, n)
				total += n
			}
			if total != 5000 {
				t.Fatalf("%d successes in total, want exactly 5000", total)
			}
			if r, _ := effective(t, path, fpA); r.Ceiling != 5000 || r.State != Exhausted {
				t.Fatalf("file records %+v, want exhausted at 5000", r)
			}
		})
	}
}

// TestKill9 kills a child that reserves in a loop with SIGKILL, at a random
// moment, again and again on one journal. After each kill the journal must
// be whole and sealed, and a reopened journal must count, for each key, no
// fewer than the successes the children reported (so never fewer than the
// encryptions made) and at most one step more than the successes (the
// reported ones, and the one a kill may have cut before its report).
func TestKill9(t *testing.T) {
	kill9(t, "crash", []uint64{1, 5, 64, 1024, DefaultReserveStep}, 25)
}

// TestKill9Ahead is TestKill9 with a child that encrypts at a realistic
// pace, so that the background writer keeps ahead of it: most kills land
// while the child holds a block fetched ahead, or has one in flight. The
// count after a restart still exceeds the truth by at most one step.
func TestKill9Ahead(t *testing.T) {
	kill9(t, "crash-paced", []uint64{16, 64, 1024, DefaultReserveStep}, 16)
}

func kill9(t *testing.T, mode string, steps []uint64, rounds int) {
	path := tempPath(t)
	var reported [2]uint64 // A, B: successes reported by all children so far
	midWrite := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		step := steps[round%len(steps)]
		// Up to 3000 successes; fewer with small steps, which fsync often.
		target := 1 + rng.IntN(int(min(3000, 150*step)))
		cmd := childCmd(t, mode, path, 0, step)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		var got [2]uint64
		count := func(line string) {
			switch line {
			case "A\n":
				got[0]++
			case "B\n":
				got[1]++
			default:
				t.Fatalf("round %d: child says %q", round, line)
			}
		}
		for n := 0; n < target; n++ {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			count(line)
		}
		// A random extra delay so that the kill lands anywhere in the loop,
		// mid-write included.
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // a line cut by the kill was not a reported success
			}
			count(line)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended with %v, not killed", round, err)
		}
		reported[0] += got[0]
		reported[1] += got[1]

		sink := new(logSink)
		j := open(t, path, 0, step, sink)
		if a := sink.alarms(); len(a) > 0 {
			t.Fatalf("round %d: journal not whole after kill -9: %q", round, a)
		}
		readFile(t, path)
		var over [2]uint64
		for k, fp := range []Fingerprint{fpA, fpB} {
			c, _, _ := j.Count(fp)
			// The child reports a success after Reserve returned: a kill
			// between the two leaves one success unreported, so the true
			// successes are reported[k] or reported[k]+1, and the journal
			// may hold one step above the true count.
			if c < reported[k] || c > reported[k]+1+step {
				t.Fatalf("round %d (step %d): key %d counts %d, successes reported %d", round, step, k, c, reported[k])
			}
			over[k] = c - reported[k]
			// The next child starts from the recorded ceiling: all that was
			// reserved counts as spent.
			reported[k] = c
		}
		j.Close()
		_, err = os.Stat(path + ".tmp")
		if err == nil {
			midWrite++
			os.Remove(path + ".tmp")
		}
		t.Logf("round %d: step %d, killed after %d+%d successes, mid-write %v, overshoot %d+%d", round, step, got[0], got[1], err == nil, over[0], over[1])
	}
	t.Logf("%d rounds, %d killed mid-write (temporary file left behind)", rounds, midWrite)
}
