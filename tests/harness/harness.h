/*
 * harness.h: what the C test harnesses of tests/harness/ share.
 *
 *   - the PKCS#11 constants they use (cmd/libcraton/pkcs11.h declares the
 *     types and function lists but only the few constants the library's own
 *     C files need);
 *   - CK_RV names for messages;
 *   - a scratch token store: a temp dir holding a configuration file that
 *     CRATON_CONF points to; the test runs in a re-exec'd child so that the
 *     library sees the variable (see h_scratch_store), and the wrapper
 *     removes the dir at the end;
 *   - loading libcraton.so ($CRATON_SO, else ./libcraton.so) and preparing
 *     the token (SO PIN 12345678, user PIN 87654321);
 *   - pass/fail counting.
 *
 * Not a test by itself: the Makefile builds only the .c files of this
 * directory.
 */
#ifndef CRATON_HARNESS_H
#define CRATON_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11.h"

#define H_FN static __attribute__((unused))

/* ---- Constants (OASIS PKCS#11 3.0 values) ------------------------------ */

#define CK_UNAVAILABLE_INFORMATION (~0UL)
#define CK_INVALID_HANDLE 0UL

#define CKR_CANCEL 0x00000001UL
#define CKR_HOST_MEMORY 0x00000002UL
#define CKR_SLOT_ID_INVALID 0x00000003UL
#define CKR_FUNCTION_FAILED 0x00000006UL
#define CKR_NO_EVENT 0x00000008UL
#define CKR_NEED_TO_CREATE_THREADS 0x00000009UL
#define CKR_CANT_LOCK 0x0000000AUL
#define CKR_ATTRIBUTE_READ_ONLY 0x00000010UL
#define CKR_ATTRIBUTE_SENSITIVE 0x00000011UL
#define CKR_ATTRIBUTE_TYPE_INVALID 0x00000012UL
#define CKR_ATTRIBUTE_VALUE_INVALID 0x00000013UL
#define CKR_ACTION_PROHIBITED 0x0000001BUL
#define CKR_DATA_INVALID 0x00000020UL
#define CKR_DATA_LEN_RANGE 0x00000021UL
#define CKR_DEVICE_ERROR 0x00000030UL
#define CKR_DEVICE_MEMORY 0x00000031UL
#define CKR_DEVICE_REMOVED 0x00000032UL
#define CKR_AEAD_DECRYPT_FAILED 0x00000035UL
#define CKR_ENCRYPTED_DATA_INVALID 0x00000040UL
#define CKR_ENCRYPTED_DATA_LEN_RANGE 0x00000041UL
#define CKR_FUNCTION_CANCELED 0x00000050UL
#define CKR_FUNCTION_NOT_PARALLEL 0x00000051UL
#define CKR_FUNCTION_NOT_SUPPORTED 0x00000054UL
#define CKR_KEY_HANDLE_INVALID 0x00000060UL
#define CKR_KEY_SIZE_RANGE 0x00000062UL
#define CKR_KEY_TYPE_INCONSISTENT 0x00000063UL
#define CKR_KEY_NOT_NEEDED 0x00000064UL
#define CKR_KEY_CHANGED 0x00000065UL
#define CKR_KEY_NEEDED 0x00000066UL
#define CKR_KEY_INDIGESTIBLE 0x00000067UL
#define CKR_KEY_FUNCTION_NOT_PERMITTED 0x00000068UL
#define CKR_KEY_NOT_WRAPPABLE 0x00000069UL
#define CKR_KEY_UNEXTRACTABLE 0x0000006AUL
#define CKR_MECHANISM_INVALID 0x00000070UL
#define CKR_MECHANISM_PARAM_INVALID 0x00000071UL
#define CKR_OBJECT_HANDLE_INVALID 0x00000082UL
#define CKR_OPERATION_ACTIVE 0x00000090UL
#define CKR_OPERATION_NOT_INITIALIZED 0x00000091UL
#define CKR_PIN_INCORRECT 0x000000A0UL
#define CKR_PIN_INVALID 0x000000A1UL
#define CKR_PIN_LEN_RANGE 0x000000A2UL
#define CKR_PIN_EXPIRED 0x000000A3UL
#define CKR_PIN_LOCKED 0x000000A4UL
#define CKR_SESSION_CLOSED 0x000000B0UL
#define CKR_SESSION_COUNT 0x000000B1UL
#define CKR_SESSION_HANDLE_INVALID 0x000000B3UL
#define CKR_SESSION_PARALLEL_NOT_SUPPORTED 0x000000B4UL
#define CKR_SESSION_READ_ONLY 0x000000B5UL
#define CKR_SESSION_EXISTS 0x000000B6UL
#define CKR_SESSION_READ_ONLY_EXISTS 0x000000B7UL
#define CKR_SESSION_READ_WRITE_SO_EXISTS 0x000000B8UL
#define CKR_SIGNATURE_INVALID 0x000000C0UL
#define CKR_SIGNATURE_LEN_RANGE 0x000000C1UL
#define CKR_TEMPLATE_INCOMPLETE 0x000000D0UL
#define CKR_TEMPLATE_INCONSISTENT 0x000000D1UL
#define CKR_TOKEN_NOT_PRESENT 0x000000E0UL
#define CKR_TOKEN_NOT_RECOGNIZED 0x000000E1UL
#define CKR_TOKEN_WRITE_PROTECTED 0x000000E2UL
#define CKR_UNWRAPPING_KEY_HANDLE_INVALID 0x000000F0UL
#define CKR_UNWRAPPING_KEY_SIZE_RANGE 0x000000F1UL
#define CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT 0x000000F2UL
#define CKR_USER_ALREADY_LOGGED_IN 0x00000100UL
#define CKR_USER_NOT_LOGGED_IN 0x00000101UL
#define CKR_USER_PIN_NOT_INITIALIZED 0x00000102UL
#define CKR_USER_TYPE_INVALID 0x00000103UL
#define CKR_USER_ANOTHER_ALREADY_LOGGED_IN 0x00000104UL
#define CKR_USER_TOO_MANY_TYPES 0x00000105UL
#define CKR_WRAPPED_KEY_INVALID 0x00000110UL
#define CKR_WRAPPED_KEY_LEN_RANGE 0x00000112UL
#define CKR_WRAPPING_KEY_HANDLE_INVALID 0x00000113UL
#define CKR_WRAPPING_KEY_SIZE_RANGE 0x00000114UL
#define CKR_WRAPPING_KEY_TYPE_INCONSISTENT 0x00000115UL
#define CKR_RANDOM_SEED_NOT_SUPPORTED 0x00000120UL
#define CKR_RANDOM_NO_RNG 0x00000121UL
#define CKR_DOMAIN_PARAMS_INVALID 0x00000130UL
#define CKR_CURVE_NOT_SUPPORTED 0x00000140UL
#define CKR_SAVED_STATE_INVALID 0x00000160UL
#define CKR_INFORMATION_SENSITIVE 0x00000170UL
#define CKR_STATE_UNSAVEABLE 0x00000180UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x00000190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x00000191UL
#define CKR_MUTEX_BAD 0x000001A0UL
#define CKR_MUTEX_NOT_LOCKED 0x000001A1UL
#define CKR_PIN_TOO_WEAK 0x000001B8UL
#define CKR_FUNCTION_REJECTED 0x00000200UL
#define CKR_TOKEN_RESOURCE_EXCEEDED 0x00000201UL
#define CKR_OPERATION_CANCEL_FAILED 0x00000202UL

