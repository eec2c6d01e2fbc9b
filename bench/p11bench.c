/*
 * p11bench: a PKCS#11 throughput benchmark that runs several modules side by
 * side in one run (Craton and SoftHSMv2), plus a Go "ceiling" process that
 * calls the same primitives directly (bench/ceiling).
 *
 *   p11bench run [options] NAME=[KIND:]/abs/module.so ...
 *
 * KIND is craton or softhsm2 (guessed from NAME when omitted); it only says
 * how to write the scratch configuration (CRATON_CONF or SOFTHSM2_CONF).
 * Options:
 *   --time S        seconds per measurement (default 2)
 *   --warmup S      unmeasured seconds before each measurement (default 0.2)
 *   --threads LIST  thread counts, one session per thread (default 1,2)
 *   --only LIST     run only these workloads (comma-separated names)
 *   --objects A,B   object counts of the two search stores (default 1000,10000)
 *   --ceiling [NAME=]PATH  a Go ceiling binary (optional, repeatable; NAME
 *                   defaults to "Go ceiling")
 *   --rounds N      split each measurement into N rounds, the modules taking
 *                   turns round by round (default 4)
 *   --out DIR       where results.csv and results.md go (default .)
 *   --scratch DIR   parent of the scratch stores (default $TMPDIR or /tmp)
 *   --keep          keep the scratch stores
 *
 * How a run goes:
 *   1. For each module, a "setup" child (this binary, re-executed) creates
 *      three scratch tokens, each in its own store: "main" (the keys: RSA-2048,
 *      P-256, P-384, Ed25519, AES-256, a 32-byte HMAC key; all token objects),
 *      "small" and "large" (A and B public data objects labelled obj-NNNNN).
 *   2. The parent measures each store's size on disk, then runs "probe"
 *      children that report RSS after C_Initialize and after touching every
 *      object of a store (RSS growth per object).
 *   3. One long-lived "worker" child per module (and the ceiling) loads the
 *      module by absolute path (dlopen + C_GetFunctionList), logs in and
 *      waits for commands on stdin. For each workload and thread count the
 *      parent asks each worker in turn (rotating who goes first), so modules
 *      alternate and share the machine's noise. Each worker checks the
 *      workload's result once (a signature verifies and a tampered one does
 *      not, a ciphertext decrypts, a digest matches an independent SHA-256, a
 *      search finds exactly its object), warms up, then runs it for the fixed
 *      time and answers with the operation count.
 *   4. Each worker reports its peak RSS (getrusage ru_maxrss), so the RSS of
 *      one module never includes the other's.
 *
 * Wire protocol between parent and workers (also spoken by bench/ceiling):
 *   worker -> "READY <description>"
 *   parent -> "RUN <workload> <threads> <seconds> <warmup>"
 *   worker -> "RESULT <workload> <threads> <ops> <elapsed-seconds> <status>"
 *             status: ok | na:<why> | err:<why>   (no spaces)
 *   parent -> "RSS"   worker -> "RSS <maxrss-KiB>"
 *   parent -> "QUIT"
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11.h"
#include "sha256.h"

/* ---- PKCS#11 constants and parameter structures (OASIS 3.0 values) ----- */

#define CKR_FUNCTION_FAILED 0x06UL
#define CKR_KEY_TYPE_INCONSISTENT 0x63UL
#define CKR_MECHANISM_INVALID 0x70UL
#define CKR_MECHANISM_PARAM_INVALID 0x71UL
#define CKR_SIGNATURE_INVALID 0xC0UL
#define CKR_SIGNATURE_LEN_RANGE 0xC1UL
#define CKR_TEMPLATE_INCONSISTENT 0xD1UL
#define CKR_ATTRIBUTE_VALUE_INVALID 0x13UL
#define CKR_DOMAIN_PARAMS_INVALID 0x130UL
#define CKR_CURVE_NOT_SUPPORTED 0x140UL
#define CKR_FUNCTION_NOT_SUPPORTED 0x54UL
/* Vendor-range codes the benchmark uses for its own checks. */
#define BENCH_BAD_RESULT 0x8BE0C001UL
#define BENCH_BAD_COUNT 0x8BE0C002UL

#define CKF_RW_SESSION 0x02UL
#define CKF_SERIAL_SESSION 0x04UL
#define CKF_OS_LOCKING_OK 0x02UL
#define CKF_TOKEN_INITIALIZED 0x400UL
#define CKU_SO 0UL
#define CKU_USER 1UL

#define CKO_DATA 0UL
#define CKO_PUBLIC_KEY 2UL
#define CKO_PRIVATE_KEY 3UL
#define CKO_SECRET_KEY 4UL
#define CKK_GENERIC_SECRET 0x10UL
#define CKK_AES 0x1FUL

#define CKA_CLASS 0x00UL
#define CKA_TOKEN 0x01UL
#define CKA_PRIVATE 0x02UL
#define CKA_LABEL 0x03UL
#define CKA_APPLICATION 0x10UL
#define CKA_VALUE 0x11UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_ID 0x102UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_VALUE_LEN 0x161UL
#define CKA_EXTRACTABLE 0x162UL
#define CKA_EC_PARAMS 0x180UL

#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x00UL
#define CKM_RSA_PKCS_OAEP 0x09UL
#define CKM_SHA256_RSA_PKCS 0x40UL
#define CKM_SHA256_RSA_PKCS_PSS 0x43UL
#define CKM_SHA_1 0x220UL
#define CKM_SHA256 0x250UL
#define CKM_SHA256_HMAC 0x251UL
#define CKM_GENERIC_SECRET_KEY_GEN 0x350UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL
#define CKM_ECDSA_SHA256 0x1044UL
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#define CKM_EDDSA 0x1057UL
#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_CBC_PAD 0x1085UL
#define CKM_AES_GCM 0x1087UL
#define CKG_MGF1_SHA1 0x01UL
#define CKG_MGF1_SHA256 0x02UL
#define CKZ_DATA_SPECIFIED 0x01UL

typedef struct {
	CK_MECHANISM_TYPE hashAlg;
	CK_ULONG mgf;
	CK_ULONG sLen;
} BENCH_PSS_PARAMS;

typedef struct {
	CK_MECHANISM_TYPE hashAlg;
	CK_ULONG mgf;
	CK_ULONG source;
	CK_VOID_PTR pSourceData;
	CK_ULONG ulSourceDataLen;
} BENCH_OAEP_PARAMS;

typedef struct {
	CK_BYTE_PTR pIv;
	CK_ULONG ulIvLen;
	CK_ULONG ulIvBits;
	CK_BYTE_PTR pAAD;
	CK_ULONG ulAADLen;
	CK_ULONG ulTagBits;
} BENCH_GCM_PARAMS;

/* ---- Small utilities ---------------------------------------------------- */

#define MAXT 16
#define MAXMOD 8
#define MAXRD 64 /* rounds */
#define BIGBUF (1024 * 1024)
#define OUTBUF (BIGBUF + 256)

static const char *g_prog = "p11bench";

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", g_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		die("out of memory");
	return p;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *rvname(CK_RV rv)
{
	static __thread char buf[32];
	switch (rv) {
	case 0x00: return "CKR_OK";
	case 0x05: return "CKR_GENERAL_ERROR";
	case 0x06: return "CKR_FUNCTION_FAILED";
	case 0x07: return "CKR_ARGUMENTS_BAD";
	case 0x13: return "CKR_ATTRIBUTE_VALUE_INVALID";
	case 0x20: return "CKR_DATA_INVALID";
	case 0x21: return "CKR_DATA_LEN_RANGE";
	case 0x40: return "CKR_ENCRYPTED_DATA_INVALID";
	case 0x54: return "CKR_FUNCTION_NOT_SUPPORTED";
	case 0x60: return "CKR_KEY_HANDLE_INVALID";
	case 0x63: return "CKR_KEY_TYPE_INCONSISTENT";
	case 0x68: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case 0x70: return "CKR_MECHANISM_INVALID";
	case 0x71: return "CKR_MECHANISM_PARAM_INVALID";
	case 0x82: return "CKR_OBJECT_HANDLE_INVALID";
	case 0x90: return "CKR_OPERATION_ACTIVE";
	case 0xA0: return "CKR_PIN_INCORRECT";
	case 0xB3: return "CKR_SESSION_HANDLE_INVALID";
	case 0xC0: return "CKR_SIGNATURE_INVALID";
	case 0xC1: return "CKR_SIGNATURE_LEN_RANGE";
	case 0xD1: return "CKR_TEMPLATE_INCONSISTENT";
	case 0x101: return "CKR_USER_NOT_LOGGED_IN";
	case 0x130: return "CKR_DOMAIN_PARAMS_INVALID";
	case 0x140: return "CKR_CURVE_NOT_SUPPORTED";
	case 0x150: return "CKR_BUFFER_TOO_SMALL";
	case 0x190: return "CKR_CRYPTOKI_NOT_INITIALIZED";
	case 0x191: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
	case BENCH_BAD_RESULT: return "BENCH_BAD_RESULT";
	case BENCH_BAD_COUNT: return "BENCH_BAD_COUNT";
	}
	snprintf(buf, sizeof buf, "CKR_0x%lX", (unsigned long)rv);
	return buf;
}

static void mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				die("mkdir %s: %s", tmp, strerror(errno));
			*p = '/';
		}
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		die("mkdir %s: %s", tmp, strerror(errno));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("write %s: %s", path, strerror(errno));
}

/* dir_size: the apparent size in bytes of every regular file under path;
 * *alloc (if not NULL) accumulates the bytes allocated on disk (st_blocks). */
static long long dir_size(const char *path, long long *alloc)
{
	DIR *d = opendir(path);
	long long total = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			total += dir_size(p, alloc);
		else if (S_ISREG(st.st_mode)) {
			total += st.st_size;
			if (alloc)
				*alloc += (long long)st.st_blocks * 512;
		}
	}
	closedir(d);
	return total;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char p[PATH_MAX];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* vmrss_kb: the current resident set size (VmRSS) of this process. */
static long vmrss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 17u + 7u) ^ (i >> 8));
}

/* ---- Stores and modules ------------------------------------------------- */

enum { S_MAIN, S_SMALL, S_LARGE, NSTORES, S_INITLARGE = 100 };
static const char *store_name[NSTORES] = {"main", "small", "large"};

#define SO_PIN "12345678"
#define USER_PIN "87654321"

typedef struct {
	char kind[16];     /* craton | softhsm2 */
	char path[PATH_MAX];
	char dir[PATH_MAX]; /* scratch dir of this module */
	long nobj[NSTORES];
	void *dl;
	CK_FUNCTION_LIST *f;
	int cur;            /* current store, -1: not initialised */
	CK_SLOT_ID slot;
	int nsess;
	CK_SESSION_HANDLE sess[MAXT];
	CK_OBJECT_HANDLE rsa_priv, rsa_pub, p256_priv, p256_pub, p384_priv, p384_pub;
	CK_OBJECT_HANDLE ed_priv, ed_pub, aes, hmac;
	int have_ed;
	/* Shared read-only inputs produced by the checks. */
	unsigned char msg64[64], dig32[32], dig48[48];
	unsigned char rsa_sig[512];
	CK_ULONG rsa_sig_len;
	unsigned char ec_sig[160];
	CK_ULONG ec_sig_len;
	unsigned char oaep_pt[32], oaep_ct[512];
	CK_ULONG oaep_ct_len;
	BENCH_OAEP_PARAMS oaep;
	uint64_t ivctr[MAXT]; /* per session slot, kept across runs: IVs never repeat */
	char notes[64][160];  /* per workload: the status of its last successful check */
} Mod;

