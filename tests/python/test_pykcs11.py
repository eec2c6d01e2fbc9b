"""Craton through PyKCS11 (Debian 12's python3-pykcs11, 1.5.12).

Run by tests/pkcs11-tool/74-pykcs11.sh, which initialises a token in a
scratch store first; by hand:

    CRATON_SO=/abs/libcraton.so CRATON_CONF=/scratch/craton.toml \
    CRATON_TOKEN_LABEL=t1 CRATON_USER_PIN=87654321 \
        PYTHONPATH=tests/python python3 -m unittest -v test_pykcs11

CRATON_CONF is required: these tests create and destroy objects, and must
never run against a real store. Results computed on the token are checked
against independent pure-Python code (hashlib/hmac, RSA and ECDSA
verification, OAEP encoding) and against published test vectors (the GCM
paper's test case 16, RFC 3394 section 4.6, RFC 5649 section 6), so nothing
beyond python3 and PyKCS11 is needed.

Test methods have no docstrings: `unittest -v` then prints exactly one
"name (...) ... ok" line per test, which the shell wrapper counts.
"""

import hashlib
import hmac
import os
import unittest

import PyKCS11
from PyKCS11 import LowLevel
from PyKCS11.LowLevel import (
    CKA_APPLICATION, CKA_CLASS, CKA_DECRYPT, CKA_EC_PARAMS,
    CKA_EC_POINT, CKA_ENCRYPT, CKA_EXTRACTABLE, CKA_ID, CKA_KEY_TYPE,
    CKA_LABEL, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PRIVATE,
    CKA_PUBLIC_EXPONENT, CKA_SENSITIVE, CKA_SIGN, CKA_TOKEN, CKA_UNWRAP,
    CKA_VALUE, CKA_VALUE_LEN, CKA_VERIFY, CKA_WRAP, CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE, CKA_LOCAL,
    CKF_LOGIN_REQUIRED, CKF_RNG, CKF_RW_SESSION, CKF_SERIAL_SESSION,
    CKF_TOKEN_INITIALIZED, CKF_TOKEN_PRESENT, CKF_USER_PIN_INITIALIZED,
    CKG_MGF1_SHA256, CKK_AES, CKK_EC, CKK_EC_EDWARDS, CKK_GENERIC_SECRET,
    CKK_RSA, CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA, CKM_ECDSA_SHA256, CKM_EDDSA, CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_SHA256, CKM_SHA256_HMAC, CKM_SHA256_RSA_PKCS,
    CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKM_SHA512, CKM_SHA_1,
    CKO_DATA, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY,
    CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_SENSITIVE, CKR_ENCRYPTED_DATA_INVALID,
    CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_UNEXTRACTABLE, CKR_OK,
    CKR_OBJECT_HANDLE_INVALID, CKR_PIN_INCORRECT, CKR_SESSION_READ_ONLY,
    CKR_USER_ALREADY_LOGGED_IN, CKR_USER_NOT_LOGGED_IN,
    CKS_RO_PUBLIC_SESSION, CKS_RO_USER_FUNCTIONS, CKS_RW_PUBLIC_SESSION,
    CKS_RW_USER_FUNCTIONS,
)

SO_PATH = os.environ.get("CRATON_SO", "")
CONF = os.environ.get("CRATON_CONF", "")
TOKEN_LABEL = os.environ.get("CRATON_TOKEN_LABEL", "t1")
USER_PIN = os.environ.get("CRATON_USER_PIN", "87654321")

# DER of the named curves' OIDs, as CKA_EC_PARAMS.
P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")
ED25519_PARAMS = bytes.fromhex("06032b6570")  # id-Ed25519 (RFC 8410)

# P-256 domain parameters (FIPS 186-4 D.1.2.3), for independent verification.
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_A = P256_P - 3
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
          0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")

lib = None


def setUpModule():
    global lib
    if not SO_PATH or not os.path.isabs(SO_PATH):
        raise RuntimeError("CRATON_SO must name libcraton.so by absolute path")
    if not CONF:
        raise RuntimeError("CRATON_CONF must name a scratch configuration")
    lib = PyKCS11.PyKCS11Lib()
    lib.load(SO_PATH)


def tearDownModule():
    global lib
    lib = None  # PyKCS11Lib.__del__ unloads (C_Finalize)


def rv_of(fn, *args):
    """The CK_RV of fn(*args): CKR_OK or the PyKCS11Error's value."""
    try:
        fn(*args)
    except PyKCS11.PyKCS11Error as e:
        return e.value
    return CKR_OK