#define CKF_LIBRARY_CANT_CREATE_OS_THREADS 0x00000001UL
#define CKF_OS_LOCKING_OK 0x00000002UL
#define CKF_DONT_BLOCK 0x00000001UL
#define CKF_TOKEN_PRESENT 0x00000001UL
#define CKF_RW_SESSION 0x00000002UL
#define CKF_SERIAL_SESSION 0x00000004UL
#define CKF_USER_PIN_INITIALIZED 0x00000008UL
#define CKF_TOKEN_INITIALIZED 0x00000400UL
#define CKF_FIND_OBJECTS 0x00000040UL

#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKU_CONTEXT_SPECIFIC 2UL

#define CKS_RO_PUBLIC_SESSION 0UL
#define CKS_RO_USER_FUNCTIONS 1UL
#define CKS_RW_PUBLIC_SESSION 2UL
#define CKS_RW_USER_FUNCTIONS 3UL
#define CKS_RW_SO_FUNCTIONS 4UL

#define CKO_DATA 0UL
#define CKO_SECRET_KEY 4UL
#define CKK_AES 0x1FUL

#define CKA_CLASS 0x000UL
#define CKA_TOKEN 0x001UL
#define CKA_PRIVATE 0x002UL
#define CKA_LABEL 0x003UL
#define CKA_APPLICATION 0x010UL
#define CKA_VALUE 0x011UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_VALUE_LEN 0x161UL
#define CKA_EXTRACTABLE 0x162UL
#define CKA_MODIFIABLE 0x170UL
#define CKA_VENDOR_DEFINED 0x80000000UL

