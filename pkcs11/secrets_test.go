package pkcs11

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestNoSecretsInLogs runs a whole session at debug level — token init,
// wrong and right PINs, PIN changes, key import and generation, encryption,
// signing, a refused read of a sensitive value — and then searches the log
// for every PIN and key value, raw, hex and base64.
func TestNoSecretsInLogs(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel))
	cfg := testConfig(t, t.TempDir())
	j, err := gcmjournal.Open(gcmjournal.Options{Path: filepath.Join(cfg.Store.Path, "gcm.journal"), Max: 1 << 32, Sealer: backend.JournalSealer{}})
	must(t, err)
	defer j.Close() // after Finalize
	m := NewWithOptions(Options{Config: cfg, Logger: log, Journal: j})
	must(t, m.Initialize(ck.InitArgs{}))
	defer m.Finalize()

	const so, user, user2, wrong = "so-secret-4711", "user-secret-0815", "user-secret-4242", "wrong-guess-9999"
	keyValue := []byte("AES-KEY-VALUE-0123456789abcdef!!")
	must(t, m.InitToken(0, []byte(so), padLabel("secrets")))
	sh := open(t, m, true)
	wantRV(t, m.Login(sh, ck.CKU_SO, []byte(wrong)), ck.CKR_PIN_INCORRECT)
	must(t, m.Login(sh, ck.CKU_SO, []byte(so)))
	must(t, m.InitPIN(sh, []byte(user)))
	must(t, m.Logout(sh))
	wantRV(t, m.Login(sh, ck.CKU_USER, []byte(wrong)), ck.CKR_PIN_INCORRECT)
	must(t, m.Login(sh, ck.CKU_USER, []byte(user)))
	must(t, m.SetPIN(sh, []byte(user), []byte(user2)))
	k, err := m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES),
		attr(ck.CKA_VALUE, keyValue), attr(ck.CKA_TOKEN, true), attr(ck.CKA_LABEL, "logged-key")})
	must(t, err)
	_, err = getAttr(t, m, sh, k, ck.CKA_VALUE)
	wantRV(t, err, ck.CKR_ATTRIBUTE_SENSITIVE)
	_, err = m.CreateObject(sh, ck.Template{attr(ck.CKA_CLASS, ck.CKO_SECRET_KEY), attr(ck.CKA_KEY_TYPE, ck.CKK_AES), attr(ck.CKA_VALUE, keyValue[:7])})
	wantRV(t, err, ck.CKR_ATTRIBUTE_VALUE_INVALID)
	ct := encrypt(t, m, sh, gcmMech(make([]byte, 12), []byte("aad"), 128), k, []byte("plaintext"))
	_, err = decrypt(t, m, sh, gcmMech(make([]byte, 12), []byte("bad"), 128), k, ct)
	wantRV(t, err, ck.CKR_ENCRYPTED_DATA_INVALID)
	hk, err := m.GenerateKey(sh, ck.Mechanism{Type: ck.CKM_GENERIC_SECRET_KEY_GEN}, ck.Template{attr(ck.CKA_VALUE_LEN, 32), attr(ck.CKA_EXTRACTABLE, true), attr(ck.CKA_SENSITIVE, false)})
	must(t, err)
	genValue, err := getAttr(t, m, sh, hk, ck.CKA_VALUE)
	must(t, err)
	must(t, m.SignInit(sh, ck.Mechanism{Type: ck.CKM_SHA256_HMAC}, hk))
	_, _, err = m.Sign(sh, []byte("data"), 64)
	must(t, err)
	must(t, m.Logout(sh))
	must(t, m.CloseAllSessions(0))

	out := buf.String()
	if !strings.Contains(out, "wrong PIN") {
		t.Fatalf("the log did not record the session (no wrong-PIN line):\n%s", out)
	}
	for _, s := range [][]byte{[]byte(so), []byte(user), []byte(user2), []byte(wrong), keyValue, genValue} {
		for _, form := range []string{string(s), hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)), base64.StdEncoding.EncodeToString(s)} {
			if strings.Contains(out, form) {
				t.Fatalf("the debug log holds a secret (%q):\n%s", form, out)
			}
		}
	}
	t.Logf("%d log lines checked", strings.Count(out, "\n"))
}