static CK_C_INITIALIZE_ARGS g_init_args = {NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL};

static const char *conf_var(const Mod *m)
{
	return strcmp(m->kind, "craton") == 0 ? "CRATON_CONF" : "SOFTHSM2_CONF";
}

static void conf_path(const Mod *m, int s, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", m->dir, store_name[s],
	         strcmp(m->kind, "craton") == 0 ? "craton.toml" : "softhsm2.conf");
}

/* data_path: the directory that holds a store's files. */
static void data_path(const Mod *m, int s, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", m->dir, store_name[s],
	         strcmp(m->kind, "craton") == 0 ? "store" : "tokens");
}

static void write_confs(const Mod *m)
{
	for (int s = 0; s < NSTORES; s++) {
		char conf[PATH_MAX], data[PATH_MAX], text[2 * PATH_MAX];
		conf_path(m, s, conf, sizeof conf);
		data_path(m, s, data, sizeof data);
		mkdir_p(data);
		if (strcmp(m->kind, "craton") == 0)
			snprintf(text, sizeof text,
			         "# p11bench scratch store (%s)\n"
			         "fips_mode = false\n"
			         "[store]\npath = \"%s\"\n"
			         "[log]\nlevel = \"error\"\n"
			         "[pin]\nkdf_iterations = 1000\n",
			         store_name[s], data);
		else
			snprintf(text, sizeof text,
			         "# p11bench scratch store (%s)\n"
			         "directories.tokendir = %s\n"
			         "objectstore.backend = file\n"
			         "log.level = ERROR\n"
			         "slots.removable = false\n",
			         store_name[s], data);
		write_file(conf, text);
	}
}

static void mod_load(Mod *m)
{
	CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (!m->dl)
		die("dlopen %s: %s", m->path, dlerror());
	*(void **)&gfl = dlsym(m->dl, "C_GetFunctionList");
	if (!gfl)
		die("%s: no C_GetFunctionList", m->path);
	if (gfl(&m->f) != CKR_OK || !m->f)
		die("%s: C_GetFunctionList failed", m->path);
	m->cur = -1;
	/* Nothing from the caller's environment may redirect the scratch stores. */
	unsetenv("CRATON_STORE_PATH");
	unsetenv("CRATON_LOG_LEVEL");
	unsetenv("CRATON_LOG_FILE");
	unsetenv("CRATON_FIPS_MODE");
}

static void token_label(const char *s, CK_UTF8CHAR out[32])
{
	memset(out, ' ', 32);
	memcpy(out, s, strlen(s) < 32 ? strlen(s) : 32);
}

/* find_slot: the slot whose token carries label; (CK_SLOT_ID)-1 if none. */
static CK_SLOT_ID find_slot(Mod *m, const char *label)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_UTF8CHAR want[32];
	token_label(label, want);
	if (m->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return (CK_SLOT_ID)-1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (m->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED) && memcmp(ti.label, want, 32) == 0)
			return slots[i];
	}
	return (CK_SLOT_ID)-1;
}

static void must(CK_RV rv, const char *what)
{
	if (rv != CKR_OK)
		die("%s: %s", what, rvname(rv));
}

static void set_store_env(Mod *m, int s)
{
	char conf[PATH_MAX];
	conf_path(m, s, conf, sizeof conf);
	if (setenv(conf_var(m), conf, 1) != 0)
		die("setenv: %s", strerror(errno));
}

static void mod_close(Mod *m)
{
	if (m->cur >= 0 && m->cur != S_INITLARGE)
		m->f->C_Finalize(NULL);
	m->cur = -1;
	m->nsess = 0;
}

static CK_OBJECT_HANDLE find_one(Mod *m, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s = m->sess[0];
	must(m->f->C_FindObjectsInit(s, t, 2), "C_FindObjectsInit");
	must(m->f->C_FindObjects(s, h, 2, &n), "C_FindObjects");
	must(m->f->C_FindObjectsFinal(s), "C_FindObjectsFinal");
	return n == 1 ? h[0] : 0;
}

static void resolve_keys(Mod *m)
{
	m->rsa_priv = find_one(m, CKO_PRIVATE_KEY, "bench-rsa");
	m->rsa_pub = find_one(m, CKO_PUBLIC_KEY, "bench-rsa");
	m->p256_priv = find_one(m, CKO_PRIVATE_KEY, "bench-p256");
	m->p256_pub = find_one(m, CKO_PUBLIC_KEY, "bench-p256");
	m->p384_priv = find_one(m, CKO_PRIVATE_KEY, "bench-p384");
	m->p384_pub = find_one(m, CKO_PUBLIC_KEY, "bench-p384");
	m->ed_priv = find_one(m, CKO_PRIVATE_KEY, "bench-ed25519");
	m->ed_pub = find_one(m, CKO_PUBLIC_KEY, "bench-ed25519");
	m->aes = find_one(m, CKO_SECRET_KEY, "bench-aes");
	m->hmac = find_one(m, CKO_SECRET_KEY, "bench-hmac");
	m->have_ed = m->ed_priv && m->ed_pub;
	if (!m->rsa_priv || !m->rsa_pub || !m->p256_priv || !m->p256_pub || !m->p384_priv ||
	    !m->p384_pub || !m->aes || !m->hmac)
		die("%s: a benchmark key is missing from the main store", m->path);
}

/* use_store: finalise whatever is open and open store s with nsess logged-in
 * sessions (S_INITLARGE: leave the module finalised, configured for "large"). */
static void use_store(Mod *m, int s, int nsess)
{
	char label[40];
	if (m->cur == s && (s == S_INITLARGE || m->nsess >= nsess))
		return;
	mod_close(m);
	if (s == S_INITLARGE) {
		set_store_env(m, S_LARGE);
		m->cur = S_INITLARGE;
		return;
	}
	set_store_env(m, s);
	must(m->f->C_Initialize(&g_init_args), "C_Initialize");
	snprintf(label, sizeof label, "bench-%s", store_name[s]);
	m->slot = find_slot(m, label);
	if (m->slot == (CK_SLOT_ID)-1)
		die("%s: no token labelled %s", m->path, label);
	for (int i = 0; i < nsess; i++)
		must(m->f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
		                         &m->sess[i]),
		     "C_OpenSession");
	m->nsess = nsess;
	must(m->f->C_Login(m->sess[0], CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
	     "C_Login");
	m->cur = s;
	if (s == S_MAIN)
		resolve_keys(m);
}

/* ---- Setup: three scratch tokens per module ------------------------------ */

static const CK_BBOOL T = CK_TRUE, F = CK_FALSE;
#define A(t, v) {(t), (void *)&(v), sizeof(v)}
#define AS(t, s) {(t), (void *)(s), sizeof(s) - 1}
#define AB(t, b) {(t), (void *)(b), sizeof(b)}

static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const unsigned char str_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
                                            '2', '5', '5', '1', '9'};

static CK_RV gen_ec(Mod *m, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, const unsigned char *params,
                    size_t plen, const char *label, CK_BBOOL token, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mg = {mech, NULL, 0};
	CK_ATTRIBUTE pt[] = {A(CKA_TOKEN, token), A(CKA_VERIFY, T),
	                     {CKA_EC_PARAMS, (void *)params, plen},
	                     {CKA_LABEL, (void *)label, strlen(label)}};
	CK_ATTRIBUTE kt[] = {A(CKA_TOKEN, token), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
	                     A(CKA_SIGN, T), {CKA_LABEL, (void *)label, strlen(label)}};
	return m->f->C_GenerateKeyPair(s, &mg, pt, 4, kt, 5, pub, priv);
}

static void info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("INFO %s ", key);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static void setup_store(Mod *m, int s)
{
	char label[40];
	CK_UTF8CHAR lab[32];
	CK_SLOT_ID slots[64], slot = (CK_SLOT_ID)-1;
	CK_ULONG n = 64;
	CK_SESSION_HANDLE h;
	double t0;

	snprintf(label, sizeof label, "bench-%s", store_name[s]);
	token_label(label, lab);
	set_store_env(m, s);
	must(m->f->C_Initialize(&g_init_args), "C_Initialize");
	must(m->f->C_GetSlotList(CK_FALSE, slots, &n), "C_GetSlotList");
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (m->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			slot = slots[i];
			break;
		}
	}
	if (slot == (CK_SLOT_ID)-1)
		die("%s: no slot with an uninitialised token", m->path);
	must(m->f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), lab), "C_InitToken");
	/* SoftHSMv2 moves an initialised token to a new slot ID: look it up afresh. */
	must(m->f->C_Finalize(NULL), "C_Finalize");
	must(m->f->C_Initialize(&g_init_args), "C_Initialize");
	slot = find_slot(m, label);
	if (slot == (CK_SLOT_ID)-1)
		die("%s: the token %s vanished after C_InitToken", m->path, label);
	must(m->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	     "C_OpenSession");
	must(m->f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)), "C_Login(SO)");
	must(m->f->C_InitPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), "C_InitPIN");
	must(m->f->C_Logout(h), "C_Logout");
	must(m->f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), "C_Login");

	if (s == S_MAIN) {
		CK_OBJECT_HANDLE pub, priv, k;
		CK_ULONG bits = 2048, len32 = 32;
		CK_OBJECT_CLASS sec = CKO_SECRET_KEY;
		CK_KEY_TYPE aes = CKK_AES, gen = CKK_GENERIC_SECRET;
		unsigned char e[] = {0x01, 0x00, 0x01};
		CK_MECHANISM mrsa = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
		CK_ATTRIBUTE rpub[] = {A(CKA_TOKEN, T), A(CKA_VERIFY, T), A(CKA_ENCRYPT, T),
		                       A(CKA_MODULUS_BITS, bits), AB(CKA_PUBLIC_EXPONENT, e),
		                       AS(CKA_LABEL, "bench-rsa")};
		CK_ATTRIBUTE rpriv[] = {A(CKA_TOKEN, T), A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T),
		                        A(CKA_SIGN, T), A(CKA_DECRYPT, T), AS(CKA_LABEL, "bench-rsa")};
		CK_MECHANISM maes = {CKM_AES_KEY_GEN, NULL, 0};
		CK_ATTRIBUTE taes[] = {A(CKA_CLASS, sec), A(CKA_KEY_TYPE, aes), A(CKA_TOKEN, T),
		                       A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_ENCRYPT, T),
		                       A(CKA_DECRYPT, T), A(CKA_VALUE_LEN, len32),
		                       AS(CKA_LABEL, "bench-aes")};
		CK_MECHANISM mgen = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
		CK_ATTRIBUTE thm[] = {A(CKA_CLASS, sec), A(CKA_KEY_TYPE, gen), A(CKA_TOKEN, T),
		                      A(CKA_PRIVATE, T), A(CKA_SENSITIVE, T), A(CKA_SIGN, T),
		                      A(CKA_VERIFY, T), A(CKA_VALUE_LEN, len32),
		                      AS(CKA_LABEL, "bench-hmac")};
		CK_RV rv;

		t0 = now();
		must(m->f->C_GenerateKeyPair(h, &mrsa, rpub, 6, rpriv, 6, &pub, &priv), "RSA-2048 keygen");
		info("setup_rsa_keygen_s", "%.3f", now() - t0);
		must(gen_ec(m, h, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof oid_p256, "bench-p256", T, &pub,
		            &priv),
		     "P-256 keygen");
		must(gen_ec(m, h, CKM_EC_KEY_PAIR_GEN, oid_p384, sizeof oid_p384, "bench-p384", T, &pub,
		            &priv),
		     "P-384 keygen");
		rv = gen_ec(m, h, CKM_EC_EDWARDS_KEY_PAIR_GEN, oid_ed25519, sizeof oid_ed25519,
		            "bench-ed25519", T, &pub, &priv);
		if (rv != CKR_OK)
			rv = gen_ec(m, h, CKM_EC_EDWARDS_KEY_PAIR_GEN, str_ed25519, sizeof str_ed25519,
			            "bench-ed25519", T, &pub, &priv);
		info("ed25519", "%s", rv == CKR_OK ? "yes" : rvname(rv));
		must(m->f->C_GenerateKey(h, &maes, taes, 9, &k), "AES-256 keygen");
		must(m->f->C_GenerateKey(h, &mgen, thm, 9, &k), "generic secret keygen");
	} else {
		CK_OBJECT_CLASS data = CKO_DATA;
		unsigned char value[32];
		char lbl[32];
		double dt;
		fill_pattern(value, sizeof value, 3);
		t0 = now();
		for (long i = 0; i < m->nobj[s]; i++) {
			CK_OBJECT_HANDLE o;
			CK_ATTRIBUTE t[] = {A(CKA_CLASS, data), A(CKA_TOKEN, T), A(CKA_PRIVATE, F),
			                    {CKA_LABEL, lbl, 0}, AS(CKA_APPLICATION, "p11bench"),
			                    AB(CKA_VALUE, value)};
			t[3].ulValueLen = (CK_ULONG)snprintf(lbl, sizeof lbl, "obj-%05ld", i);
			value[0] = (unsigned char)i;
			value[1] = (unsigned char)(i >> 8);
			must(m->f->C_CreateObject(h, t, 6, &o), "C_CreateObject");
		}
		dt = now() - t0;
		info(s == S_SMALL ? "create_small_ops_s" : "create_large_ops_s", "%.1f",
		     m->nobj[s] / (dt > 0 ? dt : 1e-9));
	}
	must(m->f->C_Logout(h), "C_Logout");
	must(m->f->C_CloseSession(h), "C_CloseSession");
	must(m->f->C_Finalize(NULL), "C_Finalize");
}