#define CKM_SHA256 0x250UL

/* ---- CK_RV names -------------------------------------------------------- */

H_FN const char *rv_name(CK_RV rv)
{
	static __thread char buf[32];
	switch (rv) {
#define N(x) \
	case x: \
		return #x;
		N(CKR_OK)
		N(CKR_CANCEL)
		N(CKR_HOST_MEMORY)
		N(CKR_SLOT_ID_INVALID)
		N(CKR_GENERAL_ERROR)
		N(CKR_FUNCTION_FAILED)
		N(CKR_ARGUMENTS_BAD)
		N(CKR_NO_EVENT)
		N(CKR_NEED_TO_CREATE_THREADS)
		N(CKR_CANT_LOCK)
		N(CKR_ATTRIBUTE_READ_ONLY)
		N(CKR_ATTRIBUTE_SENSITIVE)
		N(CKR_ATTRIBUTE_TYPE_INVALID)
		N(CKR_ATTRIBUTE_VALUE_INVALID)
		N(CKR_ACTION_PROHIBITED)
		N(CKR_DATA_INVALID)
		N(CKR_DATA_LEN_RANGE)
		N(CKR_DEVICE_ERROR)
		N(CKR_DEVICE_MEMORY)
		N(CKR_DEVICE_REMOVED)
		N(CKR_AEAD_DECRYPT_FAILED)
		N(CKR_ENCRYPTED_DATA_INVALID)
		N(CKR_ENCRYPTED_DATA_LEN_RANGE)
		N(CKR_FUNCTION_CANCELED)
		N(CKR_FUNCTION_NOT_PARALLEL)
		N(CKR_FUNCTION_NOT_SUPPORTED)
		N(CKR_KEY_HANDLE_INVALID)
		N(CKR_KEY_SIZE_RANGE)
		N(CKR_KEY_TYPE_INCONSISTENT)
		N(CKR_KEY_NOT_NEEDED)
		N(CKR_KEY_CHANGED)
		N(CKR_KEY_NEEDED)
		N(CKR_KEY_INDIGESTIBLE)
		N(CKR_KEY_FUNCTION_NOT_PERMITTED)
		N(CKR_KEY_NOT_WRAPPABLE)
		N(CKR_KEY_UNEXTRACTABLE)
		N(CKR_MECHANISM_INVALID)
		N(CKR_MECHANISM_PARAM_INVALID)
		N(CKR_OBJECT_HANDLE_INVALID)
		N(CKR_OPERATION_ACTIVE)
		N(CKR_OPERATION_NOT_INITIALIZED)
		N(CKR_PIN_INCORRECT)
		N(CKR_PIN_INVALID)
		N(CKR_PIN_LEN_RANGE)
		N(CKR_PIN_EXPIRED)
		N(CKR_PIN_LOCKED)
		N(CKR_SESSION_CLOSED)
		N(CKR_SESSION_COUNT)
		N(CKR_SESSION_HANDLE_INVALID)
		N(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
		N(CKR_SESSION_READ_ONLY)
		N(CKR_SESSION_EXISTS)
		N(CKR_SESSION_READ_ONLY_EXISTS)
		N(CKR_SESSION_READ_WRITE_SO_EXISTS)
		N(CKR_SIGNATURE_INVALID)
		N(CKR_SIGNATURE_LEN_RANGE)
		N(CKR_TEMPLATE_INCOMPLETE)
		N(CKR_TEMPLATE_INCONSISTENT)
		N(CKR_TOKEN_NOT_PRESENT)
		N(CKR_TOKEN_NOT_RECOGNIZED)
		N(CKR_TOKEN_WRITE_PROTECTED)
		N(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
		N(CKR_UNWRAPPING_KEY_SIZE_RANGE)
		N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
		N(CKR_USER_ALREADY_LOGGED_IN)
		N(CKR_USER_NOT_LOGGED_IN)
		N(CKR_USER_PIN_NOT_INITIALIZED)
		N(CKR_USER_TYPE_INVALID)
		N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)
		N(CKR_USER_TOO_MANY_TYPES)
		N(CKR_WRAPPED_KEY_INVALID)
		N(CKR_WRAPPED_KEY_LEN_RANGE)
		N(CKR_WRAPPING_KEY_HANDLE_INVALID)
		N(CKR_WRAPPING_KEY_SIZE_RANGE)
		N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)
		N(CKR_RANDOM_SEED_NOT_SUPPORTED)
		N(CKR_RANDOM_NO_RNG)
		N(CKR_DOMAIN_PARAMS_INVALID)
		N(CKR_CURVE_NOT_SUPPORTED)
		N(CKR_BUFFER_TOO_SMALL)
		N(CKR_SAVED_STATE_INVALID)
		N(CKR_INFORMATION_SENSITIVE)
		N(CKR_STATE_UNSAVEABLE)
		N(CKR_CRYPTOKI_NOT_INITIALIZED)
		N(CKR_CRYPTOKI_ALREADY_INITIALIZED)
		N(CKR_MUTEX_BAD)
		N(CKR_MUTEX_NOT_LOCKED)
		N(CKR_PIN_TOO_WEAK)
		N(CKR_FUNCTION_REJECTED)
		N(CKR_TOKEN_RESOURCE_EXCEEDED)
		N(CKR_OPERATION_CANCEL_FAILED)
#undef N
	}
	snprintf(buf, sizeof buf, "CKR_0x%lx", rv);
	return buf;
}

