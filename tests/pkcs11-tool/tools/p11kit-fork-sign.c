/*
 * p11kit-fork-sign: uses a PKCS#11 module in a process and in a fork()ed
 * child of it, the way a pre-forking server does; for 71-p11kit.sh.
 *
 *   p11kit-fork-sign MODULE PIN KEY-LABEL INFILE OUTDIR
 *
 * Loads MODULE (libcraton.so itself, or p11-kit-proxy.so), C_Initialize,
 * then signs INFILE with CKM_SHA256_RSA_PKCS and the private key labelled
 * KEY-LABEL on the first token whose manufacturer is "Craton":
 *   1. in the parent           -> OUTDIR/parent-before.sig
 *   2. in a fork()ed child, after its own C_Initialize (PKCS#11 §5.4: a
 *      child must initialise again) -> OUTDIR/child.sig
 *   3. in the parent again, after the child exited -> OUTDIR/parent-after.sig
 * and reports whether libcraton.so is mapped into this process
 * (/proc/self/maps): with p11-kit remoting it is not.
 *
 * Prints one line per step ("parent: ...", "child: ..."), with return codes
 * as CKR_ names. Exit status: 0 when all three signatures were made; 1 when
 * only the child failed (cleanly: it exited, with its reason printed); 2
 * when the parent failed. The child is bounded by alarm(30).
 *
 * Built by the test with: cc -I cmd/libcraton -o ... p11kit-fork-sign.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11.h"

#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKU_USER 1UL
#define CKA_CLASS 0x0UL
#define CKA_LABEL 0x3UL
#define CKO_PRIVATE_KEY 0x3UL
#define CKM_SHA256_RSA_PKCS 0x40UL

static CK_FUNCTION_LIST *p11;

static const char *rv_name(CK_RV rv)
{
	static char buf[32];
	switch (rv) {
	case 0x0: return "CKR_OK";
	case 0x5: return "CKR_GENERAL_ERROR";
	case 0x6: return "CKR_FUNCTION_FAILED";
	case 0x7: return "CKR_ARGUMENTS_BAD";
	case 0x30: return "CKR_DEVICE_ERROR";
	case 0x32: return "CKR_DEVICE_REMOVED";
	case 0x70: return "CKR_MECHANISM_INVALID";
	case 0xa0: return "CKR_PIN_INCORRECT";
	case 0xb3: return "CKR_SESSION_HANDLE_INVALID";
	case 0xe0: return "CKR_TOKEN_NOT_PRESENT";
	case 0x100: return "CKR_USER_ALREADY_LOGGED_IN";
	case 0x101: return "CKR_USER_NOT_LOGGED_IN";
	case 0x190: return "CKR_CRYPTOKI_NOT_INITIALIZED";
	case 0x191: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
	}
	snprintf(buf, sizeof buf, "CKR_0x%lx", rv);
	return buf;
}

static int craton_mapped(void)
{
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "libcraton"))
			found = 1;
	fclose(f);
	return found;
}

/* sign_once WHO ...: 0 on success, writes OUTDIR/NAME.sig. */
static int sign_once(const char *who, const char *pin, const char *label, const unsigned char *data,
		     CK_ULONG data_len, const char *out_path)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	CK_SLOT_ID slot = 0;
	int have_slot = 0;
	CK_RV rv = p11->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		printf("%s: C_GetSlotList: %s\n", who, rv_name(rv));
		return -1;
	}
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p11->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.manufacturerID, "Craton ", 7) == 0) {
			slot = slots[i];
			have_slot = 1;
			break;
		}
	}
	if (!have_slot) {
		printf("%s: no Craton token among %lu slot(s) with a token\n", who, n);
		return -1;
	}
	CK_SESSION_HANDLE s;
	rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		printf("%s: C_OpenSession: %s\n", who, rv_name(rv));
		return -1;
	}
	int ret = -1;
	rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		printf("%s: C_Login: %s\n", who, rv_name(rv));
		goto out;
	}
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = {
		{CKA_CLASS, &cls, sizeof cls},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE key, more[2];
	CK_ULONG found = 0;
	if ((rv = p11->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK ||
	    (rv = p11->C_FindObjects(s, more, 2, &found)) != CKR_OK) {
		printf("%s: C_FindObjects: %s\n", who, rv_name(rv));
		goto out;
	}
	p11->C_FindObjectsFinal(s);
	if (found != 1) {
		printf("%s: %lu private keys labelled %s (want 1)\n", who, found, label);
		goto out;
	}
	key = more[0];
	CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
	unsigned char sig[1024];
	CK_ULONG sig_len = sizeof sig;
	if ((rv = p11->C_SignInit(s, &mech, key)) != CKR_OK ||
	    (rv = p11->C_Sign(s, (CK_BYTE *)data, data_len, sig, &sig_len)) != CKR_OK) {
		printf("%s: C_SignInit/C_Sign: %s\n", who, rv_name(rv));
		goto out;
	}
	FILE *f = fopen(out_path, "wb");
	if (!f || fwrite(sig, 1, sig_len, f) != sig_len || fclose(f) != 0) {
		printf("%s: cannot write %s\n", who, out_path);
		goto out;
	}
	printf("%s: signed %lu bytes with slot %lu -> %s\n", who, sig_len, slot, out_path);
	ret = 0;
out:
	p11->C_CloseSession(s);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s MODULE PIN KEY-LABEL INFILE OUTDIR\n", argv[0]);
		return 64;
	}
	const char *module = argv[1], *pin = argv[2], *label = argv[3], *in = argv[4], *outdir = argv[5];
	setvbuf(stdout, NULL, _IOLBF, 0);

	unsigned char data[65536];
	FILE *f = fopen(in, "rb");
	if (!f) {
		perror(in);
		return 64;
	}
	size_t data_len = fread(data, 1, sizeof data, f);
	fclose(f);

	void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		printf("parent: dlopen: %s\n", dlerror());
		return 2;
	}
	CK_RV (*get_list)(CK_FUNCTION_LIST **) = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(h, "C_GetFunctionList");
	if (!get_list || get_list(&p11) != CKR_OK) {
		printf("parent: C_GetFunctionList failed\n");
		return 2;
	}
	CK_RV rv = p11->C_Initialize(NULL);
	printf("parent: C_Initialize: %s\n", rv_name(rv));
	if (rv != CKR_OK)
		return 2;
	printf("parent: libcraton mapped in this process: %s\n", craton_mapped() == 1 ? "yes" : "no");

	char path[4096];
	snprintf(path, sizeof path, "%s/parent-before.sig", outdir);
	if (sign_once("parent", pin, label, data, data_len, path) != 0)
		return 2;

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		alarm(30);
		rv = p11->C_Initialize(NULL);
		printf("child: C_Initialize: %s\n", rv_name(rv));
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
			_exit(3);
		snprintf(path, sizeof path, "%s/child.sig", outdir);
		if (sign_once("child", pin, label, data, data_len, path) != 0)
			_exit(4);
		rv = p11->C_Finalize(NULL);
		printf("child: C_Finalize: %s\n", rv_name(rv));
		_exit(0);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		return 2;
	}
	int child_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (WIFEXITED(st))
		printf("parent: child exited with status %d\n", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("parent: child killed by signal %d%s\n", WTERMSIG(st),
		       WTERMSIG(st) == SIGALRM ? " (alarm: it hung)" : "");

	snprintf(path, sizeof path, "%s/parent-after.sig", outdir);
	if (sign_once("parent", pin, label, data, data_len, path) != 0)
		return 2;
	rv = p11->C_Finalize(NULL);
	printf("parent: C_Finalize: %s\n", rv_name(rv));
	return child_ok ? 0 : 1;
}