/* ---- Workloads ---------------------------------------------------------- */

typedef struct {
	Mod *m;
	int id;
	CK_SESSION_HANDLE s;
	unsigned char *in, *out;
	uint64_t rng;
	long ops;
	double end;
	CK_RV err;
} Th;

struct Workload;
typedef const char *(*check_fn)(Mod *, const struct Workload *);
typedef CK_RV (*op_fn)(Th *, const struct Workload *);

typedef struct Workload {
	char name[48];
	int store;
	int single; /* one thread only */
	size_t len;
	check_fn check;
	op_fn op;
} Workload;

static CK_RV do_sign(Th *t, CK_MECHANISM *mech, CK_OBJECT_HANDLE k, const unsigned char *d, CK_ULONG n)
{
	CK_FUNCTION_LIST *f = t->m->f;
	CK_ULONG sl = OUTBUF;
	CK_RV rv = f->C_SignInit(t->s, mech, k);
	if (rv != CKR_OK)
		return rv;
	return f->C_Sign(t->s, (CK_BYTE_PTR)d, n, t->out, &sl);
}

static CK_RV do_verify(Th *t, CK_MECHANISM *mech, CK_OBJECT_HANDLE k, const unsigned char *d, CK_ULONG n,
                       const unsigned char *sig, CK_ULONG sl)
{
	CK_FUNCTION_LIST *f = t->m->f;
	CK_RV rv = f->C_VerifyInit(t->s, mech, k);
	if (rv != CKR_OK)
		return rv;
	return f->C_Verify(t->s, (CK_BYTE_PTR)d, n, (CK_BYTE_PTR)sig, sl);
}

static BENCH_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};

static void wl_mech(const Workload *w, CK_MECHANISM *mech)
{
	memset(mech, 0, sizeof *mech);
	if (strstr(w->name, "rsa2048-pss")) {
		mech->mechanism = CKM_SHA256_RSA_PKCS_PSS;
		mech->pParameter = &pss;
		mech->ulParameterLen = sizeof pss;
	} else if (strstr(w->name, "rsa2048-pkcs1")) {
		mech->mechanism = CKM_SHA256_RSA_PKCS;
	} else if (strstr(w->name, "-sha256-sign")) {
		mech->mechanism = CKM_ECDSA_SHA256;
	} else if (strstr(w->name, "ecdsa")) {
		mech->mechanism = CKM_ECDSA;
	} else if (strstr(w->name, "ed25519")) {
		mech->mechanism = CKM_EDDSA;
	}
}

/* The key pair and input of each signature workload. */
static void wl_sign_args(Mod *m, const Workload *w, CK_OBJECT_HANDLE *priv, CK_OBJECT_HANDLE *pub,
                         const unsigned char **d, CK_ULONG *n)
{
	if (strstr(w->name, "rsa")) {
		*priv = m->rsa_priv, *pub = m->rsa_pub, *d = m->msg64, *n = 64;
	} else if (strstr(w->name, "p384")) {
		*priv = m->p384_priv, *pub = m->p384_pub, *d = m->dig48, *n = 48;
	} else if (strstr(w->name, "-sha256-sign")) {
		*priv = m->p256_priv, *pub = m->p256_pub, *d = m->msg64, *n = 64;
	} else if (strstr(w->name, "p256")) {
		*priv = m->p256_priv, *pub = m->p256_pub, *d = m->dig32, *n = 32;
	} else {
		*priv = m->ed_priv, *pub = m->ed_pub, *d = m->msg64, *n = 64;
	}
}

static char g_msg[160];
#define FAIL(...) (snprintf(g_msg, sizeof g_msg, __VA_ARGS__), (const char *)g_msg)

/* A thread context on session 0, for checks. */
static Th check_th(Mod *m)
{
	static unsigned char *in, *out;
	Th t;
	if (!in) {
		in = xmalloc(BIGBUF);
		out = xmalloc(OUTBUF);
		fill_pattern(in, BIGBUF, 1);
	}
	memset(&t, 0, sizeof t);
	t.m = m;
	t.s = m->sess[0];
	t.in = in;
	t.out = out;
	t.rng = 88172645463325252ull;
	return t;
}

/* sign, verify, and see a tampered signature refused */
static const char *sign_roundtrip(Mod *m, CK_MECHANISM *mech, CK_OBJECT_HANDLE priv,
                                  CK_OBJECT_HANDLE pub, const unsigned char *d, CK_ULONG n,
                                  unsigned char *sig, CK_ULONG *siglen, CK_ULONG sigcap)
{
	Th t = check_th(m);
	CK_ULONG sl = sigcap;
	CK_RV rv = m->f->C_SignInit(t.s, mech, priv);
	if (rv == CKR_MECHANISM_INVALID || rv == CKR_FUNCTION_NOT_SUPPORTED)
		return FAIL("na:%s", rvname(rv));
	if (rv != CKR_OK || (rv = m->f->C_Sign(t.s, (CK_BYTE_PTR)d, n, sig, &sl)) != CKR_OK)
		return FAIL("err:sign:%s", rvname(rv));
	*siglen = sl;
	if ((rv = do_verify(&t, mech, pub, d, n, sig, sl)) != CKR_OK)
		return FAIL("err:verify-own-signature:%s", rvname(rv));
	sig[sl / 2] ^= 0x01;
	rv = do_verify(&t, mech, pub, d, n, sig, sl);
	sig[sl / 2] ^= 0x01;
	if (rv != CKR_SIGNATURE_INVALID && rv != CKR_SIGNATURE_LEN_RANGE)
		return FAIL("err:tampered-signature-accepted:%s", rvname(rv));
	return NULL;
}

static const char *chk_sign(Mod *m, const Workload *w)
{
	CK_MECHANISM mech;
	CK_OBJECT_HANDLE priv, pub;
	const unsigned char *d;
	CK_ULONG n, sl;
	unsigned char sig[512];
	if (strstr(w->name, "ed25519") && !m->have_ed)
		return "na:no-Ed25519-key";
	wl_mech(w, &mech);
	wl_sign_args(m, w, &priv, &pub, &d, &n);
	return sign_roundtrip(m, &mech, priv, pub, d, n, sig, &sl, sizeof sig);
}

static CK_RV op_sign(Th *t, const Workload *w)
{
	CK_MECHANISM mech;
	CK_OBJECT_HANDLE priv, pub;
	const unsigned char *d;
	CK_ULONG n;
	wl_mech(w, &mech);
	wl_sign_args(t->m, w, &priv, &pub, &d, &n);
	return do_sign(t, &mech, priv, d, n);
}

static const char *chk_verify(Mod *m, const Workload *w)
{
	CK_MECHANISM mech;
	CK_OBJECT_HANDLE priv, pub;
	const unsigned char *d;
	CK_ULONG n;
	wl_mech(w, &mech);
	wl_sign_args(m, w, &priv, &pub, &d, &n);
	if (strstr(w->name, "rsa"))
		return sign_roundtrip(m, &mech, priv, pub, d, n, m->rsa_sig, &m->rsa_sig_len,
		                      sizeof m->rsa_sig);
	return sign_roundtrip(m, &mech, priv, pub, d, n, m->ec_sig, &m->ec_sig_len, sizeof m->ec_sig);
}

static CK_RV op_verify(Th *t, const Workload *w)
{
	CK_MECHANISM mech;
	CK_OBJECT_HANDLE priv, pub;
	const unsigned char *d;
	CK_ULONG n;
	Mod *m = t->m;
	wl_mech(w, &mech);
	wl_sign_args(m, w, &priv, &pub, &d, &n);
	if (strstr(w->name, "rsa"))
		return do_verify(t, &mech, pub, d, n, m->rsa_sig, m->rsa_sig_len);
	return do_verify(t, &mech, pub, d, n, m->ec_sig, m->ec_sig_len);
}

/* OAEP with SHA-256 and MGF1-SHA-256; a module that refuses those parameters
 * (SoftHSMv2 2.6 takes only SHA-1 for OAEP) is measured with SHA-1, and the
 * result says so: the hash is a negligible part of an RSA private operation. */