/* ---- Pass/fail counting ------------------------------------------------- */

static const char *h_name = "harness";
static unsigned long h_passed, h_failed;
/* Calls made into the library (each harness counts its own). */
static unsigned long h_calls;

H_FN void h_fail(const char *fmt, ...)
{
	va_list ap;

	h_failed++;
	fprintf(stderr, "%s: FAIL: ", h_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

H_FN void h_pass(void) { h_passed++; }

/* h_expect checks got == want; what names the call. Returns 1 on a pass. */
H_FN int h_expect(const char *what, CK_RV got, CK_RV want)
{
	if (got == want) {
		h_pass();
		return 1;
	}
	h_fail("%s: got %s, want %s", what, rv_name(got), rv_name(want));
	return 0;
}

/* h_check records a boolean condition. */
H_FN int h_check(int ok, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	if (ok) {
		h_pass();
		return 1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	h_fail("%s", msg);
	return 0;
}

/* h_fatal reports a setup failure that makes going on pointless. */
H_FN void h_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FATAL: ", h_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* h_summary prints the final line and returns the exit status. */
H_FN int h_summary(void)
{
	printf("%s: %lu passed, %lu failed\n", h_name, h_passed, h_failed);
	fflush(stdout);
	return h_failed == 0 ? 0 : 1;
}

/* ---- Scratch store -------------------------------------------------------
 *
 * h_scratch_store(argv) is the first thing main does. It makes a temp dir
 * holding craton.toml, sets CRATON_CONF to it, and runs the test in a child:
 * fork, then exec of this same program, so that the variable is part of
 * the environment the test process starts with. The parent waits, removes
 * the temp dir and exits with the child's status.
 *
 * Why the exec: libcraton.so is a Go c-shared library, and its os.Getenv
 * reads the environment block the process started with, not glibc's current
 * environ. A variable that setenv() adds (rather than overwrites) before
 * dlopen is invisible to the library, which then silently opens the default
 * store under $HOME. (abi.c checks this as a library bug.)
 *
 * In the child (CRATON_HARNESS_DIR set) it only records the temp dir.
 */

static char h_tmpdir[256];
static int h_is_child; /* running the tests, under the wrapper */

static int h_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "%s: cannot remove %s: %s\n", h_name, path, strerror(errno));
	return 0;
}

/* h_remove_store removes the temp dir (the wrapper parent does it). */
H_FN void h_remove_store(void)
{
	if (h_is_child)
		return;
	if (h_tmpdir[0] != '\0')
		nftw(h_tmpdir, h_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	h_tmpdir[0] = '\0';
}

/* h_write_config writes a configuration file whose store is store_dir. */
H_FN void h_write_config(const char *conf, const char *store_dir)
{
	FILE *f = fopen(conf, "w");

	if (f == NULL)
		h_fatal("%s: %s", conf, strerror(errno));
	fprintf(f,
	        "[store]\n"
	        "path = \"%s\"\n"
	        "[pin]\n"
	        "kdf_iterations = 1000\n"
	        "max_failures = 10\n"
	        "[log]\n"
	        "level = \"error\"\n",
	        store_dir);
	if (fclose(f) != 0)
		h_fatal("%s: %s", conf, strerror(errno));
}

H_FN void h_scratch_store(char **argv)
{
	const char *dir = getenv("CRATON_HARNESS_DIR");
	char conf[512], store[512];
	pid_t pid;
	int st;

	if (dir != NULL && dir[0] != '\0') {
		h_is_child = 1;
		snprintf(h_tmpdir, sizeof h_tmpdir, "%s", dir);
		snprintf(conf, sizeof conf, "%s/craton.toml", h_tmpdir);
		if (getenv("CRATON_CONF") == NULL || strcmp(getenv("CRATON_CONF"), conf) != 0)
			h_fatal("CRATON_CONF is not %s", conf);
		return;
	}
	snprintf(h_tmpdir, sizeof h_tmpdir, "/tmp/craton-%s-XXXXXX", h_name);
	if (mkdtemp(h_tmpdir) == NULL)
		h_fatal("mkdtemp: %s", strerror(errno));
	snprintf(conf, sizeof conf, "%s/craton.toml", h_tmpdir);
	snprintf(store, sizeof store, "%s/store", h_tmpdir);
	h_write_config(conf, store);
	/* Environment overrides would point the token somewhere else. */
	unsetenv("CRATON_STORE_PATH");
	unsetenv("CRATON_LOG_LEVEL");
	unsetenv("CRATON_LOG_FILE");
	unsetenv("CRATON_FIPS_MODE");
	if (setenv("CRATON_CONF", conf, 1) != 0 || setenv("CRATON_HARNESS_DIR", h_tmpdir, 1) != 0)
		h_fatal("setenv: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		h_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		fprintf(stderr, "%s: exec /proc/self/exe: %s\n", h_name, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			h_fatal("waitpid: %s", strerror(errno));
	h_remove_store();
	if (WIFEXITED(st))
		exit(WEXITSTATUS(st));
	fprintf(stderr, "%s: the test process died of signal %d (%s)\n", h_name, WTERMSIG(st),
	        strsignal(WTERMSIG(st)));
	printf("%s: 0 passed, 1 failed\n", h_name);
	exit(1);
}

/* h_store_in_use: the library opened the scratch store (C_Initialize
 * creates the store directory). Checked before anything writes a token. */
H_FN int h_store_in_use(void)
{
	char store[512];
	struct stat sb;

	snprintf(store, sizeof store, "%s/store", h_tmpdir);
	return stat(store, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ---- Loading the library ------------------------------------------------ */

static void *h_lib;

/* h_load dlopens the library and returns its 3.0 function list, found
 * through C_GetInterface (version 3.0). */
H_FN CK_FUNCTION_LIST_3_0 *h_load(void)
{
	const char *so = getenv("CRATON_SO");
	CK_C_GetInterface getIface;
	CK_INTERFACE *iface = NULL;
	CK_VERSION v30 = {3, 0};
	CK_RV rv;

	if (so == NULL || so[0] == '\0')
		so = "./libcraton.so";
	h_lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (h_lib == NULL)
		h_fatal("dlopen %s: %s", so, dlerror());
	*(void **)&getIface = dlsym(h_lib, "C_GetInterface");
	if (getIface == NULL)
		h_fatal("%s has no C_GetInterface", so);
	h_calls++;
	rv = getIface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0);
	if (rv != CKR_OK || iface == NULL || iface->pFunctionList == NULL)
		h_fatal("C_GetInterface(\"PKCS 11\", 3.0): %s", rv_name(rv));
	return (CK_FUNCTION_LIST_3_0 *)iface->pFunctionList;
}

/* ---- Token preparation ---------------------------------------------------- */

#define H_SO_PIN "12345678"
#define H_USER_PIN "87654321"

H_FN void h_pad(CK_UTF8CHAR *dst, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(dst, ' ', n);
	memcpy(dst, s, l < n ? l : n);
}

/* h_prepare_token initialises slot 0's token and sets the user PIN. */
H_FN void h_prepare_token(CK_FUNCTION_LIST_3_0 *f, const char *label)
{
	CK_UTF8CHAR lab[32];
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (!h_store_in_use())
		h_fatal("libcraton.so did not open the scratch store %s/store (CRATON_CONF ignored?); "
		        "refusing to initialise whatever token it opened",
		        h_tmpdir);
	h_pad(lab, sizeof lab, label);
	h_calls += 6;
	rv = f->C_InitToken(0, (CK_UTF8CHAR_PTR)H_SO_PIN, 8, lab);
	if (rv != CKR_OK)
		h_fatal("C_InitToken: %s", rv_name(rv));
	rv = f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		h_fatal("C_OpenSession: %s", rv_name(rv));
	rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)H_SO_PIN, 8);
	if (rv != CKR_OK)
		h_fatal("C_Login(SO): %s", rv_name(rv));
	rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)H_USER_PIN, 8);
	if (rv != CKR_OK)
		h_fatal("C_InitPIN: %s", rv_name(rv));
	rv = f->C_Logout(s);
	if (rv != CKR_OK)
		h_fatal("C_Logout: %s", rv_name(rv));
	rv = f->C_CloseSession(s);
	if (rv != CKR_OK)
		h_fatal("C_CloseSession: %s", rv_name(rv));
}