def rv_name(rv):
    return PyKCS11.CKR.get(rv, hex(rv))


def b(x):
    return bytes(x)


# --- independent verification, pure Python ---------------------------------

def rsa_pkcs1_sha256_verify(n, e, msg, sig):
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    t = SHA256_DIGESTINFO + hashlib.sha256(msg).digest()
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def mgf1_sha256(seed, length):
    out = b""
    c = 0
    while len(out) < length:
        out += hashlib.sha256(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:length]


def rsa_pss_sha256_verify(n, e, msg, sig, slen=32):
    mod_bits = n.bit_length()
    em_len = (mod_bits - 1 + 7) // 8
    m = pow(int.from_bytes(sig, "big"), e, n)
    em = m.to_bytes(em_len, "big")
    h_len = 32
    if em[-1] != 0xBC:
        return False
    masked, h = em[:em_len - h_len - 1], em[em_len - h_len - 1:-1]
    db = bytes(x ^ y for x, y in zip(masked, mgf1_sha256(h, len(masked))))
    zero_bits = 8 * em_len - (mod_bits - 1)
    db = bytes([db[0] & (0xFF >> zero_bits)]) + db[1:]
    ps_len = em_len - h_len - slen - 2
    if db[:ps_len] != b"\x00" * ps_len or db[ps_len] != 1:
        return False
    salt = db[ps_len + 1:]
    return hashlib.sha256(b"\x00" * 8 + hashlib.sha256(msg).digest() + salt).digest() == h


def rsa_oaep_sha256_encrypt(n, e, msg, label):
    k = (n.bit_length() + 7) // 8
    h_len = 32
    ps = b"\x00" * (k - len(msg) - 2 * h_len - 2)
    db = hashlib.sha256(label).digest() + ps + b"\x01" + msg
    seed = os.urandom(h_len)
    masked_db = bytes(x ^ y for x, y in zip(db, mgf1_sha256(seed, k - h_len - 1)))
    masked_seed = bytes(x ^ y for x, y in zip(seed, mgf1_sha256(masked_db, h_len)))
    em = b"\x00" + masked_seed + masked_db
    return pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")


def _ec_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P256_P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + P256_A) * pow(2 * y1, -1, P256_P) % P256_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P256_P) % P256_P
    x3 = (lam * lam - x1 - x2) % P256_P
    return (x3, (lam * (x1 - x3) - y1) % P256_P)


def _ec_mul(k, pt):
    acc = None
    while k:
        if k & 1:
            acc = _ec_add(acc, pt)
        pt = _ec_add(pt, pt)
        k >>= 1
    return acc


def ecdsa_p256_verify(point, digest, sig):
    """point: (x, y); digest: 32 bytes; sig: r||s, 64 bytes (PKCS#11 form)."""
    if len(sig) != 64:
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        return False
    x, y = point
    if (y * y - (x * x * x + P256_A * x + 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)) % P256_P:
        return False  # not on the curve
    z = int.from_bytes(digest, "big")
    w = pow(s, -1, P256_N)
    rp = _ec_add(_ec_mul(z * w % P256_N, P256_G), _ec_mul(r * w % P256_N, point))
    return rp is not None and rp[0] % P256_N == r


def handles(objs):
    return [int(o.value()) for o in objs]


def der_octet_string_content(der):
    """The content of a DER OCTET STRING (CKA_EC_POINT's form)."""
    if der[0] != 0x04:
        raise ValueError("not an OCTET STRING: tag %#x" % der[0])
    n = der[1]
    off = 2
    if n & 0x80:
        nb = n & 0x7F
        n = int.from_bytes(der[2:2 + nb], "big")
        off = 2 + nb
    if off + n != len(der):
        raise ValueError("bad OCTET STRING length")
    return der[off:]


# --- tests ------------------------------------------------------------------