static const char *chk_oaep(Mod *m, const Workload *w)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &m->oaep, sizeof m->oaep};
	Th t = check_th(m);
	CK_ULONG n = sizeof m->oaep_ct, pl = OUTBUF;
	CK_RV rv;
	const char *note = NULL;
	(void)w;
	fill_pattern(m->oaep_pt, sizeof m->oaep_pt, 9);
	m->oaep = (BENCH_OAEP_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	rv = m->f->C_EncryptInit(t.s, &mech, m->rsa_pub);
	if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID) {
		m->oaep = (BENCH_OAEP_PARAMS){CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
		note = "ok:measured_with_OAEP_SHA-1,_as_the_module_refuses_SHA-256_for_OAEP";
		rv = m->f->C_EncryptInit(t.s, &mech, m->rsa_pub);
	}
	if (rv != CKR_OK ||
	    (rv = m->f->C_Encrypt(t.s, m->oaep_pt, sizeof m->oaep_pt, m->oaep_ct, &n)) != CKR_OK)
		return FAIL("err:oaep-encrypt:%s", rvname(rv));
	m->oaep_ct_len = n;
	if ((rv = m->f->C_DecryptInit(t.s, &mech, m->rsa_priv)) != CKR_OK ||
	    (rv = m->f->C_Decrypt(t.s, m->oaep_ct, n, t.out, &pl)) != CKR_OK)
		return FAIL("err:oaep-decrypt:%s", rvname(rv));
	if (pl != sizeof m->oaep_pt || memcmp(t.out, m->oaep_pt, pl) != 0)
		return "err:oaep-plaintext-differs";
	return note;
}

static CK_RV op_oaep(Th *t, const Workload *w)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &t->m->oaep, sizeof t->m->oaep};
	CK_ULONG pl = OUTBUF;
	CK_RV rv = t->m->f->C_DecryptInit(t->s, &mech, t->m->rsa_priv);
	(void)w;
	if (rv != CKR_OK)
		return rv;
	return t->m->f->C_Decrypt(t->s, t->m->oaep_ct, t->m->oaep_ct_len, t->out, &pl);
}

/* A fresh IV per operation: session slot id and a per-slot counter. */
static void next_iv(Th *t, unsigned char *iv, size_t n)
{
	uint64_t c = ++t->m->ivctr[t->id];
	memset(iv, 0, n);
	iv[0] = (unsigned char)(0xB0 + t->id);
	for (int i = 0; i < 8; i++)
		iv[n - 1 - i] = (unsigned char)(c >> (8 * i));
}

static CK_RV cipher_once(Th *t, const Workload *w, int enc, unsigned char *iv, const unsigned char *in,
                         CK_ULONG inlen, unsigned char *out, CK_ULONG *outlen)
{
	BENCH_GCM_PARAMS gcm = {iv, 12, 96, NULL, 0, 128};
	CK_MECHANISM mech;
	CK_FUNCTION_LIST *f = t->m->f;
	CK_RV rv;
	if (strstr(w->name, "gcm")) {
		mech.mechanism = CKM_AES_GCM;
		mech.pParameter = &gcm;
		mech.ulParameterLen = sizeof gcm;
	} else {
		mech.mechanism = CKM_AES_CBC_PAD;
		mech.pParameter = iv;
		mech.ulParameterLen = 16;
	}
	rv = enc ? f->C_EncryptInit(t->s, &mech, t->m->aes) : f->C_DecryptInit(t->s, &mech, t->m->aes);
	if (rv != CKR_OK)
		return rv;
	return enc ? f->C_Encrypt(t->s, (CK_BYTE_PTR)in, inlen, out, outlen)
	           : f->C_Decrypt(t->s, (CK_BYTE_PTR)in, inlen, out, outlen);
}

static const char *chk_cipher(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	unsigned char iv[16];
	unsigned char *ct = xmalloc(OUTBUF);
	CK_ULONG cl = OUTBUF, pl = OUTBUF;
	CK_RV rv;
	const char *res = NULL;
	size_t ivlen = strstr(w->name, "gcm") ? 12 : 16;
	CK_ULONG want = strstr(w->name, "gcm") ? w->len + 16 : (w->len / 16 + 1) * 16;
	next_iv(&t, iv, ivlen);
	if ((rv = cipher_once(&t, w, 1, iv, t.in, w->len, ct, &cl)) != CKR_OK)
		res = FAIL("err:encrypt:%s", rvname(rv));
	else if (cl != want || memcmp(ct, t.in, 64) == 0)
		res = FAIL("err:ciphertext-length-%lu", (unsigned long)cl);
	else if ((rv = cipher_once(&t, w, 0, iv, ct, cl, t.out, &pl)) != CKR_OK)
		res = FAIL("err:decrypt:%s", rvname(rv));
	else if (pl != w->len || memcmp(t.out, t.in, w->len) != 0)
		res = "err:decryption-differs";
	free(ct);
	return res;
}

static CK_RV op_cipher(Th *t, const Workload *w)
{
	unsigned char iv[16];
	CK_ULONG cl = OUTBUF;
	next_iv(t, iv, strstr(w->name, "gcm") ? 12 : 16);
	return cipher_once(t, w, 1, iv, t->in, w->len, t->out, &cl);
}

static CK_RV op_digest(Th *t, const Workload *w)
{
	CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
	CK_ULONG n = 32;
	CK_RV rv = t->m->f->C_DigestInit(t->s, &mech);
	if (rv != CKR_OK)
		return rv;
	return t->m->f->C_Digest(t->s, t->in, w->len, t->out, &n);
}

static const char *chk_digest(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	unsigned char ref[32];
	CK_RV rv = op_digest(&t, w);
	if (rv != CKR_OK)
		return FAIL("err:digest:%s", rvname(rv));
	sha256(t.in, w->len, ref);
	if (memcmp(ref, t.out, 32) != 0)
		return "err:digest-differs-from-reference";
	return NULL;
}

static CK_RV op_hmac(Th *t, const Workload *w)
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	return do_sign(t, &mech, t->m->hmac, t->in, w->len);
}

static const char *chk_hmac(Mod *m, const Workload *w)
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	Th t = check_th(m);
	unsigned char mac[64];
	CK_ULONG ml;
	const char *r = sign_roundtrip(m, &mech, m->hmac, m->hmac, t.in, w->len, mac, &ml, sizeof mac);
	if (!r && ml != 32)
		return "err:hmac-length";
	return r;
}

static CK_RV op_ec_keygen(Th *t, const Workload *w)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_RV rv = gen_ec(t->m, t->s, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof oid_p256, "bench-tmp", F,
	                  &pub, &priv);
	(void)w;
	if (rv != CKR_OK)
		return rv;
	if ((rv = t->m->f->C_DestroyObject(t->s, priv)) != CKR_OK)
		return rv;
	return t->m->f->C_DestroyObject(t->s, pub);
}

static const char *chk_ec_keygen(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	unsigned char sig[160];
	CK_ULONG sl;
	const char *r;
	CK_RV rv = gen_ec(m, t.s, CKM_EC_KEY_PAIR_GEN, oid_p256, sizeof oid_p256, "bench-tmp", F, &pub,
	                  &priv);
	(void)w;
	if (rv != CKR_OK)
		return FAIL("err:keygen:%s", rvname(rv));
	r = sign_roundtrip(m, &mech, priv, pub, m->dig32, 32, sig, &sl, sizeof sig);
	m->f->C_DestroyObject(t.s, priv);
	m->f->C_DestroyObject(t.s, pub);
	return r;
}

static CK_RV gen_aes(Th *t, CK_OBJECT_HANDLE *k)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS sec = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG len32 = 32;
	CK_ATTRIBUTE ta[] = {A(CKA_CLASS, sec), A(CKA_KEY_TYPE, aes), A(CKA_TOKEN, F),
	                     A(CKA_SENSITIVE, T), A(CKA_ENCRYPT, T), A(CKA_DECRYPT, T),
	                     A(CKA_VALUE_LEN, len32)};
	return t->m->f->C_GenerateKey(t->s, &mech, ta, 7, k);
}

static CK_RV op_aes_keygen(Th *t, const Workload *w)
{
	CK_OBJECT_HANDLE k;
	CK_RV rv = gen_aes(t, &k);
	(void)w;
	if (rv != CKR_OK)
		return rv;
	return t->m->f->C_DestroyObject(t->s, k);
}

static const char *chk_aes_keygen(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	CK_OBJECT_HANDLE k;
	CK_ULONG vl = 0;
	CK_ATTRIBUTE a = A(CKA_VALUE_LEN, vl);
	CK_RV rv = gen_aes(&t, &k);
	(void)w;
	if (rv != CKR_OK)
		return FAIL("err:keygen:%s", rvname(rv));
	rv = m->f->C_GetAttributeValue(t.s, k, &a, 1);
	m->f->C_DestroyObject(t.s, k);
	if (rv != CKR_OK || vl != 32)
		return FAIL("err:CKA_VALUE_LEN:%s:%lu", rvname(rv), (unsigned long)vl);
	return NULL;
}

static long wl_nobj(Mod *m, const Workload *w)
{
	return m->nobj[w->store == S_INITLARGE ? S_LARGE : w->store];
}

static CK_RV find_label(Th *t, CK_SESSION_HANDLE s, long k, CK_OBJECT_HANDLE *out)
{
	CK_FUNCTION_LIST *f = t->m->f;
	CK_OBJECT_CLASS data = CKO_DATA;
	char lbl[32];
	CK_ATTRIBUTE tmpl[] = {A(CKA_CLASS, data), {CKA_LABEL, lbl, 0}};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	CK_RV rv;
	tmpl[1].ulValueLen = (CK_ULONG)snprintf(lbl, sizeof lbl, "obj-%05ld", k);
	if ((rv = f->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, h, 2, &n);
	if (rv != CKR_OK) {
		f->C_FindObjectsFinal(s);
		return rv;
	}
	if ((rv = f->C_FindObjectsFinal(s)) != CKR_OK)
		return rv;
	if (n != 1)
		return BENCH_BAD_COUNT;
	if (out)
		*out = h[0];
	return CKR_OK;
}

static long next_rand(Th *t, long n)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return (long)(t->rng % (uint64_t)n);
}

static CK_RV op_find(Th *t, const Workload *w)
{
	return find_label(t, t->s, next_rand(t, wl_nobj(t->m, w)), NULL);
}

static const char *chk_find(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	long n = wl_nobj(m, w), ks[3] = {0, n / 2, n - 1};
	for (int i = 0; i < 3; i++) {
		CK_OBJECT_HANDLE h;
		char want[32], got[64];
		CK_ATTRIBUTE a = {CKA_LABEL, got, sizeof got};
		CK_RV rv = find_label(&t, t.s, ks[i], &h);
		if (rv != CKR_OK)
			return FAIL("err:find-obj-%05ld:%s", ks[i], rvname(rv));
		snprintf(want, sizeof want, "obj-%05ld", ks[i]);
		if ((rv = m->f->C_GetAttributeValue(t.s, h, &a, 1)) != CKR_OK ||
		    a.ulValueLen != strlen(want) || memcmp(got, want, a.ulValueLen) != 0)
			return FAIL("err:found-wrong-object-for-%s", want);
	}
	/* A label that is not there finds nothing. */
	if (find_label(&t, t.s, n + 7, NULL) != BENCH_BAD_COUNT)
		return "err:found-an-absent-label";
	return NULL;
}

