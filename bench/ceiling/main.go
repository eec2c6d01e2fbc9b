// Command ceiling runs the benchmark's primitives directly on Go's crypto
// (the same FIPS 140-3 module Craton uses), without PKCS#11, object lookup,
// key unsealing or cgo: the limit that a Go token could approach.
//
// Workload names, inputs and checks mirror bench/p11bench.c:
//
//	ceiling -worker                 speak p11bench's worker protocol on stdin/stdout
//	ceiling [-time 2s] [-threads 1,2] [-only a,b] [-cpuprofile f]
//	                                run on its own and print ops/s
//
// What each operation does, per call (state built once per thread is noted):
//
//	rsa2048-pkcs1-sign      SHA-256 of 64 bytes + rsa.SignPKCS1v15
//	rsa2048-pss-sign        SHA-256 of 64 bytes + rsa.SignPSS (salt 32)
//	rsa2048-pkcs1-verify    SHA-256 of 64 bytes + rsa.VerifyPKCS1v15
//	rsa2048-oaep-decrypt    rsa.DecryptOAEP (SHA-256, MGF1-SHA-256) of 32 bytes
//	ecdsa-p256-sign         ecdsa.SignASN1 over a 32-byte digest
//	ecdsa-p256-sha256-sign  SHA-256 of 64 bytes + ecdsa.SignASN1
//	ecdsa-p256-verify       ecdsa.VerifyASN1 over a 32-byte digest
//	ecdsa-p384-sign         ecdsa.SignASN1 over a 48-byte digest
//	ed25519-sign            ed25519.Sign of 64 bytes
//	aes256-gcm-enc-N        AEAD.Seal with a fresh (counter) nonce; the AEAD is built once per thread
//	aes256-cbc-pad-enc-16k  PKCS#7 pad + CBC encrypter with a fresh IV; the block cipher once per thread
//	sha256-1m               sha256.Sum256
//	hmac-sha256-1k          Reset, Write, Sum on an HMAC built once per thread
//	ec-p256-keygen          ecdsa.GenerateKey(P256)
//	aes256-keygen           32 random bytes
//
// Workloads that only a token has (searches, sessions, C_Initialize) answer na.
package main

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// op is one operation of one thread; a workload makes one op per thread.
type op func() error

type workload struct {
	name string
	// check runs once before timing: the result must verify or decrypt.
	check func() error
	// make returns the op of thread id.
	make func(id int) op
}

// pattern fills p like p11bench.c's fill_pattern.
func pattern(p []byte, seed uint) {
	for i := range p {
		p[i] = byte((uint(i)*131 + seed*17 + 7) ^ (uint(i) >> 8))
	}
}

type keys struct {
	rsa        *rsa.PrivateKey
	p256, p384 *ecdsa.PrivateKey
	ed         ed25519.PrivateKey
	aes        []byte
	hmac       []byte
	msg64      []byte
	dig32      []byte
	dig48      []byte
	in         []byte
}

func newKeys() *keys {
	k := &keys{msg64: make([]byte, 64), dig48: make([]byte, 48), in: make([]byte, 1<<20),
		aes: make([]byte, 32), hmac: make([]byte, 32)}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	rand.Read(k.aes)
	rand.Read(k.hmac)
	pattern(k.msg64, 5)
	d := sha256.Sum256(k.msg64)
	k.dig32 = d[:]
	pattern(k.dig48, 6)
	pattern(k.in, 1)
	return k
}

var errBad = errors.New("bad result")