class CratonTestCase(unittest.TestCase):
    """Each test gets an RW session logged in as the user (self.s)."""

    login = True

    def setUp(self):
        self.slot = lib.getSlotList(tokenPresent=True)[0]
        self.s = lib.openSession(self.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        if self.login:
            self.s.login(USER_PIN)
        self.created = []

    def tearDown(self):
        for h in self.created:
            try:
                self.s.destroyObject(h)
            except PyKCS11.PyKCS11Error:
                pass
        try:
            self.s.logout()
        except PyKCS11.PyKCS11Error:
            pass
        lib.closeAllSessions(self.slot)

    def keep(self, *handles):
        self.created.extend(handles)
        return handles[0] if len(handles) == 1 else handles

    def assertRV(self, want, fn, *args):
        got = rv_of(fn, *args)
        self.assertEqual(got, want, "got %s, want %s" % (rv_name(got), rv_name(want)))

    def raw_get_rv(self, handle, attr_type):
        """The CK_RV of C_GetAttributeValue on one attribute, without
        PyKCS11's fallback (which turns a refused attribute into None)."""
        t = LowLevel.ckattrlist(1)
        t[0].SetType(attr_type)
        return self.s.lib.C_GetAttributeValue(self.s.session, handle, t)

    def gen_aes(self, label, extra=()):
        tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES),
                (CKA_VALUE_LEN, 32), (CKA_TOKEN, False), (CKA_LABEL, label),
                (CKA_ENCRYPT, True), (CKA_DECRYPT, True)] + list(extra)
        return self.keep(self.s.generateKey(tmpl, PyKCS11.Mechanism(CKM_AES_KEY_GEN)))

    def import_secret(self, value, label, key_type=CKK_AES, extra=()):
        tmpl = [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, key_type),
                (CKA_TOKEN, False), (CKA_LABEL, label), (CKA_VALUE, value)] + list(extra)
        return self.keep(self.s.createObject(tmpl))


class T1Info(CratonTestCase):
    login = False

    def test_library_info(self):
        info = lib.getInfo()
        self.assertEqual(info.manufacturerID.strip(), "Craton")
        self.assertEqual(info.cryptokiVersion, (3, 0))
        self.assertIn("Craton", info.libraryDescription)

    def test_slot_and_token_info(self):
        self.assertEqual(lib.getSlotList(), [0])
        self.assertEqual(lib.getSlotList(tokenPresent=True), [0])
        si = lib.getSlotInfo(0)
        self.assertTrue(si.flags & CKF_TOKEN_PRESENT)
        self.assertEqual(si.slotDescription.strip(), "Craton slot 0")
        self.assertEqual(si.manufacturerID.strip(), "Craton")
        ti = lib.getTokenInfo(0)
        self.assertEqual(ti.label.strip(), TOKEN_LABEL)
        self.assertEqual(ti.manufacturerID.strip(), "Craton")
        self.assertEqual(ti.model.strip(), "Craton")
        self.assertRegex(ti.serialNumber.strip(), r"^[0-9a-f]{16}$")
        for flag in (CKF_RNG, CKF_LOGIN_REQUIRED, CKF_USER_PIN_INITIALIZED, CKF_TOKEN_INITIALIZED):
            self.assertTrue(ti.flags & flag, PyKCS11.CKF.get(flag, flag))
        self.assertEqual((ti.ulMinPinLen, ti.ulMaxPinLen), (4, 255))

    def test_mechanism_list(self):
        mechs = set(lib.getMechanismList(0))
        for m in ("CKM_RSA_PKCS_KEY_PAIR_GEN", "CKM_SHA256_RSA_PKCS", "CKM_RSA_PKCS_OAEP",
                  "CKM_RSA_PKCS_PSS", "CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA", "CKM_ECDSA_SHA256",
                  "CKM_EC_EDWARDS_KEY_PAIR_GEN", "CKM_EDDSA", "CKM_AES_KEY_GEN", "CKM_AES_GCM",
                  "CKM_AES_KEY_WRAP", "CKM_AES_KEY_WRAP_KWP", "CKM_SHA256", "CKM_SHA256_HMAC"):
            self.assertIn(m, mechs)
        mi = lib.getMechanismInfo(0, "CKM_RSA_PKCS_KEY_PAIR_GEN")
        self.assertEqual(mi.ulMinKeySize, 2048)
        self.assertIn("CKF_GENERATE_KEY_PAIR", mi.flags2text())
        mi = lib.getMechanismInfo(0, "CKM_AES_GCM")
        self.assertIn("CKF_ENCRYPT", mi.flags2text())
        self.assertIn("CKF_DECRYPT", mi.flags2text())

    def test_random(self):
        r1, r2 = b(self.s.generateRandom(32)), b(self.s.generateRandom(32))
        self.assertEqual(len(r1), 32)
        self.assertNotEqual(r1, r2)


