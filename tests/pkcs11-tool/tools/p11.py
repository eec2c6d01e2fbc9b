#!/usr/bin/env python3
"""PyKCS11 driver for what pkcs11-tool (OpenSC 0.23) cannot do.

Used by tests/pkcs11-tool/5x-*.sh through p11py in lib/lib.sh:

    p11.py MODULE PIN COMMAND [options]

Commands (every key is found by CKA_LABEL and --class):
  encrypt / decrypt  --key L --mech gcm|ctr|oaep|cbc-pad --in F --out F
                     [--iv HEX] [--aad HEX] [--tag-bits N] [--counter-bits N]
                     [--hash sha256|sha384|sha512] [--oaep-label HEX] [--iv-out F]
  wrap               --key L --target L --mech oaep|kwp|gcm --out F [--hash H] [--oaep-label HEX]
  unwrap             --key L --mech oaep|kwp|gcm --in F --new-label L --new-id HEX [--key-type aes|generic]
                     [--extractable] [--hash H] [--oaep-label HEX]
  create-secret      --label L --id HEX --key-type aes|generic --value-file F
                     [--extractable] [--sensitive]
  import-ed25519-pub --label L --id HEX --spki F (DER SubjectPublicKeyInfo; CKA_EC_PARAMS
                     is the RFC 8410 OID, CKA_EC_POINT a DER OCTET STRING)
  ecdh-derive        --key L --peer-spki F --new-label L --new-id HEX --key-type aes|generic
                     --value-len N [--extractable] [--sensitive] [--out F (CKA_VALUE)]
                     [--raw-point-hex HEX (instead of --peer-spki)]
  attrs              --key L [--class ...]: NAME=VALUE lines (hex for bytes)

A PKCS#11 error prints "error: ... rv = CKR_NAME (0x..) " (pkcs11-tool's
wording, so lib.sh's assert_rv works) and exits 3.
"""

import argparse
import struct
import sys

import PyKCS11

CLASSES = {
    "secret": PyKCS11.CKO_SECRET_KEY,
    "public": PyKCS11.CKO_PUBLIC_KEY,
    "private": PyKCS11.CKO_PRIVATE_KEY,
}
HASHES = {
    "sha256": (PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256),
    "sha384": (PyKCS11.CKM_SHA384, PyKCS11.CKG_MGF1_SHA384),
    "sha512": (PyKCS11.CKM_SHA512, PyKCS11.CKG_MGF1_SHA512),
}
KEY_TYPES = {"aes": PyKCS11.CKK_AES, "generic": PyKCS11.CKK_GENERIC_SECRET}
CKM_AES_KEY_WRAP_KWP = 0x210B


def find_key(session, label, cls):
    objs = session.findObjects([(PyKCS11.CKA_LABEL, label), (PyKCS11.CKA_CLASS, CLASSES[cls])])
    if len(objs) != 1:
        sys.exit("p11.py: %d %s keys labelled %r (want 1)" % (len(objs), cls, label))
    return objs[0]


def der_next(b, off):
    """(tag, content start, content end) of the DER element at off."""
    tag, n, off = b[off], b[off + 1], off + 2
    if n & 0x80:
        k = n & 0x7F
        n, off = int.from_bytes(b[off:off + k], "big"), off + k
    return tag, off, off + n


def spki_point(spki):
    """The public point (BIT STRING content) of a DER SubjectPublicKeyInfo."""
    _, start, _ = der_next(spki, 0)  # SEQUENCE
    _, _, alg_end = der_next(spki, start)  # AlgorithmIdentifier
    tag, bs, be = der_next(spki, alg_end)
    assert tag == 0x03 and spki[bs] == 0, "not a SubjectPublicKeyInfo"
    return spki[bs + 1:be]


def mechanism(a):
    if a.mech == "gcm":
        return PyKCS11.AES_GCM_Mechanism(bytes.fromhex(a.iv), bytes.fromhex(a.aad), a.tag_bits)
    if a.mech == "ctr":
        # CK_AES_CTR_PARAMS: CK_ULONG ulCounterBits; CK_BYTE cb[16] (LP64: 8 + 16 bytes).
        cb = bytes.fromhex(a.iv)
        assert len(cb) == 16, "CTR counter block must be 16 bytes"
        return PyKCS11.Mechanism(PyKCS11.CKM_AES_CTR, struct.pack("=Q", a.counter_bits) + cb)
    if a.mech == "cbc-pad":
        return PyKCS11.Mechanism(PyKCS11.CKM_AES_CBC_PAD, bytes.fromhex(a.iv))
    if a.mech == "oaep":
        h, mgf = HASHES[a.hash]
        label = bytes.fromhex(a.oaep_label) if a.oaep_label else None
        return PyKCS11.RSAOAEPMechanism(h, mgf, label)
    if a.mech == "kwp":
        return PyKCS11.Mechanism(CKM_AES_KEY_WRAP_KWP, None)
    sys.exit("p11.py: unknown --mech " + a.mech)


