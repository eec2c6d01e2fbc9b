// Craton through Java's SunPKCS11 provider. Run by tests/pkcs11-tool/75-java.sh:
//
//   javac -d OUT tests/java/CratonSign.java
//   java -cp OUT CratonSign CONFIG PIN ALIAS...
//
// CONFIG is a SunPKCS11 configuration (name = Craton, library = /abs/libcraton.so,
// slot = 0); each ALIAS names a PrivateKeyEntry on the token (a private key and a
// certificate with the same CKA_ID). For each alias the program signs through
// the token and verifies with the certificate's public key on Java's own
// providers (SunRsaSign, SunEC), never the token. It prints one "OK ..." line per
// check and "FAIL ..." lines for what went wrong; the shell script counts them.
// The exit status is 0 only when nothing failed.

import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Security;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;

public class CratonSign {
    static int failures = 0;

    static void ok(String what) {
        System.out.println("OK " + what);
    }

    static void fail(String what, Throwable t) {
        failures++;
        System.out.println("FAIL " + what + (t == null ? "" : ": " + t));
        if (t != null) {
            t.printStackTrace(System.out);
        }
    }

    static void check(String what, boolean cond) {
        if (cond) {
            ok(what);
        } else {
            fail(what, null);
        }
    }

    // A JIT-compiled method with an implicit null check: HotSpot turns the
    // field access into a plain load and relies on SIGSEGV to raise the
    // NullPointerException. With a Go c-shared library loaded, the signal
    // first reaches the Go runtime's handler, which must hand it back to the
    // JVM's.
    static final class Box {
        int v;
    }

    static int deref(Box b) {
        return b.v;
    }

    static String signatureAlgorithm(PrivateKey k) {
        switch (k.getAlgorithm()) {
            case "RSA":
                return "SHA256withRSA";
            case "EC":
                return "SHA256withECDSA";
            default:
                throw new IllegalArgumentException("no signature algorithm for " + k.getAlgorithm());
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: CratonSign CONFIG PIN ALIAS...");
            System.exit(2);
        }
        String cfg = args[0];
        char[] pin = args[1].toCharArray();
        List<String> aliases = Arrays.asList(args).subList(2, args.length);

        Provider p = Security.getProvider("SunPKCS11").configure(cfg);
        Security.addProvider(p);
        ok("provider " + p.getName() + " configured from " + cfg);

        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, pin);
        List<String> onToken = Collections.list(ks.aliases());
        ok("keystore loaded with the PIN: aliases " + onToken);

        byte[] data = "signed by a Craton token key through SunPKCS11".getBytes(StandardCharsets.UTF_8);
        for (String alias : aliases) {
            try {
                check("alias " + alias + " is a PrivateKeyEntry", ks.entryInstanceOf(alias, KeyStore.PrivateKeyEntry.class));
                KeyStore.PrivateKeyEntry e = (KeyStore.PrivateKeyEntry) ks.getEntry(alias, null);
                PrivateKey priv = e.getPrivateKey();
                X509Certificate cert = (X509Certificate) e.getCertificate();
                PublicKey pub = cert.getPublicKey();
                check(alias + ": private key is a token key (" + priv.getClass().getName() + ", no encoding)",
                        priv.getEncoded() == null && priv.getClass().getName().startsWith("sun.security.pkcs11."));
                check(alias + ": certificate " + cert.getSubjectX500Principal(), cert.getSubjectX500Principal() != null);

                String alg = signatureAlgorithm(priv);
                Signature signer = Signature.getInstance(alg, p);
                signer.initSign(priv);
                signer.update(data);
                byte[] sig = signer.sign();
                ok(alias + ": " + alg + " signature by " + signer.getProvider().getName() + " (" + sig.length + " bytes)");

                // Verified outside the token, by Java's own providers.
                Signature v = Signature.getInstance(alg);
                if (v.getProvider() == p) {
                    throw new IllegalStateException("the software verifier resolved to the token provider");
                }
                v.initVerify(pub);
                v.update(data);
                check(alias + ": " + alg + " verifies with the certificate's key on " + v.getProvider().getName(), v.verify(sig));

                Signature v2 = Signature.getInstance(alg);
                v2.initVerify(pub);
                v2.update("another message".getBytes(StandardCharsets.UTF_8));
                check(alias + ": ... and not over another message", !v2.verify(sig));

                // The certificate itself: its self-signature checks.
                cert.verify(pub);
                ok(alias + ": the certificate's self-signature verifies");

                if (priv.getAlgorithm().equals("RSA")) {
                    // Encrypted in software with the certificate's key, decrypted on the token.
                    Cipher enc = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
                    enc.init(Cipher.ENCRYPT_MODE, pub);
                    byte[] ct = enc.doFinal(data);
                    Cipher dec = Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
                    dec.init(Cipher.DECRYPT_MODE, priv);
                    check(alias + ": RSA/ECB/PKCS1Padding from SunJCE decrypts on the token", Arrays.equals(dec.doFinal(ct), data));
                }
            } catch (Exception ex) {
                fail(alias, ex);
            }
        }

        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256", p);
            byte[] d = md.digest(data);
            check("SHA-256 on the token equals SUN's", Arrays.equals(d, MessageDigest.getInstance("SHA-256", "SUN").digest(data)));
        } catch (Exception ex) {
            fail("SHA-256", ex);
        }

        try {
            KeyGenerator kg = KeyGenerator.getInstance("AES", p);
            kg.init(256);
            SecretKey k = kg.generateKey();
            byte[] iv = new byte[12];
            new java.security.SecureRandom().nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, k, new GCMParameterSpec(128, iv));
            c.updateAAD("aad".getBytes(StandardCharsets.UTF_8));
            byte[] ct = c.doFinal(data);
            Cipher d = Cipher.getInstance("AES/GCM/NoPadding", p);
            d.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv));
            d.updateAAD("aad".getBytes(StandardCharsets.UTF_8));
            check("AES-256/GCM session key generated, encrypts and decrypts on the token", Arrays.equals(d.doFinal(ct), data));
            ct[ct.length - 1] ^= 1;
            Cipher d2 = Cipher.getInstance("AES/GCM/NoPadding", p);
            d2.init(Cipher.DECRYPT_MODE, k, new GCMParameterSpec(128, iv));
            d2.updateAAD("aad".getBytes(StandardCharsets.UTF_8));
            try {
                d2.doFinal(ct);
                fail("AES/GCM: a tampered tag was accepted", null);
            } catch (javax.crypto.AEADBadTagException expected) {
                ok("AES/GCM: a tampered tag is refused (" + expected.getClass().getSimpleName() + ")");
            }
        } catch (Exception ex) {
            fail("AES/GCM", ex);
        }

        // The JVM's own SIGSEGV use keeps working with the Go runtime loaded.
        int npe = 0;
        for (int i = 0; i < 200_000; i++) {
            try {
                deref((i & 1023) == 0 ? null : new Box());
            } catch (NullPointerException expected) {
                npe++;
            }
        }
        check("JVM signals: " + npe + " implicit-null-check NullPointerExceptions after loading the module", npe == 196);

        System.out.println(failures == 0 ? "DONE ok" : "DONE " + failures + " failed");
        System.exit(failures == 0 ? 0 : 1);
    }
}