class T2Sessions(CratonTestCase):
    login = False

    def test_session_states_and_login(self):
        ro = lib.openSession(self.slot)  # CKF_SERIAL_SESSION only
        rw = self.s
        self.assertEqual(ro.getSessionInfo().state, CKS_RO_PUBLIC_SESSION)
        self.assertEqual(rw.getSessionInfo().state, CKS_RW_PUBLIC_SESSION)
        self.assertFalse(ro.getSessionInfo().flags & CKF_RW_SESSION)
        self.assertTrue(rw.getSessionInfo().flags & CKF_RW_SESSION)
        self.assertEqual(rw.getSessionInfo().slotID, self.slot)

        self.assertRV(CKR_USER_NOT_LOGGED_IN, rw.logout)
        self.assertRV(CKR_PIN_INCORRECT, rw.login, "00000000")
        rw.login(USER_PIN)  # resets the failure counter (max_failures = 3)
        # Login state belongs to the application: every session sees it.
        self.assertEqual(ro.getSessionInfo().state, CKS_RO_USER_FUNCTIONS)
        self.assertEqual(rw.getSessionInfo().state, CKS_RW_USER_FUNCTIONS)
        self.assertRV(CKR_USER_ALREADY_LOGGED_IN, ro.login, USER_PIN)
        # Token objects cannot be created in a read-only session.
        self.assertRV(CKR_SESSION_READ_ONLY, ro.createObject,
                      [(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_LABEL, "ro")])
        ro.logout()
        self.assertEqual(rw.getSessionInfo().state, CKS_RW_PUBLIC_SESSION)
        self.assertEqual(ro.getSessionInfo().state, CKS_RO_PUBLIC_SESSION)
        ro.closeSession()
        self.assertEqual(rw.getSessionInfo().state, CKS_RW_PUBLIC_SESSION)


class T3Objects(CratonTestCase):

    def test_data_object_lifecycle(self):
        value = os.urandom(40)
        h = self.s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, False),
                                 (CKA_LABEL, "py-data"), (CKA_APPLICATION, "pykcs11-test"),
                                 (CKA_VALUE, value)])
        found = self.s.findObjects([(CKA_CLASS, CKO_DATA), (CKA_LABEL, "py-data")])
        self.assertEqual(len(found), 1)
        label, app, val, private, cls = self.s.getAttributeValue(
            found[0], [CKA_LABEL, CKA_APPLICATION, CKA_VALUE, CKA_PRIVATE, CKA_CLASS])
        self.assertEqual((label, app, b(val), private, cls),
                         ("py-data", "pykcs11-test", value, False, CKO_DATA))
        self.s.setAttributeValue(h, [(CKA_LABEL, "py-data-renamed")])
        self.assertEqual(self.s.findObjects([(CKA_LABEL, "py-data")]), [])
        found = self.s.findObjects([(CKA_LABEL, "py-data-renamed")])
        self.assertEqual(len(found), 1)
        self.assertEqual(b(self.s.getAttributeValue(found[0], [CKA_VALUE])[0]), value)
        # Another session sees the token object, and its destruction.
        other = lib.openSession(self.slot)
        self.assertEqual(len(other.findObjects([(CKA_LABEL, "py-data-renamed")])), 1)
        self.s.destroyObject(found[0])
        self.assertEqual(self.s.findObjects([(CKA_LABEL, "py-data-renamed")]), [])
        self.assertEqual(other.findObjects([(CKA_LABEL, "py-data-renamed")]), [])
        self.assertRV(CKR_OBJECT_HANDLE_INVALID, self.s.getAttributeValue, h, [CKA_LABEL])

    def test_private_object_needs_login(self):
        h = self.keep(self.s.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, True), (CKA_PRIVATE, True),
                                           (CKA_LABEL, "py-private"), (CKA_VALUE, b"secret")]))
        self.assertEqual(len(self.s.findObjects([(CKA_LABEL, "py-private")])), 1)
        self.s.logout()
        self.assertEqual(self.s.findObjects([(CKA_LABEL, "py-private")]), [])
        self.s.login(USER_PIN)
        self.assertEqual(handles(self.s.findObjects([(CKA_LABEL, "py-private")])), handles([h]))

    def test_session_object_dies_with_session(self):
        other = lib.openSession(self.slot, CKF_RW_SESSION)
        other.createObject([(CKA_CLASS, CKO_DATA), (CKA_TOKEN, False), (CKA_LABEL, "py-session")])
        self.assertEqual(len(self.s.findObjects([(CKA_LABEL, "py-session")])), 1)
        other.closeSession()
        self.assertEqual(self.s.findObjects([(CKA_LABEL, "py-session")]), [])

    def test_sensitive_key_value(self):
        k = self.gen_aes("py-sensitive")
        rv = self.raw_get_rv(k, CKA_VALUE)
        self.assertEqual(rv, CKR_ATTRIBUTE_SENSITIVE, rv_name(rv))
        # (The module also sets ulValueLen to CK_UNAVAILABLE_INFORMATION, but
        # PyKCS11 1.5.12 does not carry that length back to Python.)
        # PyKCS11's own call falls back to None for a sensitive attribute.
        self.assertEqual(self.s.getAttributeValue(k, [CKA_VALUE])[0], None)
        sens, extr, asens, nextr, local, vlen = self.s.getAttributeValue(
            k, [CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL, CKA_VALUE_LEN])
        self.assertEqual((sens, extr, asens, nextr, local, vlen), (True, False, True, True, True, 32))
        # CKA_SENSITIVE only goes to true.
        self.assertRV(CKR_ATTRIBUTE_READ_ONLY, self.s.setAttributeValue, k, [(CKA_SENSITIVE, False)])

    def test_token_key_persists_and_is_found_by_id(self):
        k = self.keep(self.s.generateKey(
            [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_VALUE_LEN, 16),
             (CKA_TOKEN, True), (CKA_LABEL, "py-token-aes"), (CKA_ID, b"\x42\x42")],
            PyKCS11.Mechanism(CKM_AES_KEY_GEN)))
        found = self.s.findObjects([(CKA_CLASS, CKO_SECRET_KEY), (CKA_ID, b"\x42\x42")])
        self.assertEqual(len(found), 1)
        self.assertEqual(self.s.getAttributeValue(found[0], [CKA_LABEL])[0], "py-token-aes")
        self.assertEqual(handles(found), handles([k]))