func workloads(k *keys) []workload {
	var ws []workload
	add := func(name string, check func() error, mk func(id int) op) {
		ws = append(ws, workload{name, check, mk})
	}
	h64 := func() []byte { h := sha256.Sum256(k.msg64); return h[:] }
	pss := &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}

	rsaSig, _ := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, h64())
	add("rsa2048-pkcs1-sign", func() error {
		s, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, h64())
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, h64(), s)
	}, func(int) op {
		return func() error { _, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, h64()); return err }
	})
	add("rsa2048-pss-sign", func() error {
		s, err := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h64(), pss)
		if err != nil {
			return err
		}
		return rsa.VerifyPSS(&k.rsa.PublicKey, crypto.SHA256, h64(), s, pss)
	}, func(int) op {
		return func() error { _, err := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h64(), pss); return err }
	})
	add("rsa2048-pkcs1-verify", func() error {
		bad := bytes.Clone(rsaSig)
		bad[len(bad)/2] ^= 1
		if rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, h64(), bad) == nil {
			return errBad
		}
		return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, h64(), rsaSig)
	}, func(int) op {
		return func() error { return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, h64(), rsaSig) }
	})
	pt := make([]byte, 32)
	pattern(pt, 9)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.rsa.PublicKey, pt, nil)
	if err != nil {
		panic(err)
	}
	add("rsa2048-oaep-decrypt", func() error {
		got, err := rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ct, nil)
		if err == nil && !bytes.Equal(got, pt) {
			err = errBad
		}
		return err
	}, func(int) op {
		return func() error { _, err := rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ct, nil); return err }
	})
	ecCheck := func(priv *ecdsa.PrivateKey, dig func() []byte) func() error {
		return func() error {
			s, err := ecdsa.SignASN1(rand.Reader, priv, dig())
			if err != nil {
				return err
			}
			if !ecdsa.VerifyASN1(&priv.PublicKey, dig(), s) {
				return errBad
			}
			return nil
		}
	}
	ecSign := func(priv *ecdsa.PrivateKey, dig func() []byte) func(int) op {
		return func(int) op {
			return func() error { _, err := ecdsa.SignASN1(rand.Reader, priv, dig()); return err }
		}
	}
	d32 := func() []byte { return k.dig32 }
	d48 := func() []byte { return k.dig48 }
	add("ecdsa-p256-sign", ecCheck(k.p256, d32), ecSign(k.p256, d32))
	add("ecdsa-p256-sha256-sign", ecCheck(k.p256, h64), ecSign(k.p256, h64))
	ecSig, _ := ecdsa.SignASN1(rand.Reader, k.p256, k.dig32)
	add("ecdsa-p256-verify", func() error {
		if !ecdsa.VerifyASN1(&k.p256.PublicKey, k.dig32, ecSig) {
			return errBad
		}
		return nil
	}, func(int) op {
		return func() error {
			if !ecdsa.VerifyASN1(&k.p256.PublicKey, k.dig32, ecSig) {
				return errBad
			}
			return nil
		}
	})
	add("ecdsa-p384-sign", ecCheck(k.p384, d48), ecSign(k.p384, d48))
	add("ed25519-sign", func() error {
		if !ed25519.Verify(k.ed.Public().(ed25519.PublicKey), k.msg64, ed25519.Sign(k.ed, k.msg64)) {
			return errBad
		}
		return nil
	}, func(int) op {
		return func() error { ed25519.Sign(k.ed, k.msg64); return nil }
	})

	block, err := aes.NewCipher(k.aes)
	if err != nil {
		panic(err)
	}
	for _, sz := range []struct {
		name string
		n    int
	}{{"64", 64}, {"1k", 1024}, {"16k", 16384}, {"1m", 1 << 20}} {
		n := sz.n
		add("aes256-gcm-enc-"+sz.name, func() error {
			aead, _ := cipher.NewGCM(block)
			nonce := make([]byte, 12)
			c := aead.Seal(nil, nonce, k.in[:n], nil)
			p, err := aead.Open(nil, nonce, c, nil)
			if err == nil && (!bytes.Equal(p, k.in[:n]) || len(c) != n+16) {
				err = errBad
			}
			return err
		}, func(id int) op {
			aead, _ := cipher.NewGCM(block)
			nonce := make([]byte, 12)
			nonce[0] = byte(0xB0 + id)
			out := make([]byte, 0, n+16)
			var ctr uint64
			return func() error {
				ctr++
				binary.BigEndian.PutUint64(nonce[4:], ctr)
				aead.Seal(out[:0], nonce, k.in[:n], nil)
				return nil
			}
		})
	}
	add("aes256-cbc-pad-enc-16k", func() error {
		const n = 16384
		iv := make([]byte, 16)
		buf := append(bytes.Clone(k.in[:n]), bytes.Repeat([]byte{16}, 16)...)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, buf)
		if !bytes.Equal(buf[:n], k.in[:n]) {
			return errBad
		}
		return nil
	}, func(id int) op {
		const n = 16384
		buf := make([]byte, n+16)
		iv := make([]byte, 16)
		iv[0] = byte(0xB0 + id)
		var ctr uint64
		return func() error {
			ctr++
			binary.BigEndian.PutUint64(iv[8:], ctr)
			copy(buf, k.in[:n])
			for i := n; i < n+16; i++ {
				buf[i] = 16
			}
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
			return nil
		}
	})
	add("sha256-1m", func() error { return nil }, func(int) op {
		return func() error { sha256.Sum256(k.in); return nil }
	})
	add("hmac-sha256-1k", func() error { return nil }, func(int) op {
		mac := hmac.New(sha256.New, k.hmac)
		out := make([]byte, 0, 32)
		return func() error {
			mac.Reset()
			mac.Write(k.in[:1024])
			mac.Sum(out[:0])
			return nil
		}
	})
	add("ec-p256-keygen", func() error {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		return ecCheck(priv, d32)()
	}, func(int) op {
		return func() error { _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return err }
	})
	add("aes256-keygen", func() error { return nil }, func(int) op {
		key := make([]byte, 32)
		return func() error { rand.Read(key); return nil }
	})
	return ws
}