static CK_RV op_session(Th *t, const Workload *w)
{
	CK_SESSION_HANDLE h;
	CK_RV rv = t->m->f->C_OpenSession(t->m->slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
	(void)w;
	if (rv != CKR_OK)
		return rv;
	return t->m->f->C_CloseSession(h);
}

/* One call that does next to nothing: the floor under every operation, which
 * takes at least two calls (init + the operation). For Craton it is one C-to-Go
 * call and a session lookup. */
static CK_RV op_session_info(Th *t, const Workload *w)
{
	CK_SESSION_INFO info;
	(void)w;
	return t->m->f->C_GetSessionInfo(t->s, &info);
}

static const char *chk_session_info(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	CK_SESSION_INFO info;
	CK_RV rv = m->f->C_GetSessionInfo(t.s, &info);
	(void)w;
	if (rv != CKR_OK)
		return FAIL("err:%s", rvname(rv));
	if (info.slotID != m->slot || !(info.flags & CKF_SERIAL_SESSION))
		return FAIL("err:session-info-slot-%lu-flags-%lx", (unsigned long)info.slotID, (unsigned long)info.flags);
	return NULL;
}

static const char *chk_session(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	CK_RV rv = op_session(&t, w);
	return rv == CKR_OK ? NULL : FAIL("err:%s", rvname(rv));
}

static CK_RV op_init(Th *t, const Workload *w)
{
	CK_RV rv = t->m->f->C_Initialize(&g_init_args);
	(void)w;
	if (rv != CKR_OK)
		return rv;
	return t->m->f->C_Finalize(NULL);
}

/* C_Initialize, find the token, one search by label, C_Finalize: a cold start. */
static CK_RV op_init_find(Th *t, const Workload *w)
{
	Mod *m = t->m;
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	CK_RV rv = m->f->C_Initialize(&g_init_args);
	if (rv != CKR_OK)
		return rv;
	slot = find_slot(m, "bench-large");
	if (slot == (CK_SLOT_ID)-1)
		rv = BENCH_BAD_RESULT;
	else if ((rv = m->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) == CKR_OK) {
		rv = find_label(t, s, next_rand(t, wl_nobj(m, w)), NULL);
		m->f->C_CloseSession(s);
	}
	m->f->C_Finalize(NULL);
	return rv;
}

static const char *chk_init(Mod *m, const Workload *w)
{
	Th t = check_th(m);
	CK_RV rv = m->f->C_Initialize(&g_init_args);
	if (rv != CKR_OK)
		return FAIL("err:C_Initialize:%s", rvname(rv));
	if (find_slot(m, "bench-large") == (CK_SLOT_ID)-1) {
		m->f->C_Finalize(NULL);
		return "err:no-large-token";
	}
	if ((rv = m->f->C_Finalize(NULL)) != CKR_OK)
		return FAIL("err:C_Finalize:%s", rvname(rv));
	if ((rv = op_init_find(&t, w)) != CKR_OK)
		return FAIL("err:init-find:%s", rvname(rv));
	return NULL;
}

static Workload g_wl[64];
static int g_nwl;

static void add_wl(const char *name, int store, int single, size_t len, check_fn c, op_fn o)
{
	Workload *w = &g_wl[g_nwl++];
	snprintf(w->name, sizeof w->name, "%s", name);
	w->store = store;
	w->single = single;
	w->len = len;
	w->check = c;
	w->op = o;
}

static const char *count_name(long n, char *buf, size_t sz)
{
	if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, sz, "%ldk", n / 1000);
	else
		snprintf(buf, sz, "%ld", n);
	return buf;
}