class T4RSA(CratonTestCase):

    def gen(self, label, bits=2048):
        pub, priv = self.s.generateKeyPair(
            [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, True),
             (CKA_LABEL, label), (CKA_ID, b"\x71"), (CKA_MODULUS_BITS, bits),
             (CKA_PUBLIC_EXPONENT, b"\x01\x00\x01"),
             (CKA_VERIFY, True), (CKA_ENCRYPT, True), (CKA_WRAP, True)],
            [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_RSA), (CKA_TOKEN, True),
             (CKA_LABEL, label), (CKA_ID, b"\x71"), (CKA_PRIVATE, True), (CKA_SENSITIVE, True),
             (CKA_SIGN, True), (CKA_DECRYPT, True), (CKA_UNWRAP, True)],
            PyKCS11.Mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN))
        self.keep(pub, priv)
        n, e = self.s.getAttributeValue(pub, [CKA_MODULUS, CKA_PUBLIC_EXPONENT])
        return pub, priv, int.from_bytes(b(n), "big"), int.from_bytes(b(e), "big")

    def test_rsa_generate_sign_verify(self):
        pub, priv, n, e = self.gen("py-rsa")
        self.assertEqual(n.bit_length(), 2048)
        self.assertEqual(e, 65537)
        self.assertEqual(len(self.s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "py-rsa")])), 1)
        msg = b"signed by Craton through PyKCS11"
        mech = PyKCS11.Mechanism(CKM_SHA256_RSA_PKCS)
        sig = b(self.s.sign(priv, msg, mech))
        self.assertEqual(len(sig), 256)
        self.assertTrue(self.s.verify(pub, msg, sig, mech))
        self.assertTrue(rsa_pkcs1_sha256_verify(n, e, msg, sig), "independent PKCS#1 v1.5 check")
        bad = bytearray(sig)
        bad[10] ^= 1
        self.assertFalse(self.s.verify(pub, msg, bytes(bad), mech))
        self.assertFalse(self.s.verify(pub, msg + b"!", sig, mech))
        # A public key cannot sign: PKCS#11 allows either code here
        # (Craton: CKR_KEY_TYPE_INCONSISTENT; SoftHSMv2: ..._NOT_PERMITTED).
        self.assertIn(rv_of(self.s.sign, pub, msg, mech),
                      (CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED))
        # A private key with CKA_SIGN = false may not sign.
        self.s.setAttributeValue(priv, [(CKA_SIGN, False)])
        self.assertRV(CKR_KEY_FUNCTION_NOT_PERMITTED, self.s.sign, priv, msg, mech)
        self.s.setAttributeValue(priv, [(CKA_SIGN, True)])
        self.assertTrue(self.s.verify(pub, msg, b(self.s.sign(priv, msg, mech)), mech))

    def test_rsa_pss(self):
        pub, priv, n, e = self.gen("py-rsa-pss")
        msg = b"PSS through PyKCS11"
        mech = PyKCS11.RSA_PSS_Mechanism(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)
        sig = b(self.s.sign(priv, msg, mech))
        self.assertTrue(self.s.verify(pub, msg, sig, mech))
        self.assertTrue(rsa_pss_sha256_verify(n, e, msg, sig), "independent PSS check")
        self.assertNotEqual(sig, b(self.s.sign(priv, msg, mech)), "PSS is randomised")

    def test_rsa_oaep_with_label(self):
        pub, priv, n, e = self.gen("py-rsa-oaep")
        label = b"craton-label"
        mech = PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, label)
        pt = b"OAEP plaintext"
        ct = b(self.s.encrypt(pub, pt, mech))
        self.assertEqual(len(ct), 256)
        self.assertEqual(b(self.s.decrypt(priv, ct, mech)), pt)
        # Encrypted here in pure Python, decrypted by the token.
        ct2 = rsa_oaep_sha256_encrypt(n, e, b"from python", label)
        self.assertEqual(b(self.s.decrypt(priv, ct2, mech)), b"from python")
        # Another label must not decrypt.
        other = PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256, b"other-label")
        self.assertRV(CKR_ENCRYPTED_DATA_INVALID, self.s.decrypt, priv, ct, other)
        # No label at all vs. a label.
        nolabel = PyKCS11.RSAOAEPMechanism(CKM_SHA256, CKG_MGF1_SHA256)
        self.assertRV(CKR_ENCRYPTED_DATA_INVALID, self.s.decrypt, priv, ct, nolabel)