def default_class(a):
    if a.cls:
        return a.cls
    if a.mech == "oaep":
        return "public" if a.cmd in ("encrypt", "wrap") else "private"
    return "secret"


def run(a, session):
    if a.cmd in ("encrypt", "decrypt"):
        key = find_key(session, a.key, default_class(a))
        data = open(a.inp, "rb").read()
        op = session.encrypt if a.cmd == "encrypt" else session.decrypt
        mech = mechanism(a)
        out = bytes(op(key, data, mech))
        open(a.out, "wb").write(out)
        if a.iv_out:
            # The IV buffer as the token left it: in FIPS mode Craton
            # generates the GCM IV and writes it back into CK_GCM_PARAMS.pIv.
            open(a.iv_out, "w").write(bytes(mech._source_iv).hex() + "\n")
    elif a.cmd == "wrap":
        key = find_key(session, a.key, default_class(a))
        target = find_key(session, a.target, "secret")
        open(a.out, "wb").write(bytes(session.wrapKey(key, target, mechanism(a))))
    elif a.cmd == "unwrap":
        key = find_key(session, a.key, default_class(a))
        tmpl = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
            (PyKCS11.CKA_KEY_TYPE, KEY_TYPES[a.key_type]),
            (PyKCS11.CKA_LABEL, a.new_label),
            (PyKCS11.CKA_ID, bytes.fromhex(a.new_id)),
            (PyKCS11.CKA_TOKEN, True),
            (PyKCS11.CKA_ENCRYPT, True),
            (PyKCS11.CKA_DECRYPT, True),
            (PyKCS11.CKA_SENSITIVE, not a.extractable),
            (PyKCS11.CKA_EXTRACTABLE, a.extractable),
        ]
        session.unwrapKey(key, open(a.inp, "rb").read(), tmpl, mechanism(a))
    elif a.cmd == "create-secret":
        value = open(a.value_file, "rb").read()
        tmpl = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
            (PyKCS11.CKA_KEY_TYPE, KEY_TYPES[a.key_type]),
            (PyKCS11.CKA_LABEL, a.label),
            (PyKCS11.CKA_ID, bytes.fromhex(a.id)),
            (PyKCS11.CKA_TOKEN, True),
            (PyKCS11.CKA_VALUE, value),
            (PyKCS11.CKA_SIGN, True),
            (PyKCS11.CKA_VERIFY, True),
            (PyKCS11.CKA_ENCRYPT, True),
            (PyKCS11.CKA_DECRYPT, True),
            (PyKCS11.CKA_WRAP, True),
            (PyKCS11.CKA_UNWRAP, True),
            (PyKCS11.CKA_SENSITIVE, a.sensitive),
            (PyKCS11.CKA_EXTRACTABLE, a.extractable),
        ]
        session.createObject(tmpl)
    elif a.cmd == "import-ed25519-pub":
        point = open(a.spki, "rb").read()[-32:]
        tmpl = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY),
            (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC_EDWARDS),
            (PyKCS11.CKA_LABEL, a.label),
            (PyKCS11.CKA_ID, bytes.fromhex(a.id)),
            (PyKCS11.CKA_TOKEN, True),
            (PyKCS11.CKA_VERIFY, True),
            (PyKCS11.CKA_EC_PARAMS, bytes.fromhex("06032b6570")),
            (PyKCS11.CKA_EC_POINT, bytes([0x04, 32]) + point),
        ]
        session.createObject(tmpl)
    elif a.cmd == "ecdh-derive":
        key = find_key(session, a.key, "private")
        point = bytes.fromhex(a.raw_point_hex) if a.raw_point_hex else spki_point(open(a.peer_spki, "rb").read())
        tmpl = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
            (PyKCS11.CKA_KEY_TYPE, KEY_TYPES[a.key_type]),
            (PyKCS11.CKA_LABEL, a.new_label),
            (PyKCS11.CKA_ID, bytes.fromhex(a.new_id)),
            (PyKCS11.CKA_TOKEN, True),
            (PyKCS11.CKA_VALUE_LEN, a.value_len),
            (PyKCS11.CKA_ENCRYPT, True),
            (PyKCS11.CKA_DECRYPT, True),
            (PyKCS11.CKA_SIGN, True),
            (PyKCS11.CKA_VERIFY, True),
            (PyKCS11.CKA_SENSITIVE, a.sensitive),
            (PyKCS11.CKA_EXTRACTABLE, a.extractable),
        ]
        derived = session.deriveKey(key, tmpl, PyKCS11.ECDH1_DERIVE_Mechanism(point))
        if a.out:
            value = session.getAttributeValue(derived, [PyKCS11.CKA_VALUE])[0]
            open(a.out, "wb").write(bytes(value))
    elif a.cmd == "attrs":
        key = find_key(session, a.key, a.cls or "secret")
        names = [
            "CKA_KEY_TYPE", "CKA_VALUE_LEN", "CKA_MODULUS_BITS", "CKA_SENSITIVE",
            "CKA_ALWAYS_SENSITIVE", "CKA_EXTRACTABLE", "CKA_NEVER_EXTRACTABLE",
            "CKA_LOCAL", "CKA_KEY_GEN_MECHANISM", "CKA_EC_PARAMS",
        ]
        for n in names:
            try:
                v = session.getAttributeValue(key, [getattr(PyKCS11, n)])[0]
            except PyKCS11.PyKCS11Error as e:
                v = "<%s>" % PyKCS11.CKR.get(e.value, e.value)
            if isinstance(v, (list, tuple)):
                v = bytes(v).hex()
            print("%s=%s" % (n, v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("module")
    ap.add_argument("pin")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("encrypt", "decrypt", "wrap", "unwrap"):
        p = sub.add_parser(name)
        p.add_argument("--key", required=True)
        p.add_argument("--class", dest="cls", choices=sorted(CLASSES))
        p.add_argument("--mech", required=True)
        p.add_argument("--iv", default="")
        p.add_argument("--iv-out", help="gcm: write the IV buffer (hex) after the call")
        p.add_argument("--aad", default="")
        p.add_argument("--tag-bits", type=int, default=128)
        p.add_argument("--counter-bits", type=int, default=128)
        p.add_argument("--hash", default="sha256", choices=sorted(HASHES))
        p.add_argument("--oaep-label", default="")
        p.add_argument("--in", dest="inp")
        p.add_argument("--out")
        p.add_argument("--target")
        p.add_argument("--new-label")
        p.add_argument("--new-id", default="")
        p.add_argument("--key-type", default="aes", choices=sorted(KEY_TYPES))
        p.add_argument("--extractable", action="store_true")
    p = sub.add_parser("create-secret")
    p.add_argument("--label", required=True)
    p.add_argument("--id", required=True, help="CKA_ID, hex")
    p.add_argument("--key-type", required=True, choices=sorted(KEY_TYPES))
    p.add_argument("--value-file", required=True)
    p.add_argument("--extractable", action="store_true")
    p.add_argument("--sensitive", action="store_true")
    p = sub.add_parser("import-ed25519-pub")
    p.add_argument("--label", required=True)
    p.add_argument("--id", required=True, help="CKA_ID, hex")
    p.add_argument("--spki", required=True)
    p = sub.add_parser("ecdh-derive")
    p.add_argument("--key", required=True)
    p.add_argument("--peer-spki")
    p.add_argument("--raw-point-hex")
    p.add_argument("--new-label", required=True)
    p.add_argument("--new-id", required=True)
    p.add_argument("--key-type", default="generic", choices=sorted(KEY_TYPES))
    p.add_argument("--value-len", type=int, required=True)
    p.add_argument("--extractable", action="store_true")
    p.add_argument("--sensitive", action="store_true")
    p.add_argument("--out")
    p = sub.add_parser("attrs")
    p.add_argument("--key", required=True)
    p.add_argument("--class", dest="cls", choices=sorted(CLASSES))
    a = ap.parse_args()

    lib = PyKCS11.PyKCS11Lib()
    lib.load(a.module)
    try:
        slot = lib.getSlotList(tokenPresent=True)[0]
        session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
        session.login(a.pin)
        run(a, session)
        session.logout()
        session.closeSession()
    except PyKCS11.PyKCS11Error as e:
        name = PyKCS11.CKR.get(e.value, "CKR_0x%X" % e.value)
        print("error: PyKCS11 %s failed: rv = %s (0x%x) " % (a.cmd, name, e.value))
        sys.exit(3)


if __name__ == "__main__":
    main()