/* The workload names are shared with bench/ceiling/main.go. */
static void init_workloads(long small, long large)
{
	char n[48], c[16];
	g_nwl = 0;
	add_wl("rsa2048-pkcs1-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("rsa2048-pss-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("rsa2048-pkcs1-verify", S_MAIN, 0, 0, chk_verify, op_verify);
	add_wl("rsa2048-oaep-decrypt", S_MAIN, 0, 0, chk_oaep, op_oaep);
	add_wl("ecdsa-p256-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("ecdsa-p256-sha256-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("ecdsa-p256-verify", S_MAIN, 0, 0, chk_verify, op_verify);
	add_wl("ecdsa-p384-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("ed25519-sign", S_MAIN, 0, 0, chk_sign, op_sign);
	add_wl("aes256-gcm-enc-64", S_MAIN, 0, 64, chk_cipher, op_cipher);
	add_wl("aes256-gcm-enc-1k", S_MAIN, 0, 1024, chk_cipher, op_cipher);
	add_wl("aes256-gcm-enc-16k", S_MAIN, 0, 16384, chk_cipher, op_cipher);
	add_wl("aes256-gcm-enc-1m", S_MAIN, 0, 1048576, chk_cipher, op_cipher);
	add_wl("aes256-cbc-pad-enc-16k", S_MAIN, 0, 16384, chk_cipher, op_cipher);
	add_wl("sha256-1m", S_MAIN, 0, 1048576, chk_digest, op_digest);
	add_wl("hmac-sha256-1k", S_MAIN, 0, 1024, chk_hmac, op_hmac);
	add_wl("ec-p256-keygen", S_MAIN, 0, 0, chk_ec_keygen, op_ec_keygen);
	add_wl("aes256-keygen", S_MAIN, 0, 0, chk_aes_keygen, op_aes_keygen);
	snprintf(n, sizeof n, "find-label-%s", count_name(small, c, sizeof c));
	add_wl(n, S_SMALL, 0, 0, chk_find, op_find);
	snprintf(n, sizeof n, "find-label-%s", count_name(large, c, sizeof c));
	add_wl(n, S_LARGE, 0, 0, chk_find, op_find);
	add_wl("session-open-close", S_MAIN, 0, 0, chk_session, op_session);
	add_wl("session-info", S_MAIN, 0, 0, chk_session_info, op_session_info);
	snprintf(n, sizeof n, "initialize-%s", count_name(large, c, sizeof c));
	add_wl(n, S_INITLARGE, 1, 0, chk_init, op_init);
	snprintf(n, sizeof n, "initialize-find-%s", count_name(large, c, sizeof c));
	add_wl(n, S_INITLARGE, 1, 0, chk_init, op_init_find);
}

static const Workload *find_wl(const char *name)
{
	for (int i = 0; i < g_nwl; i++)
		if (strcmp(g_wl[i].name, name) == 0)
			return &g_wl[i];
	return NULL;
}

/* ---- The timed loop ----------------------------------------------------- */

typedef struct {
	Th *th;
	const Workload *w;
	pthread_barrier_t *bar;
	double *t0;
	double secs;
} RunArg;

static void *runner(void *p)
{
	RunArg *a = p;
	Th *t = a->th;
	double deadline;
	pthread_barrier_wait(a->bar);
	pthread_barrier_wait(a->bar); /* the main thread has set *t0 in between */
	deadline = *a->t0 + a->secs;
	do {
		CK_RV rv = a->w->op(t, a->w);
		if (rv != CKR_OK) {
			t->err = rv;
			break;
		}
		t->ops++;
		t->end = now();
	} while (t->end < deadline);
	return NULL;
}

/* run_timed: threads sessions run w for secs; returns total ops, sets *elapsed
 * (first start to last finish) and *err (the first failure). */
static long run_timed(Mod *m, const Workload *w, int threads, double secs, double *elapsed, CK_RV *err)
{
	static unsigned char *ins[MAXT], *outs[MAXT];
	pthread_t tid[MAXT];
	Th th[MAXT];
	RunArg ra[MAXT];
	pthread_barrier_t bar;
	double t0 = 0, end = 0;
	long ops = 0;
	pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		if (!ins[i]) {
			ins[i] = xmalloc(BIGBUF);
			outs[i] = xmalloc(OUTBUF);
			fill_pattern(ins[i], BIGBUF, 1);
		}
		memset(&th[i], 0, sizeof th[i]);
		th[i].m = m;
		th[i].id = i;
		th[i].s = m->nsess > i ? m->sess[i] : 0;
		th[i].in = ins[i];
		th[i].out = outs[i];
		th[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ (uint64_t)(now() * 1e9);
		ra[i] = (RunArg){&th[i], w, &bar, &t0, secs};
		if (pthread_create(&tid[i], NULL, runner, &ra[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&bar);
	t0 = now();
	pthread_barrier_wait(&bar);
	*err = CKR_OK;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		ops += th[i].ops;
		if (th[i].end > end)
			end = th[i].end;
		if (th[i].err != CKR_OK && *err == CKR_OK)
			*err = th[i].err;
	}
	pthread_barrier_destroy(&bar);
	*elapsed = end > t0 ? end - t0 : 0;
	return ops;
}

/* ---- Worker, setup and probe subcommands -------------------------------- */

static void mod_from_args(Mod *m, char **argv)
{
	memset(m, 0, sizeof *m);
	snprintf(m->kind, sizeof m->kind, "%s", argv[0]);
	snprintf(m->path, sizeof m->path, "%s", argv[1]);
	snprintf(m->dir, sizeof m->dir, "%s", argv[2]);
	m->nobj[S_MAIN] = 0;
	m->nobj[S_SMALL] = atol(argv[3]);
	m->nobj[S_LARGE] = atol(argv[4]);
	fill_pattern(m->msg64, sizeof m->msg64, 5);
	sha256(m->msg64, sizeof m->msg64, m->dig32);
	fill_pattern(m->dig48, sizeof m->dig48, 6);
	init_workloads(m->nobj[S_SMALL], m->nobj[S_LARGE]);
}

/* p11bench setup KIND PATH DIR SMALL LARGE */
static int cmd_setup(char **argv)
{
	Mod m;
	mod_from_args(&m, argv);
	write_confs(&m);
	mod_load(&m);
	for (int s = 0; s < NSTORES; s++)
		setup_store(&m, s);
	printf("DONE\n");
	return 0;
}

/* p11bench probe KIND PATH DIR SMALL LARGE STORE: RSS of a fresh process that
 * opens a store and reads the label of every data object in it. */
static int cmd_probe(char **argv)
{
	Mod m;
	int s = atoi(argv[5]);
	long r0, r1, r2, count = 0;
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ATTRIBUTE t = A(CKA_CLASS, data);
	CK_OBJECT_HANDLE h[256];
	CK_ULONG n;
	mod_from_args(&m, argv);
	mod_load(&m);
	r0 = vmrss_kb();
	use_store(&m, s, 1);
	r1 = vmrss_kb();
	must(m.f->C_FindObjectsInit(m.sess[0], &t, 1), "C_FindObjectsInit");
	do {
		must(m.f->C_FindObjects(m.sess[0], h, 256, &n), "C_FindObjects");
		for (CK_ULONG i = 0; i < n; i++) {
			char lbl[64];
			CK_ATTRIBUTE a = {CKA_LABEL, lbl, sizeof lbl};
			must(m.f->C_GetAttributeValue(m.sess[0], h[i], &a, 1), "C_GetAttributeValue");
			count++;
		}
	} while (n > 0);
	must(m.f->C_FindObjectsFinal(m.sess[0]), "C_FindObjectsFinal");
	r2 = vmrss_kb();
	printf("PROBE %d %ld %ld %ld %ld %ld\n", s, count, r0, r1, r2, maxrss_kb());
	mod_close(&m);
	return 0;
}

/* p11bench worker KIND PATH DIR SMALL LARGE MAXTHREADS */
static int cmd_worker(char **argv)
{
	Mod m;
	int maxt = atoi(argv[5]);
	char line[512];
	FILE *out;
	int fd = dup(1);
	/* Our answers go to the original stdout; anything a module prints goes to stderr. */
	if (fd < 0 || dup2(2, 1) < 0 || !(out = fdopen(fd, "w")))
		die("worker: cannot set up its output");
	if (maxt < 1 || maxt > MAXT)
		die("worker: threads must be 1..%d", MAXT);
	mod_from_args(&m, argv);
	mod_load(&m);
	use_store(&m, S_MAIN, maxt);
	{
		CK_INFO ci;
		char desc[33] = "";
		if (m.f->C_GetInfo(&ci) == CKR_OK) {
			memcpy(desc, ci.libraryDescription, 32);
			for (int i = 31; i >= 0 && desc[i] == ' '; i--)
				desc[i] = 0;
			for (char *p = desc; *p; p++)
				if (*p == ' ')
					*p = '_';
			fprintf(out, "READY %s_%d.%d\n", desc, ci.libraryVersion.major,
			        ci.libraryVersion.minor);
		} else
			fprintf(out, "READY %s\n", m.kind);
	}
	fflush(out);
	while (fgets(line, sizeof line, stdin)) {
		char name[64];
		int threads;
		double secs, warm;
		if (strncmp(line, "QUIT", 4) == 0)
			break;
		if (strncmp(line, "RSS", 3) == 0) {
			fprintf(out, "RSS %ld\n", maxrss_kb());
			fflush(out);
			continue;
		}
		int docheck = 1;
		if (sscanf(line, "RUN %63s %d %lf %lf %d", name, &threads, &secs, &warm, &docheck) < 4) {
			fprintf(out, "ERROR bad command\n");
			fflush(out);
			continue;
		}
		const Workload *w = find_wl(name);
		const char *status = "ok";
		char note[160];
		long ops = 0;
		double el = 0;
		CK_RV err = CKR_OK;
		if (!w)
			status = "na:unknown-workload";
		else if (threads < 1 || threads > maxt)
			status = "na:threads";
		else if (w->single && threads > 1)
			status = "na:single-threaded-by-nature";
		else {
			use_store(&m, w->store, maxt);
			status = docheck || !m.notes[w - g_wl][0] ? w->check(&m, w) : m.notes[w - g_wl];
			if (!status || strncmp(status, "ok", 2) == 0) {
				snprintf(note, sizeof note, "%s", status ? status : "ok");
				snprintf(m.notes[w - g_wl], sizeof m.notes[0], "%s", note);
				status = note;
				if (warm > 0)
					run_timed(&m, w, threads, warm, &el, &err);
				if (err == CKR_OK)
					ops = run_timed(&m, w, threads, secs, &el, &err);
				if (err != CKR_OK)
					status = FAIL("err:%s", rvname(err));
			}
		}
		fprintf(out, "RESULT %s %d %ld %.6f %s\n", name, threads, ops, el, status);
		fflush(out);
	}
	mod_close(&m);
	return 0;
}

/* ---- The parent: orchestration and reports ------------------------------- */

typedef struct {
	char name[32];
	char kind[16];
	char path[PATH_MAX];
	char dir[PATH_MAX];
	pid_t pid;
	int wfd, rfd;
	char rbuf[4096];
	size_t rlen;
	int dead;
	char why[48]; /* why it is dead: the status its results get */
	char desc[128];
	long maxrss;
	char info[16][2][64];
	int ninfo;
	long long store_bytes[NSTORES], store_alloc[NSTORES];
	long probe[NSTORES][5]; /* count, rss after load, after init, after scan, maxrss */
} Child;

static char g_self[PATH_MAX];

static pid_t spawn(char **argv, int *wfd, int *rfd)
{
	int in[2], out[2];
	pid_t pid;
	if (pipe(in) != 0 || pipe(out) != 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*wfd = in[1];
	*rfd = out[0];
	return pid;
}

/* read_line: one line from a child within timeout seconds; 0 on EOF/timeout. */
static int read_line(Child *c, char *line, size_t n, double timeout)
{
	double deadline = now() + timeout;
	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);
		if (nl) {
			size_t l = (size_t)(nl - c->rbuf);
			if (l >= n)
				l = n - 1;
			memcpy(line, c->rbuf, l);
			line[l] = 0;
			c->rlen -= (size_t)(nl - c->rbuf) + 1;
			memmove(c->rbuf, nl + 1, c->rlen);
			return 1;
		}
		double left = deadline - now();
		struct pollfd p = {c->rfd, POLLIN, 0};
		if (left <= 0 || c->rlen == sizeof c->rbuf)
			return 0;
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		ssize_t got = read(c->rfd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
		if (got <= 0)
			return 0;
		c->rlen += (size_t)got;
	}
}

static void send_line(Child *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_line(Child *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (c->dead || write(c->wfd, buf, (size_t)n) != n)
		c->dead = 1;
}

static void child_kill(Child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	c->dead = 1;
}

static int child_wait(Child *c)
{
	int st = 0;
	if (c->pid > 0)
		waitpid(c->pid, &st, 0);
	c->pid = 0;
	close(c->wfd);
	close(c->rfd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void child_args(Child *c, const char *sub, long small, long large, char **argv, char *extra,
                       char bufs[2][32])
{
	snprintf(bufs[0], 32, "%ld", small);
	snprintf(bufs[1], 32, "%ld", large);
	int i = 0;
	argv[i++] = g_self;
	argv[i++] = (char *)sub;
	argv[i++] = c->kind;
	argv[i++] = c->path;
	argv[i++] = c->dir;
	argv[i++] = bufs[0];
	argv[i++] = bufs[1];
	if (extra)
		argv[i++] = extra;
	argv[i] = NULL;
}

static const char *info_get(Child *c, const char *key)
{
	for (int i = 0; i < c->ninfo; i++)
		if (strcmp(c->info[i][0], key) == 0)
			return c->info[i][1];
	return NULL;
}

typedef struct {
	long ops;
	double secs, rate;     /* over all rounds: total ops / total time */
	double rmin, rmax;     /* the slowest and fastest round */
	double rr[MAXRD];      /* each round's rate; 0: the round did not run */
	int rounds;
	char status[160];
	int done;
} Res;

#define MAXCOL (MAXMOD + 1)
static Res g_res[64][MAXT][MAXCOL];

static void fmt_rate(double r, char *buf, size_t n)
{
	if (r >= 1000)
		snprintf(buf, n, "%.0f", r);
	else if (r >= 100)
		snprintf(buf, n, "%.1f", r);
	else
		snprintf(buf, n, "%.2f", r);
}

static int res_ok(const Res *r)
{
	return r->done && strncmp(r->status, "ok", 2) == 0;
}

static void fmt_cell(const Res *r, char *buf, size_t n)
{
	if (!r->done)
		snprintf(buf, n, "–");
	else if (strcmp(r->status, "ok") == 0)
		fmt_rate(r->rate, buf, n);
	else if (strncmp(r->status, "ok:", 3) == 0) {
		fmt_rate(r->rate, buf, n);
		strncat(buf, " †", n - strlen(buf) - 1);
	}
	else if (strncmp(r->status, "na", 2) == 0)
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%s", r->status);
}

static void fmt_ratio(const Res *a, const Res *b, char *buf, size_t n)
{
	if (res_ok(a) && res_ok(b) && b->rate > 0)
		snprintf(buf, n, "%.2f", a->rate / b->rate);
	else
		snprintf(buf, n, "–");
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* fmt_paired formats a over b round by round: the median of the rounds'
 * ratios and the middle half of them (25th to 75th percentile). The modules
 * run back to back within a round, so a drift of the machine's load over
 * the run, which moves whole rounds, mostly cancels in a round's ratio. */
static void fmt_paired(const Res *a, const Res *b, int rounds, char *buf, size_t n)
{
	double q[MAXRD];
	int m = 0;
	if (res_ok(a) && res_ok(b))
		for (int rd = 0; rd < rounds && rd < MAXRD; rd++)
			if (a->rr[rd] > 0 && b->rr[rd] > 0)
				q[m++] = a->rr[rd] / b->rr[rd];
	if (m < 4) {
		snprintf(buf, n, "–");
		return;
	}
	qsort(q, m, sizeof q[0], cmp_double);
	double med = m % 2 ? q[m / 2] : (q[m / 2 - 1] + q[m / 2]) / 2;
	snprintf(buf, n, "%.2f (%.2f–%.2f)", med, q[m / 4], q[(3 * m) / 4 - (m % 4 == 0)]);
}

/* results_table prints a table of the workloads: each column's ops/s and the
 * ratio columns rp (a over b) as ratios of the totals, or, paired, only the
 * ratio columns, round by round (fmt_paired). */
static void results_table(FILE *md, const Child *ch, int ncol, int rp[][2], int nrp,
                          const int *threads, int nthreads, int rounds, int paired)
{
	int nval = paired ? 0 : ncol;
	fprintf(md, "| workload | threads |");
	for (int i = 0; i < nval; i++)
		fprintf(md, " %s |", ch[i].name);
	for (int k = 0; k < nrp; k++)
		fprintf(md, " %s/%s |", ch[rp[k][0]].name, ch[rp[k][1]].name);
	fprintf(md, "\n|---|--:|");
	for (int i = 0; i < nval + nrp; i++)
		fprintf(md, "--:|");
	fprintf(md, "\n");
	for (int wi = 0; wi < g_nwl; wi++)
		for (int ti = 0; ti < nthreads; ti++) {
			char cell[128];
			if (!g_res[wi][ti][0].done)
				continue;
			fprintf(md, "| %s | %d |", g_wl[wi].name, threads[ti]);
			for (int i = 0; i < nval; i++) {
				fmt_cell(&g_res[wi][ti][i], cell, sizeof cell);
				fprintf(md, " %s |", cell);
			}
			for (int k = 0; k < nrp; k++) {
				const Res *a = &g_res[wi][ti][rp[k][0]], *b = &g_res[wi][ti][rp[k][1]];
				if (paired)
					fmt_paired(a, b, rounds, cell, sizeof cell);
				else
					fmt_ratio(a, b, cell, sizeof cell);
				fprintf(md, " %s |", cell);
			}
			fprintf(md, "\n");
		}
}

static void read_file_line(const char *path, const char *prefix, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[512];
	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			char *p = strchr(line, ':');
			p = p ? p + 1 : line + strlen(prefix);
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, n, "%s", p);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: p11bench run [--time S] [--warmup S] [--threads 1,2] [--only a,b]\n"
	        "                    [--objects 1000,10000] [--ceiling [NAME=]PATH]... [--out DIR]\n"
	        "                    [--scratch DIR] [--keep] NAME=[KIND:]/abs/module.so ...\n");
	exit(2);
}

static int cmd_run(int argc, char **argv)
{
	double secs = 2, warm = 0.2;
	int rounds = 4;
	int threads[MAXT], nthreads = 0;
	const char *only = NULL, *outdir = ".", *scratch_parent = NULL;
	const char *ceiling[MAXMOD];
	int nceiling = 0;
	long small = 1000, large = 10000;
	int keep = 0;
	Child ch[MAXCOL];
	int nch = 0, ncol;
	char scratch[PATH_MAX], path[PATH_MAX], line[1024];
	char load0[128], load1[128];
	double t_start = now();

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--time") && v)
			secs = atof(v), i++;
		else if (!strcmp(a, "--warmup") && v)
			warm = atof(v), i++;
		else if (!strcmp(a, "--rounds") && v)
			rounds = atoi(v), i++;
		else if (!strcmp(a, "--threads") && v) {
			char *s = xstrdup(v), *tok, *save;
			for (tok = strtok_r(s, ",", &save); tok && nthreads < MAXT; tok = strtok_r(NULL, ",", &save))
				threads[nthreads++] = atoi(tok);
			free(s);
			i++;
		} else if (!strcmp(a, "--only") && v)
			only = v, i++;
		else if (!strcmp(a, "--objects") && v) {
			if (sscanf(v, "%ld,%ld", &small, &large) != 2)
				usage();
			i++;
		} else if (!strcmp(a, "--ceiling") && v && nceiling < MAXMOD)
			ceiling[nceiling++] = v, i++;
		else if (!strcmp(a, "--out") && v)
			outdir = v, i++;
		else if (!strcmp(a, "--scratch") && v)
			scratch_parent = v, i++;
		else if (!strcmp(a, "--keep"))
			keep = 1;
		else if (a[0] != '-' && strchr(a, '=') && nch < MAXMOD) {
			Child *c = &ch[nch++];
			const char *eq = strchr(a, '='), *p = eq + 1, *colon = strchr(p, ':');
			memset(c, 0, sizeof *c);
			snprintf(c->name, sizeof c->name, "%.*s", (int)(eq - a), a);
			if (colon && p[0] != '/') {
				snprintf(c->kind, sizeof c->kind, "%.*s", (int)(colon - p), p);
				p = colon + 1;
			} else if (strncasecmp(c->name, "craton", 6) == 0)
				snprintf(c->kind, sizeof c->kind, "craton");
			else if (strncasecmp(c->name, "softhsm", 7) == 0)
				snprintf(c->kind, sizeof c->kind, "softhsm2");
			else
				die("%s: say the kind: NAME=craton:/path or NAME=softhsm2:/path", a);
			if (strcmp(c->kind, "craton") && strcmp(c->kind, "softhsm2"))
				die("%s: kind must be craton or softhsm2", a);
			if (p[0] != '/')
				die("%s: the module path must be absolute", a);
			if (access(p, R_OK) != 0)
				die("%s: %s", p, strerror(errno));
			snprintf(c->path, sizeof c->path, "%s", p);
		} else
			usage();
	}
	if (rounds > MAXRD)
		die("--rounds: at most %d\n", MAXRD);
	if (nch == 0 || rounds < 1 || secs <= 0)
		usage();
	if (nthreads == 0)
		threads[nthreads++] = 1, threads[nthreads++] = 2;
	int maxt = 1;
	for (int i = 0; i < nthreads; i++) {
		if (threads[i] < 1 || threads[i] > MAXT)
			die("--threads: 1..%d", MAXT);
		if (threads[i] > maxt)
			maxt = threads[i];
	}
	if (small < 1 || large < 1 || large > 99999 || small > 99999)
		die("--objects: 1..99999 each");
	init_workloads(small, large);

	if (!scratch_parent)
		scratch_parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(scratch, sizeof scratch, "%s/p11bench.XXXXXX", scratch_parent);
	if (!mkdtemp(scratch))
		die("mkdtemp %s: %s", scratch, strerror(errno));
	mkdir_p(outdir);
	read_file_line("/proc/loadavg", "", load0, sizeof load0);
	printf("p11bench: scratch stores in %s; %.1f s per measurement in %d rounds (+%.2f s warm-up), "
	       "threads",
	       scratch, secs, rounds, warm);
	for (int i = 0; i < nthreads; i++)
		printf(" %d", threads[i]);
	printf("; load average %s\n", load0);

	/* 1. Setup, store sizes, RSS probes. */
	for (int i = 0; i < nch; i++) {
		Child *c = &ch[i];
		char *av[10], nb[2][32];
		double t0 = now();
		snprintf(c->dir, sizeof c->dir, "%s/%s", scratch, c->name);
		mkdir_p(c->dir);
		printf("setup %s (%s): tokens, keys, %ld + %ld data objects ...\n", c->name, c->path, small,
		       large);
		fflush(stdout);
		child_args(c, "setup", small, large, av, NULL, nb);
		c->pid = spawn(av, &c->wfd, &c->rfd);
		close(c->wfd);
		c->wfd = -1;
		while (read_line(c, line, sizeof line, 1800)) {
			char k[64], v[64];
			if (sscanf(line, "INFO %63s %63s", k, v) == 2 && c->ninfo < 16) {
				snprintf(c->info[c->ninfo][0], 64, "%s", k);
				snprintf(c->info[c->ninfo][1], 64, "%s", v);
				c->ninfo++;
			}
		}
		c->wfd = open("/dev/null", O_WRONLY);
		if (child_wait(c) != 0) {
			/* Measure the others; this module's cells say why they are empty. */
			fprintf(stderr, "p11bench: setup of %s failed (see above); it is left out\n", c->name);
			c->dead = 1;
			snprintf(c->why, sizeof c->why, "err:setup-failed");
			continue;
		}
		printf("  done in %.1f s", now() - t0);
		for (int k = 0; k < c->ninfo; k++)
			printf("; %s %s", c->info[k][0], c->info[k][1]);
		printf("\n");
		for (int s = 0; s < NSTORES; s++) {
			snprintf(path, sizeof path, "%s/%s/%s", c->dir, store_name[s],
			         strcmp(c->kind, "craton") == 0 ? "store" : "tokens");
			c->store_alloc[s] = 0;
			c->store_bytes[s] = dir_size(path, &c->store_alloc[s]);
		}
		for (int s = 0; s < NSTORES; s++) {
			char sb[8];
			snprintf(sb, sizeof sb, "%d", s);
			child_args(c, "probe", small, large, av, sb, nb);
			c->pid = spawn(av, &c->wfd, &c->rfd);
			close(c->wfd);
			c->wfd = open("/dev/null", O_WRONLY);
			if (read_line(c, line, sizeof line, 600)) {
				int ss;
				long v[5];
				if (sscanf(line, "PROBE %d %ld %ld %ld %ld %ld", &ss, &v[0], &v[1], &v[2], &v[3],
				           &v[4]) == 6)
					memcpy(c->probe[s], v, sizeof v);
			}
			child_wait(c);
		}
		c->rlen = 0;
	}

	/* 2. Workers: one per module, and the ceiling. */
	ncol = nch;
	for (int k = 0; k < nceiling && ncol < MAXCOL; k++) {
		Child *c = &ch[ncol++];
		const char *eq = strchr(ceiling[k], '=');
		memset(c, 0, sizeof *c);
		if (eq && ceiling[k][0] != '/') {
			snprintf(c->name, sizeof c->name, "%.*s", (int)(eq - ceiling[k]), ceiling[k]);
			snprintf(c->path, sizeof c->path, "%s", eq + 1);
		} else {
			snprintf(c->name, sizeof c->name, "Go ceiling");
			snprintf(c->path, sizeof c->path, "%s", ceiling[k]);
		}
	}
	for (int i = 0; i < ncol; i++) {
		Child *c = &ch[i];
		char *av[10], nb[2][32], mt[8];
		snprintf(mt, sizeof mt, "%d", maxt);
		if (i < nch)
			child_args(c, "worker", small, large, av, mt, nb);
		else {
			av[0] = c->path;
			av[1] = (char *)"-worker";
			av[2] = NULL;
		}
		if (c->dead) {
			snprintf(c->desc, sizeof c->desc, "setup failed");
			continue;
		}
		c->pid = spawn(av, &c->wfd, &c->rfd);
		if (!read_line(c, line, sizeof line, 600) || strncmp(line, "READY", 5) != 0) {
			fprintf(stderr, "%s: worker did not start\n", c->name);
			child_kill(c);
			snprintf(c->why, sizeof c->why, "err:worker-did-not-start");
			continue;
		}
		snprintf(c->desc, sizeof c->desc, "%s", line + 6);
		printf("worker %s: %s\n", c->name, c->desc);
	}
	signal(SIGPIPE, SIG_IGN);

	/* 3. The measurements, alternating modules. */
	printf("\n%-24s %3s", "workload", "thr");
	for (int i = 0; i < ncol; i++)
		printf(" %14.14s", ch[i].name);
	printf("\n");
	int round = 0;
	for (int wi = 0; wi < g_nwl; wi++) {
		const Workload *w = &g_wl[wi];
		if (only) {
			char pat[80];
			snprintf(pat, sizeof pat, ",%s,", w->name);
			char *o = xmalloc(strlen(only) + 3);
			sprintf(o, ",%s,", only);
			int hit = strstr(o, pat) != NULL;
			free(o);
			if (!hit)
				continue;
		}
		for (int ti = 0; ti < nthreads; ti++) {
			int t = threads[ti];
			printf("%-24s %3d", w->name, t);
			fflush(stdout);
			for (int rd = 0; rd < rounds; rd++)
				for (int k = 0; k < ncol; k++) {
					int i = (k + round + rd) % ncol;
					Child *c = &ch[i];
					Res *r = &g_res[wi][ti][i];
					char nm[64], st[160];
					int tt;
					long ops;
					double el;
					if (rd == 0)
						memset(r, 0, sizeof *r), r->done = 1;
					else if (!res_ok(r))
						continue; /* failed or n/a in an earlier round */
					if (c->dead) {
						snprintf(r->status, sizeof r->status, "%s", c->why[0] ? c->why : "err:worker-died");
						continue;
					}
					send_line(c, "RUN %s %d %.4f %.4f %d\n", w->name, t, secs / rounds,
					          rd == 0 ? warm : warm / 4, rd == 0);
					if (!read_line(c, line, sizeof line, 5 * (secs + warm) + 300)) {
						snprintf(r->status, sizeof r->status, "err:worker-died-or-hung");
						fprintf(stderr, "\n%s: no answer to %s/%d; stopping it\n", c->name,
						        w->name, t);
						child_kill(c);
						snprintf(c->why, sizeof c->why, "err:worker-died-at-%.30s", w->name);
						continue;
					}
					if (sscanf(line, "RESULT %63s %d %ld %lf %159s", nm, &tt, &ops, &el, st) != 5) {
						snprintf(r->status, sizeof r->status, "err:bad-answer");
						continue;
					}
					snprintf(r->status, sizeof r->status, "%s", st);
					if (!res_ok(r) || el <= 0)
						continue;
					double rate = ops / el;
					r->ops += ops;
					r->secs += el;
					r->rate = r->ops / r->secs;
					r->rmin = r->rounds == 0 || rate < r->rmin ? rate : r->rmin;
					r->rmax = rate > r->rmax ? rate : r->rmax;
					r->rr[rd] = rate;
					r->rounds++;
				}
			round++;
			for (int i = 0; i < ncol; i++) {
				char cell[96];
				fmt_cell(&g_res[wi][ti][i], cell, sizeof cell);
				printf(" %14.14s", cell);
			}
			printf("\n");
			fflush(stdout);
			for (int i = 0; i < ncol; i++) {
				Res *r = &g_res[wi][ti][i];
				if (strncmp(r->status, "err", 3) == 0 && strcmp(r->status, ch[i].why) != 0)
					fprintf(stderr, "  %s: %s %d: %s\n", ch[i].name, w->name, t, r->status);
			}
		}
	}
	for (int i = 0; i < ncol; i++) {
		Child *c = &ch[i];
		if (c->dead)
			continue;
		send_line(c, "RSS\n");
		if (read_line(c, line, sizeof line, 60))
			sscanf(line, "RSS %ld", &c->maxrss);
		send_line(c, "QUIT\n");
		child_wait(c);
	}
	read_file_line("/proc/loadavg", "", load1, sizeof load1);

	/* 4. Reports. */
	snprintf(path, sizeof path, "%s/results.csv", outdir);
	FILE *csv = fopen(path, "w");
	if (!csv)
		die("%s: %s", path, strerror(errno));
	fprintf(csv, "workload,threads,module,ops,seconds,ops_per_s,rounds,round_min,round_max,status\n");
	for (int wi = 0; wi < g_nwl; wi++)
		for (int ti = 0; ti < nthreads; ti++)
			for (int i = 0; i < ncol; i++) {
				Res *r = &g_res[wi][ti][i];
				if (!r->done)
					continue;
				fprintf(csv, "%s,%d,%s,%ld,%.6f,%.3f,%d,%.3f,%.3f,%s\n", g_wl[wi].name, threads[ti],
				        ch[i].name, r->ops, r->secs, r->rate, r->rounds, r->rmin, r->rmax, r->status);
			}
	fclose(csv);

	snprintf(path, sizeof path, "%s/results.md", outdir);
	FILE *md = fopen(path, "w");
	if (!md)
		die("%s: %s", path, strerror(errno));
	{
		char model[256], mem[128], date[64];
		struct utsname u;
		time_t tt = time(NULL);
		strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&tt));
		read_file_line("/proc/cpuinfo", "model name", model, sizeof model);
		read_file_line("/proc/meminfo", "MemTotal", mem, sizeof mem);
		double memkb = atof(mem);
		snprintf(mem, sizeof mem, "%.1f GiB", memkb / 1048576.0);
		uname(&u);
		fprintf(md, "Run of %s: %ld online CPUs (%s), %s memory, %s %s; %.1f s per measurement "
		            "after %.1f s warm-up; load average before %s, after %s; whole run %.0f s.\n\n",
		        date, sysconf(_SC_NPROCESSORS_ONLN), model, mem, u.sysname, u.release, secs, warm,
		        load0, load1, now() - t_start);
	}
	{
		/* How noisy was it: the spread between a cell's slowest and fastest round. */
		double sp[64 * MAXT * MAXCOL];
		int nsp = 0;
		for (int wi = 0; wi < g_nwl; wi++)
			for (int ti = 0; ti < nthreads; ti++)
				for (int i = 0; i < ncol; i++) {
					Res *r = &g_res[wi][ti][i];
					if (res_ok(r) && r->rounds > 1 && r->rate > 0)
						sp[nsp++] = (r->rmax - r->rmin) / r->rate;
				}
		for (int a = 1; a < nsp; a++)
			for (int b = a; b > 0 && sp[b] < sp[b - 1]; b--) {
				double x = sp[b];
				sp[b] = sp[b - 1];
				sp[b - 1] = x;
			}
		fprintf(md, "Operations per second (higher is better)%s. Each cell is the total count over "
		            "%d rounds of %.2f s per module, the modules taking turns round by round",
		        ncol > nch ? "; the ceiling calls Go's crypto directly, without PKCS#11" : "", rounds,
		        secs / rounds);
		if (nsp > 0)
			fprintf(md, "; spread between a cell's slowest and fastest round: median %.0f%%, "
			            "90th percentile %.0f%% (results.csv has each cell's range)",
			        100 * sp[nsp / 2], 100 * sp[(nsp * 9) / 10]);
		fprintf(md, ".\n\n");
	}
	/* Ratio columns: the first module over the second and over the first
	 * ceiling; each further module over the second and over its own ceiling. */
	int rp[2 * MAXCOL][2], nrp = 0, nceil = ncol - nch;
	for (int i = 0; i < nch; i++) {
		if (i == 1)
			continue;
		if (nch >= 2)
			rp[nrp][0] = i, rp[nrp++][1] = 1;
		if (nceil > 0)
			rp[nrp][0] = i, rp[nrp++][1] = nch + (i == 0 ? 0 : (i - 1 < nceil - 1 ? i - 1 : nceil - 1));
	}
	results_table(md, ch, ncol, rp, nrp, threads, nthreads, rounds, 0);
	if (rounds >= 4 && nrp > 0) {
		fprintf(md, "\nThe same ratios round by round: the median of the %d rounds' ratios, and "
		            "the middle half of them (25th–75th percentile). Within a round the modules ran "
		            "back to back, so a drift of the machine's load over the run mostly cancels.\n\n",
		        rounds);
		results_table(md, ch, ncol, rp, nrp, threads, nthreads, rounds, 1);
	}
	/* Two-thread scaling: ops/s at the highest thread count over ops/s at the lowest. */
	if (nthreads >= 2) {
		fprintf(md, "\nScaling, ops/s at %d threads over ops/s at %d thread(s):\n\n| workload |",
		        threads[nthreads - 1], threads[0]);
		for (int i = 0; i < ncol; i++)
			fprintf(md, " %s |", ch[i].name);
		fprintf(md, "\n|---|");
		for (int i = 0; i < ncol; i++)
			fprintf(md, "--:|");
		fprintf(md, "\n");
		for (int wi = 0; wi < g_nwl; wi++) {
			char cell[32];
			if (!g_res[wi][0][0].done || g_wl[wi].single)
				continue;
			fprintf(md, "| %s |", g_wl[wi].name);
			for (int i = 0; i < ncol; i++) {
				fmt_ratio(&g_res[wi][nthreads - 1][i], &g_res[wi][0][i], cell, sizeof cell);
				fprintf(md, " %s |", cell);
			}
			fprintf(md, "\n");
		}
	}
	fprintf(md, "\nMemory and store, per module (each module ran in its own worker process):\n\n");
	fprintf(md, "| | ");
	for (int i = 0; i < ncol; i++)
		fprintf(md, "%s | ", ch[i].name);
	fprintf(md, "\n|---|");
	for (int i = 0; i < ncol; i++)
		fprintf(md, "--:|");
	fprintf(md, "\n| peak RSS of the benchmark worker (MiB) |");
	for (int i = 0; i < ncol; i++)
		if (ch[i].maxrss > 0)
			fprintf(md, " %.1f |", ch[i].maxrss / 1024.0);
		else
			fprintf(md, " – |");
	fprintf(md, "\n| C_CreateObject, data object, %ld in a row (ops/s) |", large);
	for (int i = 0; i < ncol; i++) {
		const char *v = i < nch ? info_get(&ch[i], "create_large_ops_s") : NULL;
		fprintf(md, " %s |", v ? v : "–");
	}
	fprintf(md, "\n| RSA-2048 key pair generation in setup (s) |");
	for (int i = 0; i < ncol; i++) {
		const char *v = i < nch ? info_get(&ch[i], "setup_rsa_keygen_s") : NULL;
		fprintf(md, " %s |", v ? v : "–");
	}
	for (int s = 0; s < NSTORES; s++) {
		fprintf(md, "\n| store with the %s (%ld data objects): bytes in files (allocated on disk) |",
		        s == S_MAIN ? "keys" : store_name[s], ch[0].probe[s][0]);
		for (int i = 0; i < ncol; i++)
			if (i < nch)
				fprintf(md, " %lld (%lld) |", ch[i].store_bytes[s], ch[i].store_alloc[s]);
			else
				fprintf(md, " – |");
	}
	fprintf(md, "\n| bytes per object: large store / %ld |", large);
	for (int i = 0; i < ncol; i++)
		if (i < nch)
			fprintf(md, " %.0f |", (double)ch[i].store_bytes[S_LARGE] / (double)large);
		else
			fprintf(md, " – |");
	fprintf(md, "\n| bytes per object: (large − small) / %ld, in files (allocated) |", large - small);
	for (int i = 0; i < ncol; i++)
		if (i < nch && large > small)
			fprintf(md, " %.0f (%.0f) |",
			        (double)(ch[i].store_bytes[S_LARGE] - ch[i].store_bytes[S_SMALL]) /
			            (double)(large - small),
			        (double)(ch[i].store_alloc[S_LARGE] - ch[i].store_alloc[S_SMALL]) /
			            (double)(large - small));
		else
			fprintf(md, " – |");
	for (int s = 0; s < NSTORES; s++) {
		fprintf(md, "\n| RSS after C_Initialize+login, %s store (MiB) |", store_name[s]);
		for (int i = 0; i < ncol; i++)
			fprintf(md, i < nch ? " %.1f |" : " – |", ch[i].probe[s][2] / 1024.0);
		fprintf(md, "\n| RSS after reading every object's label, %s store (MiB) |", store_name[s]);
		for (int i = 0; i < ncol; i++)
			fprintf(md, i < nch ? " %.1f |" : " – |", ch[i].probe[s][3] / 1024.0);
	}
	fprintf(md, "\n| RSS growth per object, large − small store, after reading all (bytes) |");
	for (int i = 0; i < ncol; i++)
		if (i < nch && large > small)
			fprintf(md, " %.0f |",
			        (ch[i].probe[S_LARGE][3] - ch[i].probe[S_SMALL][3]) * 1024.0 / (double)(large - small));
		else
			fprintf(md, " – |");
	{
		int first = 1;
		for (int wi = 0; wi < g_nwl; wi++)
			for (int i = 0; i < ncol; i++) {
				Res *r = &g_res[wi][0][i];
				if (!res_ok(r) || strncmp(r->status, "ok:", 3) != 0)
					continue;
				char note[160];
				snprintf(note, sizeof note, "%s", r->status + 3);
				for (char *q = note; *q; q++)
					if (*q == '_')
						*q = ' ';
				fprintf(md, "%s† %s, %s: %s.", first ? "\n\n" : " ", ch[i].name, g_wl[wi].name, note);
				first = 0;
			}
		fprintf(md, "\n\nFailures and n/a:");
		first = 1;
		for (int i = 0; i < ncol; i++)
			if (!strcmp(ch[i].why, "err:setup-failed") || !strcmp(ch[i].why, "err:worker-did-not-start")) {
				fprintf(md, "%s %s: `%s` (no results)", first ? "" : ";", ch[i].name, ch[i].why);
				first = 0;
			}
		for (int wi = 0; wi < g_nwl; wi++)
			for (int ti = 0; ti < nthreads; ti++)
				for (int i = 0; i < ncol; i++) {
					Res *r = &g_res[wi][ti][i];
					if (!r->done || res_ok(r) || !strcmp(r->status, "na:token-only") ||
					    !strcmp(r->status, "na:single-threaded-by-nature") ||
					    !strcmp(r->status, "err:setup-failed") ||
					    !strcmp(r->status, "err:worker-did-not-start"))
						continue;
					fprintf(md, "%s %s %s/%d: `%s`", first ? "" : ";", ch[i].name, g_wl[wi].name,
					        threads[ti], r->status);
					first = 0;
				}
		fprintf(md, "%s", first ? " none.\n" : ".\n");
	}
	fprintf(md, "\nModules:");
	for (int i = 0; i < ncol; i++)
		fprintf(md, " %s = `%s` (%s)%s", ch[i].name, ch[i].path, ch[i].desc, i + 1 < ncol ? ";" : ".");
	fprintf(md, "\n");
	fclose(md);
	printf("\nwrote %s/results.csv and %s/results.md (run took %.0f s; load average %s)\n", outdir,
	       outdir, now() - t_start, load1);
	if (!keep)
		rm_rf(scratch);
	else
		printf("kept %s\n", scratch);
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	g_self[n] = 0;
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (argc == 7 && !strcmp(argv[1], "setup"))
		return g_prog = "p11bench setup", cmd_setup(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "probe"))
		return g_prog = "p11bench probe", cmd_probe(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "worker"))
		return g_prog = "p11bench worker", cmd_worker(argv + 2);
	usage();
}