class T5EC(CratonTestCase):

    def test_p256_ecdsa(self):
        pub, priv = self.keep(*self.s.generateKeyPair(
            [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True),
             (CKA_LABEL, "py-p256"), (CKA_EC_PARAMS, P256_PARAMS), (CKA_VERIFY, True)],
            [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC), (CKA_TOKEN, True),
             (CKA_LABEL, "py-p256"), (CKA_PRIVATE, True), (CKA_SIGN, True)],
            PyKCS11.Mechanism(CKM_EC_KEY_PAIR_GEN)))
        params, point_der = self.s.getAttributeValue(pub, [CKA_EC_PARAMS, CKA_EC_POINT])
        self.assertEqual(b(params), P256_PARAMS)
        point = der_octet_string_content(b(point_der))  # CKA_EC_POINT: DER OCTET STRING
        self.assertEqual((len(point), point[0]), (65, 4), "uncompressed point")
        xy = (int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))

        msg = b"ECDSA through PyKCS11"
        mech = PyKCS11.Mechanism(CKM_ECDSA_SHA256)
        sig = b(self.s.sign(priv, msg, mech))
        self.assertEqual(len(sig), 64)
        self.assertTrue(self.s.verify(pub, msg, sig, mech))
        self.assertTrue(ecdsa_p256_verify(xy, hashlib.sha256(msg).digest(), sig), "independent ECDSA check")
        self.assertFalse(self.s.verify(pub, msg + b".", sig, mech))
        # CKM_ECDSA over a digest computed here.
        digest = hashlib.sha256(b"prehashed").digest()
        sig2 = b(self.s.sign(priv, digest, PyKCS11.Mechanism(CKM_ECDSA)))
        self.assertTrue(ecdsa_p256_verify(xy, digest, sig2))
        self.assertTrue(self.s.verify(pub, digest, sig2, PyKCS11.Mechanism(CKM_ECDSA)))
        bad = bytearray(sig2)
        bad[-1] ^= 1
        self.assertFalse(self.s.verify(pub, digest, bytes(bad), PyKCS11.Mechanism(CKM_ECDSA)))

    def test_ed25519(self):
        pub, priv = self.keep(*self.s.generateKeyPair(
            [(CKA_CLASS, CKO_PUBLIC_KEY), (CKA_KEY_TYPE, CKK_EC_EDWARDS), (CKA_TOKEN, False),
             (CKA_LABEL, "py-ed25519"), (CKA_EC_PARAMS, ED25519_PARAMS), (CKA_VERIFY, True)],
            [(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_KEY_TYPE, CKK_EC_EDWARDS), (CKA_TOKEN, False),
             (CKA_LABEL, "py-ed25519"), (CKA_PRIVATE, True), (CKA_SIGN, True)],
            PyKCS11.Mechanism(CKM_EC_EDWARDS_KEY_PAIR_GEN)))
        point = der_octet_string_content(b(self.s.getAttributeValue(pub, [CKA_EC_POINT])[0]))
        self.assertEqual(len(point), 32)
        mech = PyKCS11.Mechanism(CKM_EDDSA)
        msg = b"Ed25519 through PyKCS11"
        sig = b(self.s.sign(priv, msg, mech))
        self.assertEqual(len(sig), 64)
        self.assertEqual(sig, b(self.s.sign(priv, msg, mech)), "Ed25519 is deterministic")
        self.assertTrue(self.s.verify(pub, msg, sig, mech))
        self.assertFalse(self.s.verify(pub, msg + b".", sig, mech))