// run runs w on threads goroutines for d; it returns ops and the time from
// the start to the last goroutine's last completed op.
func run(w workload, threads int, d time.Duration) (int64, time.Duration, error) {
	ops := make([]op, threads)
	for i := range ops {
		ops[i] = w.make(i)
	}
	counts := make([]int64, threads)
	ends := make([]time.Time, threads)
	errs := make([]error, threads)
	start := make(chan struct{})
	var t0 time.Time
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			deadline := t0.Add(d)
			for {
				if err := ops[i](); err != nil {
					errs[i] = err
					return
				}
				counts[i]++
				ends[i] = time.Now()
				if !ends[i].Before(deadline) {
					return
				}
			}
		}(i)
	}
	t0 = time.Now()
	close(start)
	wg.Wait()
	var total int64
	var end time.Time
	for i := range counts {
		total += counts[i]
		if ends[i].After(end) {
			end = ends[i]
		}
		if errs[i] != nil {
			return total, 0, errs[i]
		}
	}
	return total, end.Sub(t0), nil
}

func measure(ws map[string]workload, name string, threads int, secs, warm float64) (int64, float64, string) {
	w, ok := ws[name]
	if !ok {
		return 0, 0, "na:token-only"
	}
	if err := w.check(); err != nil {
		return 0, 0, "err:check:" + strings.ReplaceAll(err.Error(), " ", "_")
	}
	if warm > 0 {
		run(w, threads, time.Duration(warm*float64(time.Second)))
	}
	n, el, err := run(w, threads, time.Duration(secs*float64(time.Second)))
	if err != nil {
		return n, el.Seconds(), "err:" + strings.ReplaceAll(err.Error(), " ", "_")
	}
	return n, el.Seconds(), "ok"
}

func maxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

func worker(ws map[string]workload) {
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "READY Go_%s_%s/%s_GOMAXPROCS=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0))
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 1 && f[0] == "QUIT":
			return
		case len(f) == 1 && f[0] == "RSS":
			fmt.Fprintf(out, "RSS %d\n", maxRSS())
		case (len(f) == 5 || len(f) == 6) && f[0] == "RUN": // 6th field: check (the ceiling always checks)
			threads, _ := strconv.Atoi(f[2])
			secs, _ := strconv.ParseFloat(f[3], 64)
			warm, _ := strconv.ParseFloat(f[4], 64)
			n, el, st := measure(ws, f[1], threads, secs, warm)
			fmt.Fprintf(out, "RESULT %s %d %d %.6f %s\n", f[1], threads, n, el, st)
		default:
			fmt.Fprintf(out, "ERROR bad command\n")
		}
		out.Flush()
	}
}

func main() {
	isWorker := flag.Bool("worker", false, "speak p11bench's worker protocol on stdin/stdout")
	d := flag.Duration("time", 2*time.Second, "time per measurement")
	warm := flag.Duration("warmup", 200*time.Millisecond, "unmeasured time before each measurement")
	threadList := flag.String("threads", "1,2", "thread counts")
	only := flag.String("only", "", "comma-separated workloads (default all)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measurements here")
	flag.Parse()

	k := newKeys()
	list := workloads(k)
	ws := map[string]workload{}
	for _, w := range list {
		ws[w.name] = w
	}
	if *isWorker {
		worker(ws)
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("%-24s %7s %14s  %s\n", "workload", "threads", "ops/s", "status")
	for _, w := range list {
		if *only != "" && !strings.Contains(","+*only+",", ","+w.name+",") {
			continue
		}
		for _, ts := range strings.Split(*threadList, ",") {
			t, err := strconv.Atoi(ts)
			if err != nil || t < 1 {
				fmt.Fprintf(os.Stderr, "bad -threads %q\n", *threadList)
				os.Exit(2)
			}
			n, el, st := measure(ws, w.name, t, d.Seconds(), warm.Seconds())
			rate := 0.0
			if el > 0 {
				rate = float64(n) / el
			}
			fmt.Printf("%-24s %7d %14.1f  %s\n", w.name, t, rate, st)
		}
	}
}