/* ==== Parameter names ======================================================
 *
 * Every parameter name of pkcs11.h's function X-macros, by kind: pointers,
 * lengths and counts, object handles. The harnesses declare a variable for
 * each, so that "F->C_Name args" compiles for every function.
 */
#define PTR_ARGS(X) \
	X(pApplication) X(pAssociatedData) X(pCiphertext) X(pCiphertextPart) X(pData) X(pDigest) \
	X(pEncryptedData) X(pEncryptedPart) X(pInfo) X(pInitArgs) X(pInterfaceName) \
	X(pInterfacesList) X(pLabel) X(pLastEncryptedPart) X(pLastPart) X(pMechanism) \
	X(pMechanismList) X(pNewPin) X(pOldPin) X(pOperationState) X(pParameter) X(pPart) X(pPin) \
	X(pPlaintext) X(pPlaintextPart) X(pPrivateKeyTemplate) X(pPublicKeyTemplate) \
	X(pRandomData) X(pReserved) X(pSeed) X(pSignature) X(pSlot) X(pSlotList) X(pTemplate) \
	X(pUsername) X(pVersion) X(pWrappedKey) X(phKey) X(phNewObject) X(phObject) \
	X(phPrivateKey) X(phPublicKey) X(phSession) X(ppFunctionList) X(ppInterface) \
	X(pulCiphertextLen) X(pulCiphertextPartLen) X(pulCount) X(pulDataLen) X(pulDigestLen) \
	X(pulEncryptedDataLen) X(pulEncryptedPartLen) X(pulLastEncryptedPartLen) \
	X(pulLastPartLen) X(pulObjectCount) X(pulOperationStateLen) X(pulPartLen) \
	X(pulPlaintextLen) X(pulPlaintextPartLen) X(pulSignatureLen) X(pulSize) \
	X(pulWrappedKeyLen)

/* Lengths and counts. */
#define LEN_ARGS(X) \
	X(ulAssociatedDataLen) X(ulAttributeCount) X(ulCiphertextLen) X(ulCiphertextPartLen) \
	X(ulCount) X(ulDataLen) X(ulEncryptedDataLen) X(ulEncryptedPartLen) X(ulMaxObjectCount) \
	X(ulNewLen) X(ulOldLen) X(ulOperationStateLen) X(ulParameterLen) X(ulPartLen) \
	X(ulPinLen) X(ulPlaintextLen) X(ulPlaintextPartLen) X(ulPrivateKeyAttributeCount) \
	X(ulPublicKeyAttributeCount) X(ulRandomLen) X(ulSeedLen) X(ulSignatureLen) \
	X(ulUsernameLen) X(ulWrappedKeyLen)

/* Object handles. */
#define OBJ_ARGS(X) \
	X(hAuthenticationKey) X(hBaseKey) X(hEncryptionKey) X(hKey) X(hObject) X(hUnwrappingKey) \
	X(hWrappingKey)

#endif /* CRATON_HARNESS_H */