class T6AES(CratonTestCase):

    def test_gcm_roundtrip_and_tamper(self):
        k = self.gen_aes("py-gcm")
        iv, aad, pt = os.urandom(12), b"header", b"AES-GCM plaintext through PyKCS11"
        mech = PyKCS11.AES_GCM_Mechanism(iv, aad, 128)
        ct = b(self.s.encrypt(k, pt, mech))
        self.assertEqual(len(ct), len(pt) + 16)
        self.assertEqual(b(self.s.decrypt(k, ct, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))), pt)
        bad_tag = ct[:-1] + bytes([ct[-1] ^ 1])
        self.assertRV(CKR_ENCRYPTED_DATA_INVALID, self.s.decrypt, k, bad_tag, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))
        bad_ct = bytes([ct[0] ^ 0x80]) + ct[1:]
        self.assertRV(CKR_ENCRYPTED_DATA_INVALID, self.s.decrypt, k, bad_ct, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))
        self.assertRV(CKR_ENCRYPTED_DATA_INVALID, self.s.decrypt, k, ct, PyKCS11.AES_GCM_Mechanism(iv, b"other", 128))

    def test_gcm_known_answer(self):
        # McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16.
        key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
        iv = bytes.fromhex("cafebabefacedbaddecaf888")
        pt = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                           "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
        aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
        want = bytes.fromhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                             "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                             "76fc6ece0f4e1768cddf8853bb2d551b")
        k = self.import_secret(key, "py-gcm-kat", extra=[(CKA_ENCRYPT, True), (CKA_DECRYPT, True)])
        self.assertEqual(b(self.s.encrypt(k, pt, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))), want)
        self.assertEqual(b(self.s.decrypt(k, want, PyKCS11.AES_GCM_Mechanism(iv, aad, 128))), pt)


class T7Digest(CratonTestCase):
    login = False

    def test_digests_equal_hashlib(self):
        data = os.urandom(1000)
        for mech, h in ((CKM_SHA_1, hashlib.sha1), (CKM_SHA256, hashlib.sha256),
                        (CKM_SHA384, hashlib.sha384), (CKM_SHA512, hashlib.sha512)):
            self.assertEqual(b(self.s.digest(data, PyKCS11.Mechanism(mech))), h(data).digest(), PyKCS11.CKM[mech])
        # PyKCS11 1.5.12 refuses empty input itself (CKR_ARGUMENTS_BAD without
        # calling C_Digest/C_DigestUpdate/C_Sign/C_Encrypt, and the operation
        # stays active), so no empty message here; the module hashes
        # (NULL, 0) fine when called directly.
        self.assertEqual(b(self.s.digest(b"\x00", PyKCS11.Mechanism(CKM_SHA256))), hashlib.sha256(b"\x00").digest())

    def test_multipart_digest(self):
        ds = self.s.digestSession(PyKCS11.Mechanism(CKM_SHA256))
        for chunk in (b"abc", b"d", b"def" * 1000):
            ds.update(chunk)
        self.assertEqual(b(ds.final()), hashlib.sha256(b"abcd" + b"def" * 1000).digest())


class T8HMAC(CratonTestCase):

    def test_hmac_sha256(self):
        key = os.urandom(32)
        k = self.import_secret(key, "py-hmac", CKK_GENERIC_SECRET, [(CKA_SIGN, True), (CKA_VERIFY, True)])
        msg = b"HMAC through PyKCS11"
        mech = PyKCS11.Mechanism(CKM_SHA256_HMAC)
        mac = b(self.s.sign(k, msg, mech))
        self.assertEqual(mac, hmac.new(key, msg, hashlib.sha256).digest())
        self.assertTrue(self.s.verify(k, msg, mac, mech))
        self.assertFalse(self.s.verify(k, msg, mac[:-1] + bytes([mac[-1] ^ 1]), mech))


class T9Wrap(CratonTestCase):

    def wrapping_key(self, label):
        return self.gen_aes(label, [(CKA_WRAP, True), (CKA_UNWRAP, True)])

    def roundtrip(self, mech_type):
        kek = self.wrapping_key("py-kek")
        target = self.gen_aes("py-target", [(CKA_EXTRACTABLE, True)])
        mech = PyKCS11.Mechanism(mech_type)
        wrapped = b(self.s.wrapKey(kek, target, mech))
        self.assertEqual(len(wrapped), 40)
        un = self.keep(self.s.unwrapKey(kek, wrapped, [
            (CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_AES), (CKA_TOKEN, False),
            (CKA_LABEL, "py-unwrapped"), (CKA_ENCRYPT, True), (CKA_DECRYPT, True)], mech))
        self.assertEqual(self.s.getAttributeValue(un, [CKA_VALUE_LEN])[0], 32)
        iv, pt = os.urandom(12), b"the same key encrypts the same way"
        c1 = b(self.s.encrypt(target, pt, PyKCS11.AES_GCM_Mechanism(iv, b"", 128)))
        c2 = b(self.s.encrypt(un, pt, PyKCS11.AES_GCM_Mechanism(iv, b"", 128)))
        self.assertEqual(c1, c2)
        self.assertEqual(b(self.s.decrypt(un, c1, PyKCS11.AES_GCM_Mechanism(iv, b"", 128))), pt)
        # A key not marked extractable is not wrapped.
        locked = self.gen_aes("py-locked")
        self.assertRV(CKR_KEY_UNEXTRACTABLE, self.s.wrapKey, kek, locked, mech)

    def test_aes_key_wrap_kwp(self):
        self.roundtrip(CKM_AES_KEY_WRAP_KWP)

    def test_aes_key_wrap(self):
        self.roundtrip(CKM_AES_KEY_WRAP)

    def test_key_wrap_known_answers(self):
        wrap = [(CKA_WRAP, True), (CKA_UNWRAP, True)]
        ext = [(CKA_EXTRACTABLE, True), (CKA_SENSITIVE, False)]
        # RFC 3394 section 4.6: 256-bit key data under a 256-bit KEK.
        kek = self.import_secret(bytes(range(32)), "py-kek-3394", extra=wrap)
        data = self.import_secret(bytes.fromhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"),
                                  "py-data-3394", extra=ext)
        self.assertEqual(b(self.s.wrapKey(kek, data, PyKCS11.Mechanism(CKM_AES_KEY_WRAP))).hex(),
                         "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21")
        # RFC 5649 section 6: a 20-octet key under a 192-bit KEK.
        kek = self.import_secret(bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"), "py-kek-5649", extra=wrap)
        data = self.import_secret(bytes.fromhex("c37b7e6492584340bed12207808941155068f738"),
                                  "py-data-5649", CKK_GENERIC_SECRET, extra=ext)
        wrapped = b(self.s.wrapKey(kek, data, PyKCS11.Mechanism(CKM_AES_KEY_WRAP_KWP)))
        self.assertEqual(wrapped.hex(), "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
        un = self.keep(self.s.unwrapKey(kek, wrapped, [
            (CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET), (CKA_TOKEN, False),
            (CKA_SENSITIVE, False), (CKA_EXTRACTABLE, True), (CKA_LABEL, "py-unwrapped-5649")],
            PyKCS11.Mechanism(CKM_AES_KEY_WRAP_KWP)))
        self.assertEqual(b(self.s.getAttributeValue(un, [CKA_VALUE])[0]).hex(), "c37b7e6492584340bed12207808941155068f738")
        # A corrupted wrapping is refused.
        bad = bytes([wrapped[0] ^ 1]) + wrapped[1:]
        got = rv_of(self.s.unwrapKey, kek, bad, [(CKA_CLASS, CKO_SECRET_KEY), (CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                                                 (CKA_TOKEN, False)], PyKCS11.Mechanism(CKM_AES_KEY_WRAP_KWP))
        self.assertIn(got, (PyKCS11.LowLevel.CKR_WRAPPED_KEY_INVALID, CKR_ENCRYPTED_DATA_INVALID), rv_name(got))


if __name__ == "__main__":
    unittest.main(verbosity=2)
