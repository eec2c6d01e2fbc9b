/*
 * hostile.c: generated hostile calls at the C ABI of libcraton.so.
 *
 * A seeded generator makes random calls across all 92 C_* functions with
 * hostile arguments (NULL, short, guarded and valid pointers; valid, 0,
 * random, stale and wrong-kind handles; lengths 0, short, huge and random;
 * malformed templates and mechanism parameters) in varied session states
 * (R/O and R/W sessions, logged out, user or SO, operations active, after
 * C_Finalize and a new C_Initialize). Every return value must be one the
 * OASIS PKCS#11 3.0 base specification allows for the function (the tables
 * are abi.c's); CKR_GENERAL_ERROR anywhere is a failure (it means a recovered
 * panic or an unmapped error in Craton).
 *
 * Cases run in batches, each in a forked child that dlopens the library
 * itself (the parent never loads it) under alarm(30). After each batch the
 * token must still work (session, login, create, find, destroy, C_Finalize)
 * and the module log must not contain "recovered panic" (nor "error without
 * a CK_RV", the unmapped-error line). The parent reports a crash or a hang
 * with the seed, the batch and the last case.
 *
 * The store is harness.h's scratch store (h_scratch_store: a temp dir and a
 * re-exec with CRATON_CONF set); the configuration file is rewritten with
 * a [log] file, kdf_iterations = 1000 and max_failures = 1000 (generated
 * wrong PINs must not lock the token). Every batch child uses that store.
 *
 * Buffers the library is given are "guarded": they end where a PROT_NONE
 * page begins, so a read or write past the length the call states faults.
 *
 * Run: CRATON_SO=/abs/libcraton.so build/hostile
 * Environment: HOSTILE_SEED (default: time-based, printed), HOSTILE_CASES
 * (default 12000), HOSTILE_BATCH (cases per batch, default 500),
 * HOSTILE_VERBOSE=1 (print every case and its return value), HOSTILE_ONLY=k
 * (run batch k only; the store then starts empty, so a case that depends on
 * what earlier batches left may not repeat), HOSTILE_STATS=1 (the return
 * values seen per function), HOSTILE_QUIET=1 (no line per batch).
 *
 * A failure names the batch, the case number and the case: the function and
 * how each argument was made ("[calm]" marks a mostly-valid case; "live",
 * "stale", "random", ... the kind of handle; "buf[n]" a guarded buffer of n
 * bytes, "1<<40" a huge length; "mode" 0 right parameter, 1 inner NULL
 * pointers with lengths, 2 inner absurd lengths, 3 bad field values).
 */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>

static CK_FUNCTION_LIST_3_0 *F;

/* The allowed return codes, Craton's extras included (see allowed.h). */
#define CRATON(...) , __VA_ARGS__
#include "allowed.h"

/* ==== Argument variables ==================================================== */

/* PTR_ARGS, LEN_ARGS, OBJ_ARGS: harness.h. */

#define DECL_PTR(n) static void *n;
#define DECL_UL(n) static CK_ULONG n;
PTR_ARGS(DECL_PTR)
LEN_ARGS(DECL_UL)
OBJ_ARGS(DECL_UL)
static CK_ULONG tokenPresent, flags, type, hSession, slotID, userType;
static CK_NOTIFY Notify;

struct var {
	const char *name;
	void **p;
	CK_ULONG *u;
};
#define VAR_PTR(n) {#n, &n, NULL},
#define VAR_UL(n) {#n, NULL, &n},
static struct var vars[] = {PTR_ARGS(VAR_PTR) LEN_ARGS(VAR_UL) OBJ_ARGS(VAR_UL)
                            {"tokenPresent", NULL, &tokenPresent}, {"flags", NULL, &flags},
                            {"type", NULL, &type}, {"hSession", NULL, &hSession},
                            {"slotID", NULL, &slotID}, {"userType", NULL, &userType}};
#define NVARS ((int)(sizeof vars / sizeof vars[0]))

static void **pvar(const char *name)
{
	for (int i = 0; i < NVARS; i++)
		if (vars[i].p != NULL && strcmp(vars[i].name, name) == 0)
			return vars[i].p;
	h_fatal("no pointer variable %s", name);
	return NULL;
}

static CK_ULONG *uvar(const char *name)
{
	for (int i = 0; i < NVARS; i++)
		if (vars[i].u != NULL && strcmp(vars[i].name, name) == 0)
			return vars[i].u;
	h_fatal("no CK_ULONG variable %s", name);
	return NULL;
}

#define THUNK(name, params, args) \
	static CK_RV call_##name(void) \
	{ \
		h_calls++; \
		return F->C_##name args; \
	}
CK_FUNCTIONS_2_40(THUNK, THUNK)
CK_FUNCTIONS_3_0(THUNK, THUNK)

/* ==== The function table ================================================== */

#define MAX_PARAMS 12

struct param {
	char name[48];
	int is_ptr;
};

struct fn {
	const char *name;
	const char *params;
	CK_RV (*call)(void);
	const CK_RV *allow;
	int loader;
	struct param p[MAX_PARAMS];
	int np;
	unsigned long ncalls; /* hostile cases made with this function (this batch) */
};

#define ENTRY(name, params, args) {"C_" #name, #params, call_##name, allow_##name, 0, {{"", 0}}, 0, 0},
#define LENTRY(name, params, args) {"C_" #name, #params, call_##name, allow_##name, 1, {{"", 0}}, 0, 0},
static struct fn fns[] = {CK_FUNCTIONS_2_40(ENTRY, LENTRY) CK_FUNCTIONS_3_0(ENTRY, LENTRY)};
#define NFNS ((int)(sizeof fns / sizeof fns[0]))

static void parse_params(struct fn *f)
{
	const char *s = f->params;

	if (*s == '(')
		s++;
	while (*s != '\0' && *s != ')') {
		const char *end = s, *name_end, *name_start;
		char type_txt[96];
		struct param *p;

		while (*end != '\0' && *end != ',' && *end != ')')
			end++;
		name_end = end;
		while (name_end > s && name_end[-1] == ' ')
			name_end--;
		name_start = name_end;
		while (name_start > s && (name_start[-1] == '_' || (name_start[-1] >= 'a' && name_start[-1] <= 'z') ||
		                          (name_start[-1] >= 'A' && name_start[-1] <= 'Z') ||
		                          (name_start[-1] >= '0' && name_start[-1] <= '9')))
			name_start--;
		if (f->np >= MAX_PARAMS)
			h_fatal("%s: too many parameters", f->name);
		p = &f->p[f->np++];
		snprintf(p->name, sizeof p->name, "%.*s", (int)(name_end - name_start), name_start);
		snprintf(type_txt, sizeof type_txt, "%.*s", (int)(name_start - s), s);
		p->is_ptr = strstr(type_txt, "_PTR") != NULL || strstr(type_txt, "CK_NOTIFY") != NULL;
		s = end;
		if (*s == ',')
			s++;
		while (*s == ' ')
			s++;
	}
}

static struct fn *fn_named(const char *name)
{
	for (int i = 0; i < NFNS; i++)
		if (strcmp(fns[i].name, name) == 0)
			return &fns[i];
	h_fatal("no function %s", name);
	return NULL;
}

static int in_set(CK_RV rv, const CK_RV *set)
{
	for (; *set != END_RV; set++)
		if (*set == rv)
			return 1;
	return 0;
}

/* ==== Random numbers (splitmix64) ========================================== */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static CK_ULONG rn(CK_ULONG n) { return n ? (CK_ULONG)(rnd() % n) : 0; }
static int pct(unsigned p) { return rn(100) < p; }
static void rfill(void *p, size_t n)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)rnd();
}

/* ==== Guarded buffers =======================================================
 *
 * gbuf(n) gives n bytes that end where a PROT_NONE page starts. Each call in
 * a case takes a fresh area (NAREAS per case at most); the areas are never
 * unmapped, so a pointer the library keeps stays mapped. gbig() gives one of
 * two 1 MiB areas, for outputs whose stated capacity is huge.
 */
#define PG 4096UL
#define AREA_USE (3 * PG)
#define NAREAS 192
#define BIG_USE (256 * PG)
#define HUGE_LEN (1UL << 40)

static unsigned char *arena, *bigarena;
static int area_next, big_next;

static void arena_init(void)
{
	arena = mmap(NULL, NAREAS * (AREA_USE + PG), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bigarena = mmap(NULL, 2 * (BIG_USE + PG), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || bigarena == MAP_FAILED)
		h_fatal("mmap: %s", strerror(errno));
	for (int i = 0; i < NAREAS; i++)
		if (mprotect(arena + i * (AREA_USE + PG) + AREA_USE, PG, PROT_NONE) != 0)
			h_fatal("mprotect: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (mprotect(bigarena + i * (BIG_USE + PG) + BIG_USE, PG, PROT_NONE) != 0)
			h_fatal("mprotect: %s", strerror(errno));
}

/* gbuf: n bytes (n <= AREA_USE) ending at a guard page, filled with junk. */
static void *gbuf(size_t n)
{
	unsigned char *a;

	if (n > AREA_USE)
		h_fatal("gbuf(%zu): too big", n);
	if (area_next >= NAREAS)
		h_fatal("gbuf: more than %d buffers in one case", NAREAS);
	a = arena + (size_t)area_next++ * (AREA_USE + PG) + AREA_USE - n;
	memset(a, 0xA5, n);
	return a;
}

/* gbufa: as gbuf, n rounded up to a multiple of 8 (for structures). */
static void *gbufa(size_t n) { return gbuf((n + 7) & ~(size_t)7); }

static void *gbig(void)
{
	unsigned char *a = bigarena + (size_t)(big_next++ % 2) * (BIG_USE + PG);
	return a;
}

/* ==== Shared state with the parent ========================================= */

struct shared {
	unsigned long passed, failed, calls, cases;
	unsigned long cur_case;  /* the case being run (global index) */
	int done;                /* the child got to its end */
	int so_pin, user_pin;    /* indexes into pins[] of the PINs in force */
	int user_pin_known;      /* 0: a hostile C_InitPIN set a PIN we do not know */
	struct {
		CK_RV rv;
		unsigned long n;
	} hist[92][24];          /* return values of the generated cases */
	char desc[2048];         /* the case being run, described */
	char phase[128];         /* what the child is doing */
};
static struct shared *shm;

static const char *const pins[] = {"12345678", "87654321", "11223344", "55667788"};
#define NPINS 4

static void phase(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(shm->phase, sizeof shm->phase, fmt, ap);
	va_end(ap);
}

/* ==== Case descriptions ==================================================== */

static char desc[2048];
static size_t desc_len;
static int verbose;

static void D(const char *fmt, ...)
{
	va_list ap;
	int w;

	if (desc_len + 1 >= sizeof desc)
		return;
	va_start(ap, fmt);
	w = vsnprintf(desc + desc_len, sizeof desc - desc_len, fmt, ap);
	va_end(ap);
	if (w > 0)
		desc_len = desc_len + (size_t)w < sizeof desc ? desc_len + (size_t)w : sizeof desc - 1;
}

static const char *lenname(CK_ULONG n)
{
	static char buf[4][32];
	static int k;
	char *b = buf[k++ % 4];

	if (n == HUGE_LEN)
		return "1<<40";
	if (n == ~0UL)
		return "~0";
	snprintf(b, 32, "%lu", n);
	return b;
}

/* ==== Verdicts ============================================================= */

static unsigned long batch_index, batch_fail_msgs;

static void failf(const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	shm->failed++;
	if (++batch_fail_msgs <= 40)
		fprintf(stderr, "hostile: FAIL: batch %lu case %lu: %s\n", batch_index, shm->cur_case, msg);
	else if (batch_fail_msgs == 41)
		fprintf(stderr, "hostile: (further failures of batch %lu not shown)\n", batch_index);
}

/* verdict checks one return value against its function's table. what says
 * what the call was (the case description for a generated case). */
static int verdict(const struct fn *f, CK_RV rv, const char *what)
{
	if (rv == CKR_GENERAL_ERROR) {
		failf("%s returned CKR_GENERAL_ERROR (a recovered panic or an unmapped error): %s", f->name,
		      what);
		return 0;
	}
	if (!in_set(rv, f->allow)) {
		failf("%s returned %s, which the spec does not allow for it: %s", f->name, rv_name(rv), what);
		return 0;
	}
	shm->passed++;
	return 1;
}

/* chk: a setup or check call made with valid arguments. */
static CK_RV chk_(const char *name, CK_RV rv, const char *what)
{
	verdict(fn_named(name), rv, what);
	return rv;
}
#define CK(fn, ...) (h_calls++, shm->calls++, chk_("C_" #fn, F->C_##fn(__VA_ARGS__), #fn "(" #__VA_ARGS__ ")"))

/* must: a call that has to give want (the token must work). */
static int must(const char *what, CK_RV rv, CK_RV want)
{
	if (rv == want) {
		shm->passed++;
		return 1;
	}
	failf("%s: got %s, want %s", what, rv_name(rv), rv_name(want));
	return 0;
}

/* ==== More constants ======================================================= */

#define CKO_PUBLIC_KEY 2UL
#define CKO_PRIVATE_KEY 3UL
#define CKK_RSA 0UL
#define CKK_EC 3UL
#define CKK_GENERIC_SECRET 0x10UL
#define CKK_EC_EDWARDS 0x40UL
#define CKK_HKDF 0x42UL
#define CKA_OBJECT_ID 0x12UL
#define CKA_UNIQUE_ID 0x4UL
#define CKA_CERTIFICATE_TYPE 0x80UL
#define CKA_TRUSTED 0x86UL
#define CKA_ID 0x102UL
#define CKA_WRAP 0x106UL
#define CKA_UNWRAP 0x107UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_DERIVE 0x10CUL
#define CKA_START_DATE 0x110UL
#define CKA_END_DATE 0x111UL
#define CKA_MODULUS 0x120UL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_LOCAL 0x163UL
#define CKA_NEVER_EXTRACTABLE 0x164UL
#define CKA_ALWAYS_SENSITIVE 0x165UL
#define CKA_KEY_GEN_MECHANISM 0x166UL
#define CKA_COPYABLE 0x171UL
#define CKA_DESTROYABLE 0x172UL
#define CKA_EC_PARAMS 0x180UL
#define CKA_EC_POINT 0x181UL
#define CKA_WRAP_WITH_TRUSTED 0x210UL
#define CKA_WRAP_TEMPLATE 0x40000211UL
#define CKA_ALLOWED_MECHANISMS 0x40000600UL
#define CKA_CRATON_GCM_REMAINING (CKA_VENDOR_DEFINED | 0x43520001UL)

#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x0UL
#define CKM_RSA_PKCS 0x1UL
#define CKM_RSA_X_509 0x3UL
#define CKM_SHA1_RSA_PKCS 0x6UL
#define CKM_RSA_PKCS_OAEP 0x9UL
#define CKM_RSA_PKCS_PSS 0xDUL
#define CKM_SHA256_RSA_PKCS 0x40UL
#define CKM_SHA256_RSA_PKCS_PSS 0x43UL
#define CKM_SHA512_RSA_PKCS_PSS 0x45UL
#define CKM_SHA_1 0x220UL
#define CKM_SHA_1_HMAC 0x221UL
#define CKM_SHA256_HMAC 0x251UL
#define CKM_SHA256_HMAC_GENERAL 0x252UL
#define CKM_SHA384 0x260UL
#define CKM_SHA384_HMAC 0x261UL
#define CKM_SHA512 0x270UL
#define CKM_SHA512_HMAC 0x271UL
#define CKM_GENERIC_SECRET_KEY_GEN 0x350UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL
#define CKM_ECDSA_SHA256 0x1044UL
#define CKM_ECDSA_SHA512 0x1046UL
#define CKM_ECDH1_DERIVE 0x1050UL
#define CKM_ECDH1_COFACTOR_DERIVE 0x1051UL
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#define CKM_EDDSA 0x1057UL
#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_ECB 0x1081UL
#define CKM_AES_CBC 0x1082UL
#define CKM_AES_CBC_PAD 0x1085UL
#define CKM_AES_CTR 0x1086UL
#define CKM_AES_GCM 0x1087UL
#define CKM_AES_KEY_WRAP 0x2109UL
#define CKM_AES_KEY_WRAP_PAD 0x210AUL
#define CKM_AES_KEY_WRAP_KWP 0x210BUL
#define CKM_HKDF_DERIVE 0x402AUL
#define CKM_HKDF_DATA 0x402BUL
#define CKM_HKDF_KEY_GEN 0x402CUL

#define CKG_MGF1_SHA1 1UL
#define CKG_MGF1_SHA256 2UL
#define CKZ_DATA_SPECIFIED 1UL
#define CKD_NULL 1UL
#define CKF_HKDF_SALT_NULL 1UL
#define CKF_HKDF_SALT_DATA 2UL
#define CKF_HKDF_SALT_KEY 4UL
#define CKF_END_OF_MESSAGE 1UL
#define CKM_VENDOR_DEFINED_ 0x80000000UL

/* Parameter structures (LP64 layout, as the OASIS headers define them). */
typedef struct {
	CK_BYTE *pIv;
	CK_ULONG ulIvLen, ulIvBits;
	CK_BYTE *pAAD;
	CK_ULONG ulAADLen, ulTagBits;
} gcm_params;
typedef struct {
	CK_ULONG hashAlg, mgf, source;
	void *pSourceData;
	CK_ULONG ulSourceDataLen;
} oaep_params;
typedef struct {
	CK_ULONG hashAlg, mgf, sLen;
} pss_params;
typedef struct {
	CK_ULONG kdf, ulSharedDataLen;
	CK_BYTE *pSharedData;
	CK_ULONG ulPublicDataLen;
	CK_BYTE *pPublicData;
} ecdh_params;
typedef struct {
	CK_BBOOL bExtract, bExpand;
	CK_ULONG prfHashMechanism, ulSaltType;
	CK_BYTE *pSalt;
	CK_ULONG ulSaltLen;
	CK_OBJECT_HANDLE hSaltKey;
	CK_BYTE *pInfo;
	CK_ULONG ulInfoLen;
} hkdf_params;
typedef struct {
	CK_BBOOL phFlag;
	CK_ULONG ulContextDataLen;
	CK_BYTE *pContextData;
} eddsa_params;
typedef struct {
	CK_ULONG ulCounterBits;
	CK_BYTE cb[16];
} ctr_params;

/* DER OID of P-256, P-384, Ed25519 (as CKA_EC_PARAMS). */
static const CK_BYTE oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const CK_BYTE oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const CK_BYTE oid_secp256k1[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};

/* ==== The model of the library's state ==================================== */

#define MAXSES 64
#define MAXOBJ 512

/* Operations a session has active (as far as the model knows). */
#define OP_ENC 0x01
#define OP_DEC 0x02
#define OP_SIGN 0x04
#define OP_VERIFY 0x08
#define OP_DIGEST 0x10
#define OP_FIND 0x20

struct ses {
	CK_SESSION_HANDLE h;
	int rw, live;
	unsigned ops;
};
static struct ses sess[MAXSES];
static int nsess;

enum kind { K_UNKNOWN, K_DATA, K_AES, K_HMAC, K_EC_PRIV, K_EC_PUB, K_ED_PRIV, K_ED_PUB, K_RSA_PRIV, K_RSA_PUB, K_OTHER_KEY };
static const char *const kind_names[] = {"unknown", "data", "aes", "hmac", "ec-priv", "ec-pub",
                                         "ed-priv", "ed-pub", "rsa-priv", "rsa-pub", "other-key"};
struct obj {
	CK_OBJECT_HANDLE h;
	enum kind k;
	int live;
};
static struct obj objs[MAXOBJ];
static int nobjs;

static int initialized;  /* C_Initialize succeeded and no C_Finalize since */
static int login_state;  /* 0 public, 1 user, 2 SO */
static int user_pin_init; /* the token has a user PIN */
static CK_ULONG min_pin = 4, max_pin = 64;
static CK_BYTE ec_point[80]; /* the EC fixture's public point (DER OCTET STRING) */
static CK_ULONG ec_point_len;
static unsigned long uninit_cases; /* cases run since C_Finalize */

static void add_session(CK_SESSION_HANDLE h, int rw)
{
	if (nsess == MAXSES) { /* forget the oldest stale one */
		for (int i = 0; i < nsess; i++)
			if (!sess[i].live) {
				sess[i] = sess[--nsess];
				break;
			}
		if (nsess == MAXSES)
			return;
	}
	sess[nsess].h = h;
	sess[nsess].rw = rw;
	sess[nsess].live = 1;
	sess[nsess].ops = 0;
	nsess++;
}

static int live_sessions(void)
{
	int n = 0;
	for (int i = 0; i < nsess; i++)
		n += sess[i].live;
	return n;
}

static void all_sessions_gone(void)
{
	for (int i = 0; i < nsess; i++)
		sess[i].live = 0;
	login_state = 0;
}

static void session_gone(CK_SESSION_HANDLE h)
{
	for (int i = 0; i < nsess; i++)
		if (sess[i].h == h)
			sess[i].live = 0;
	if (live_sessions() == 0)
		login_state = 0;
}

static void add_object(CK_OBJECT_HANDLE h, enum kind k)
{
	for (int i = 0; i < nobjs; i++)
		if (objs[i].h == h) {
			objs[i].live = 1;
			objs[i].k = k;
			return;
		}
	if (nobjs == MAXOBJ) {
		for (int i = 0; i < nobjs; i++)
			if (!objs[i].live) {
				objs[i] = objs[--nobjs];
				break;
			}
		if (nobjs == MAXOBJ)
			return;
	}
	objs[nobjs].h = h;
	objs[nobjs].k = k;
	objs[nobjs].live = 1;
	nobjs++;
}

static void object_gone(CK_OBJECT_HANDLE h)
{
	for (int i = 0; i < nobjs; i++)
		if (objs[i].h == h)
			objs[i].live = 0;
}

static void all_objects_stale(void)
{
	for (int i = 0; i < nobjs; i++)
		objs[i].live = 0;
}

/* A live session, preferring rw (1), ro (0) or either (-1); 0 if none. */
static CK_SESSION_HANDLE live_session(int rw)
{
	int idx[MAXSES], n = 0;

	for (int i = 0; i < nsess; i++)
		if (sess[i].live && (rw < 0 || sess[i].rw == rw))
			idx[n++] = i;
	if (n == 0)
		return rw < 0 ? 0 : live_session(-1);
	return sess[idx[rn((CK_ULONG)n)]].h;
}

static CK_OBJECT_HANDLE live_object(enum kind k)
{
	int idx[MAXOBJ], n = 0;

	for (int i = 0; i < nobjs; i++)
		if (objs[i].live && (k == K_UNKNOWN || objs[i].k == k))
			idx[n++] = i;
	if (n == 0)
		return 0;
	return objs[idx[rn((CK_ULONG)n)]].h;
}

static CK_OBJECT_HANDLE stale_object(void)
{
	int idx[MAXOBJ], n = 0;

	for (int i = 0; i < nobjs; i++)
		if (!objs[i].live)
			idx[n++] = i;
	return n ? objs[idx[rn((CK_ULONG)n)]].h : 0x7777UL;
}

static CK_SESSION_HANDLE stale_session(void)
{
	int idx[MAXSES], n = 0;

	for (int i = 0; i < nsess; i++)
		if (!sess[i].live)
			idx[n++] = i;
	return n ? sess[idx[rn((CK_ULONG)n)]].h : 0x6666UL;
}

/* ==== Calls with the state model kept up to date ========================== */

static int session_is_live(CK_SESSION_HANDLE h)
{
	for (int i = 0; i < nsess; i++)
		if (sess[i].live && sess[i].h == h)
			return 1;
	return 0;
}

static int pin_index(const void *p, CK_ULONG n)
{
	if (p == NULL)
		return -1;
	for (int i = 0; i < NPINS; i++)
		if (n == strlen(pins[i]) && memcmp(p, pins[i], n) == 0)
			return i;
	return -1;
}

static enum kind keygen_kind(CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_AES_KEY_GEN:
		return K_AES;
	case CKM_GENERIC_SECRET_KEY_GEN:
	case CKM_HKDF_KEY_GEN:
		return K_HMAC;
	default:
		return K_UNKNOWN;
	}
}

/* post_call updates the model after f returned rv with the current
 * argument variables. */
static void post_call(const struct fn *f, CK_RV rv)
{
	const char *n = f->name + 2;

	if (strcmp(n, "Initialize") == 0) {
		if (rv == CKR_OK) {
			initialized = 1;
			uninit_cases = 0;
		}
		return;
	}
	if (rv != CKR_OK)
		return;
	if (strcmp(n, "Finalize") == 0) {
		initialized = 0;
		uninit_cases = 0;
		all_sessions_gone();
		all_objects_stale();
	} else if (strcmp(n, "OpenSession") == 0) {
		if (phSession != NULL)
			add_session(*(CK_SESSION_HANDLE *)phSession, (flags & CKF_RW_SESSION) != 0);
	} else if (strcmp(n, "CloseSession") == 0) {
		session_gone(hSession);
	} else if (strcmp(n, "CloseAllSessions") == 0) {
		all_sessions_gone();
	} else if (strcmp(n, "Login") == 0 || strcmp(n, "LoginUser") == 0) {
		if (userType == CKU_USER)
			login_state = 1;
		else if (userType == CKU_SO)
			login_state = 2;
	} else if (strcmp(n, "Logout") == 0) {
		login_state = 0;
	} else if (strcmp(n, "InitToken") == 0) {
		user_pin_init = 0;
		all_objects_stale();
	} else if (strcmp(n, "InitPIN") == 0) {
		int i = pin_index(pPin, ulPinLen);
		user_pin_init = 1;
		if (i >= 0) {
			shm->user_pin = i;
			shm->user_pin_known = 1;
		} else {
			shm->user_pin_known = 0;
			failf("C_InitPIN accepted a PIN of %lu bytes outside the token's range %lu..%lu", ulPinLen,
			      min_pin, max_pin);
		}
	} else if (strcmp(n, "SetPIN") == 0) {
		int i = pin_index(pNewPin, ulNewLen);
		if (i < 0) {
			failf("C_SetPIN accepted a new PIN of %lu bytes outside the token's range %lu..%lu", ulNewLen,
			      min_pin, max_pin);
			if (login_state != 2)
				shm->user_pin_known = 0;
		} else if (login_state == 2) {
			shm->so_pin = i;
		} else {
			shm->user_pin = i;
			shm->user_pin_known = 1;
		}
	} else if (strcmp(n, "CreateObject") == 0) {
		if (phObject != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phObject, K_UNKNOWN);
	} else if (strcmp(n, "CopyObject") == 0) {
		if (phNewObject != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phNewObject, K_UNKNOWN);
	} else if (strcmp(n, "GenerateKey") == 0) {
		if (phKey != NULL && pMechanism != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phKey, keygen_kind(((CK_MECHANISM *)pMechanism)->mechanism));
	} else if (strcmp(n, "UnwrapKey") == 0 || strcmp(n, "DeriveKey") == 0) {
		if (phKey != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phKey, K_UNKNOWN);
	} else if (strcmp(n, "GenerateKeyPair") == 0) {
		CK_MECHANISM_TYPE m = pMechanism != NULL ? ((CK_MECHANISM *)pMechanism)->mechanism : 0;
		enum kind pub = m == CKM_EC_KEY_PAIR_GEN ? K_EC_PUB : m == CKM_EC_EDWARDS_KEY_PAIR_GEN ? K_ED_PUB : K_RSA_PUB;
		if (phPublicKey != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phPublicKey, pub);
		if (phPrivateKey != NULL)
			add_object(*(CK_OBJECT_HANDLE *)phPrivateKey, (enum kind)(pub - 1));
	} else if (strcmp(n, "DestroyObject") == 0) {
		object_gone(hObject);
	}
}

static int takes(const struct fn *f, const char *param)
{
	for (int i = 0; i < f->np; i++)
		if (strcmp(f->p[i].name, param) == 0)
			return 1;
	return 0;
}

/* invoke calls f with the argument variables as they are, checks the
 * return value (the allowed table, plus what the model makes certain) and
 * updates the model. what describes the call for messages. */
static CK_RV invoke(struct fn *f, const char *what)
{
	int was_init = initialized;
	int dead_session = takes(f, "hSession") && !session_is_live(hSession);
	CK_RV rv;

	h_calls++;
	shm->calls++;
	rv = f->call();
	if (verdict(f, rv, what)) {
		if (!f->loader && strcmp(f->name, "C_Initialize") != 0) {
			if (!was_init && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
				failf("%s returned %s after C_Finalize (want CKR_CRYPTOKI_NOT_INITIALIZED): %s", f->name,
				      rv_name(rv), what);
			else if (was_init && rv == CKR_CRYPTOKI_NOT_INITIALIZED)
				failf("%s returned CKR_CRYPTOKI_NOT_INITIALIZED while the library is initialised: %s",
				      f->name, what);
		}
		if (was_init && dead_session && (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL))
			failf("%s returned %s for a session handle that is not open (0x%lx): %s", f->name, rv_name(rv),
			      hSession, what);
	}
	post_call(f, rv);
	return rv;
}

/* Simple call helpers for set-up and checks: they set the argument
 * variables a function uses and go through invoke. */
static CK_RV do_open(int rw, CK_SESSION_HANDLE *out)
{
	CK_SESSION_HANDLE h = 0;
	CK_RV rv;

	slotID = 0;
	flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	pApplication = NULL;
	Notify = NULL;
	phSession = &h;
	rv = invoke(fn_named("C_OpenSession"), "set-up: C_OpenSession");
	phSession = NULL;
	if (out != NULL)
		*out = h;
	return rv;
}

static CK_RV do_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, const char *pin)
{
	hSession = s;
	userType = u;
	pPin = (void *)pin;
	ulPinLen = strlen(pin);
	return invoke(fn_named("C_Login"), u == CKU_SO ? "set-up: C_Login(SO)" : "set-up: C_Login(user)");
}

static CK_RV do_logout(CK_SESSION_HANDLE s)
{
	hSession = s;
	return invoke(fn_named("C_Logout"), "set-up: C_Logout");
}

/* ==== Token set-up and the end-of-batch check ============================= */

static void attr(CK_ATTRIBUTE *a, CK_ATTRIBUTE_TYPE t, const void *v, CK_ULONG n)
{
	a->type = t;
	a->pValue = (void *)v;
	a->ulValueLen = n;
}

/* login_user logs s (the only session, R/W) in as the user, putting the
 * user PIN right through the SO when a hostile call left it unknown,
 * uninitialised or locked. Returns 1 on success. */
static int login_user(CK_SESSION_HANDLE s)
{
	CK_RV rv;
	int so_ok = 0, upin;

	rv = do_login(s, CKU_USER, pins[shm->user_pin]);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return login_state = 1, 1;
	if (rv == CKR_USER_ANOTHER_ALREADY_LOGGED_IN) {
		do_logout(s);
		rv = do_login(s, CKU_USER, pins[shm->user_pin]);
		if (rv == CKR_OK)
			return 1;
	}
	/* Through the SO: probe the candidates if the SO PIN moved. */
	for (int k = 0; k < NPINS && !so_ok; k++) {
		int i = (shm->so_pin + k) % NPINS;
		rv = do_login(s, CKU_SO, pins[i]);
		if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
			shm->so_pin = i;
			so_ok = 1;
		} else if (rv == CKR_USER_ANOTHER_ALREADY_LOGGED_IN) {
			do_logout(s);
			k--;
		} else if (rv != CKR_PIN_INCORRECT) {
			break;
		}
	}
	if (!so_ok) {
		failf("token check: cannot log in as SO with any known PIN (last %s)", rv_name(rv));
		return 0;
	}
	upin = shm->so_pin == 1 ? 2 : 1;
	hSession = s;
	pPin = (void *)pins[upin];
	ulPinLen = 8;
	rv = invoke(fn_named("C_InitPIN"), "set-up: C_InitPIN");
	if (!must("token check: C_InitPIN by the SO", rv, CKR_OK))
		return 0;
	do_logout(s);
	rv = do_login(s, CKU_USER, pins[upin]);
	return must("token check: C_Login(user) after C_InitPIN", rv, CKR_OK);
}

/* find_all lists every object s sees into out (at most max). */
static CK_ULONG find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG nt, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ULONG n = 0, got = 0;
	CK_RV rv;

	rv = CK(FindObjectsInit, s, t, nt);
	if (rv != CKR_OK) {
		failf("%s: C_FindObjectsInit: %s", shm->phase, rv_name(rv));
		return 0;
	}
	do {
		got = 0;
		rv = CK(FindObjects, s, out + n, max - n, &got);
		if (rv != CKR_OK) {
			failf("%s: C_FindObjects: %s", shm->phase, rv_name(rv));
			break;
		}
		n += got;
	} while (got > 0 && n < max);
	CK(FindObjectsFinal, s);
	return n;
}

static enum kind kind_of(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_OBJECT_CLASS cls = ~0UL;
	CK_KEY_TYPE kt = ~0UL;
	CK_ATTRIBUTE a[2];

	attr(&a[0], CKA_CLASS, &cls, sizeof cls);
	attr(&a[1], CKA_KEY_TYPE, &kt, sizeof kt);
	(void)CK(GetAttributeValue, s, h, a, 2);
	if (cls == CKO_DATA)
		return K_DATA;
	if (cls == CKO_SECRET_KEY)
		return kt == CKK_AES ? K_AES : (kt == CKK_GENERIC_SECRET || kt == CKK_HKDF) ? K_HMAC : K_OTHER_KEY;
	if (cls == CKO_PRIVATE_KEY)
		return kt == CKK_EC ? K_EC_PRIV : kt == CKK_EC_EDWARDS ? K_ED_PRIV : kt == CKK_RSA ? K_RSA_PRIV : K_OTHER_KEY;
	if (cls == CKO_PUBLIC_KEY)
		return kt == CKK_EC ? K_EC_PUB : kt == CKK_EC_EDWARDS ? K_ED_PUB : kt == CKK_RSA ? K_RSA_PUB : K_OTHER_KEY;
	return K_UNKNOWN;
}

/* enumerate rebuilds the object model from what s sees. */
static void enumerate(CK_SESSION_HANDLE s)
{
	static CK_OBJECT_HANDLE h[2048];
	CK_ULONG n;

	(void)CK(FindObjectsFinal, s); /* a generated case may have left a search */
	for (int i = 0; i < nsess; i++)
		if (sess[i].h == s)
			sess[i].ops &= ~OP_FIND;
	n = find_all(s, NULL, 0, h, 2048);

	all_objects_stale();
	for (CK_ULONG i = 0; i < n; i++)
		add_object(h[i], kind_of(s, h[i]));
}

static int have_kind(enum kind k)
{
	for (int i = 0; i < nobjs; i++)
		if (objs[i].live && objs[i].k == k)
			return 1;
	return 0;
}

/* make_fixtures creates, as token objects, the keys and the data object the
 * generated calls use, when the model has none of their kind. */
static void make_fixtures(CK_SESSION_HANDLE s)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	static CK_OBJECT_CLASS c_secret = CKO_SECRET_KEY, c_data = CKO_DATA;
	static CK_KEY_TYPE k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET;
	static CK_ULONG len32 = 32, bits = 2048;
	static CK_BYTE e65537[] = {1, 0, 1};
	CK_MECHANISM m = {0, NULL, 0};
	CK_OBJECT_HANDLE h, h2;
	CK_ATTRIBUTE t[12], u[12];
	CK_RV rv;

	phase("fixtures");
	if (!have_kind(K_AES)) {
		attr(&t[0], CKA_CLASS, &c_secret, sizeof c_secret);
		attr(&t[1], CKA_KEY_TYPE, &k_aes, sizeof k_aes);
		attr(&t[2], CKA_VALUE_LEN, &len32, sizeof len32);
		attr(&t[3], CKA_TOKEN, &yes, 1);
		attr(&t[4], CKA_LABEL, "hostile-aes", 11);
		attr(&t[5], CKA_ENCRYPT, &yes, 1);
		attr(&t[6], CKA_DECRYPT, &yes, 1);
		attr(&t[7], CKA_WRAP, &yes, 1);
		attr(&t[8], CKA_UNWRAP, &yes, 1);
		attr(&t[9], CKA_EXTRACTABLE, &yes, 1);
		attr(&t[10], CKA_SENSITIVE, &no, 1);
		m.mechanism = CKM_AES_KEY_GEN;
		rv = CK(GenerateKey, s, &m, t, 11, &h);
		if (must("fixture: AES key", rv, CKR_OK))
			add_object(h, K_AES);
	}
	if (!have_kind(K_HMAC)) {
		attr(&t[0], CKA_CLASS, &c_secret, sizeof c_secret);
		attr(&t[1], CKA_KEY_TYPE, &k_gen, sizeof k_gen);
		attr(&t[2], CKA_VALUE_LEN, &len32, sizeof len32);
		attr(&t[3], CKA_TOKEN, &yes, 1);
		attr(&t[4], CKA_LABEL, "hostile-hmac", 12);
		attr(&t[5], CKA_SIGN, &yes, 1);
		attr(&t[6], CKA_VERIFY, &yes, 1);
		attr(&t[7], CKA_DERIVE, &yes, 1);
		attr(&t[8], CKA_EXTRACTABLE, &yes, 1);
		m.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
		rv = CK(GenerateKey, s, &m, t, 9, &h);
		if (must("fixture: generic secret", rv, CKR_OK))
			add_object(h, K_HMAC);
	}
	if (!have_kind(K_EC_PRIV) || !have_kind(K_EC_PUB)) {
		attr(&t[0], CKA_EC_PARAMS, oid_p256, sizeof oid_p256);
		attr(&t[1], CKA_VERIFY, &yes, 1);
		attr(&t[2], CKA_TOKEN, &yes, 1);
		attr(&t[3], CKA_LABEL, "hostile-ec", 10);
		attr(&u[0], CKA_SIGN, &yes, 1);
		attr(&u[1], CKA_DERIVE, &yes, 1);
		attr(&u[2], CKA_TOKEN, &yes, 1);
		attr(&u[3], CKA_LABEL, "hostile-ec", 10);
		attr(&u[4], CKA_PRIVATE, &yes, 1);
		attr(&u[5], CKA_SENSITIVE, &yes, 1);
		m.mechanism = CKM_EC_KEY_PAIR_GEN;
		rv = CK(GenerateKeyPair, s, &m, t, 4, u, 6, &h, &h2);
		if (must("fixture: EC P-256 key pair", rv, CKR_OK)) {
			add_object(h, K_EC_PUB);
			add_object(h2, K_EC_PRIV);
		}
	}
	if (!have_kind(K_ED_PRIV) || !have_kind(K_ED_PUB)) {
		attr(&t[0], CKA_EC_PARAMS, oid_ed25519, sizeof oid_ed25519);
		attr(&t[1], CKA_VERIFY, &yes, 1);
		attr(&t[2], CKA_TOKEN, &yes, 1);
		attr(&t[3], CKA_LABEL, "hostile-ed", 10);
		attr(&u[0], CKA_SIGN, &yes, 1);
		attr(&u[1], CKA_TOKEN, &yes, 1);
		attr(&u[2], CKA_LABEL, "hostile-ed", 10);
		m.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		rv = CK(GenerateKeyPair, s, &m, t, 4, u, 3, &h, &h2);
		if (must("fixture: Ed25519 key pair", rv, CKR_OK)) {
			add_object(h, K_ED_PUB);
			add_object(h2, K_ED_PRIV);
		}
	}
	if (!have_kind(K_RSA_PRIV) || !have_kind(K_RSA_PUB)) {
		attr(&t[0], CKA_MODULUS_BITS, &bits, sizeof bits);
		attr(&t[1], CKA_PUBLIC_EXPONENT, e65537, 3);
		attr(&t[2], CKA_VERIFY, &yes, 1);
		attr(&t[3], CKA_ENCRYPT, &yes, 1);
		attr(&t[4], CKA_WRAP, &yes, 1);
		attr(&t[5], CKA_TOKEN, &yes, 1);
		attr(&t[6], CKA_LABEL, "hostile-rsa-keep", 16);
		attr(&u[0], CKA_SIGN, &yes, 1);
		attr(&u[1], CKA_DECRYPT, &yes, 1);
		attr(&u[2], CKA_UNWRAP, &yes, 1);
		attr(&u[3], CKA_TOKEN, &yes, 1);
		attr(&u[4], CKA_PRIVATE, &yes, 1);
		attr(&u[5], CKA_LABEL, "hostile-rsa-keep", 16);
		m.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		rv = CK(GenerateKeyPair, s, &m, t, 7, u, 6, &h, &h2);
		if (must("fixture: RSA 2048 key pair", rv, CKR_OK)) {
			add_object(h, K_RSA_PUB);
			add_object(h2, K_RSA_PRIV);
		}
	}
	if (!have_kind(K_DATA)) {
		attr(&t[0], CKA_CLASS, &c_data, sizeof c_data);
		attr(&t[1], CKA_TOKEN, &yes, 1);
		attr(&t[2], CKA_LABEL, "hostile-data", 12);
		attr(&t[3], CKA_VALUE, "hostile data value", 18);
		attr(&t[4], CKA_APPLICATION, "hostile", 7);
		rv = CK(CreateObject, s, t, 5, &h);
		if (must("fixture: data object", rv, CKR_OK))
			add_object(h, K_DATA);
	}
	/* The EC public point, for ECDH parameters. */
	h = live_object(K_EC_PUB);
	ec_point_len = 0;
	if (h != 0) {
		attr(&t[0], CKA_EC_POINT, ec_point, sizeof ec_point);
		if (CK(GetAttributeValue, s, h, t, 1) == CKR_OK)
			ec_point_len = t[0].ulValueLen;
	}
}

/* bring_up: C_Initialize (unless already), two sessions (R/W, R/O), the user
 * logged in, the object model rebuilt, the fixtures present. */
static int bring_up(void)
{
	CK_SESSION_HANDLE rw, ro;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	phase("bring-up");
	if (!initialized) {
		pInitArgs = NULL;
		rv = invoke(fn_named("C_Initialize"), "set-up: C_Initialize(NULL)");
		if (!must("C_Initialize(NULL)", rv, CKR_OK))
			return 0;
	}
	memset(&ti, 0, sizeof ti);
	if (CK(GetTokenInfo, 0, &ti) != CKR_OK)
		return 0;
	min_pin = ti.ulMinPinLen;
	max_pin = ti.ulMaxPinLen;
	user_pin_init = (ti.flags & CKF_USER_PIN_INITIALIZED) != 0;
	if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
		if (!h_store_in_use())
			h_fatal("libcraton.so did not open the scratch store %s/store (CRATON_CONF ignored?)", h_tmpdir);
		h_prepare_token(F, "craton hostile");
		shm->so_pin = 0;
		shm->user_pin = 1;
		shm->user_pin_known = 1;
		user_pin_init = 1;
	}
	/* Close whatever hostile calls left open, then one R/W session. */
	if (CK(CloseAllSessions, 0) == CKR_OK)
		all_sessions_gone();
	if (!must("C_OpenSession(R/W)", do_open(1, &rw), CKR_OK))
		return 0;
	if (!login_user(rw))
		return 0;
	enumerate(rw);
	make_fixtures(rw);
	if (!must("C_OpenSession(R/O)", do_open(0, &ro), CKR_OK))
		return 0;
	return 1;
}

/* token_works: at the end of a batch, the token must still work: a fresh
 * session, login, create, find exactly once, destroy, find none, C_Finalize.
 * It also destroys what the batch created (the RSA fixture excepted), so
 * the store does not grow from batch to batch. */
static void token_works(void)
{
	static CK_OBJECT_HANDLE h[4096];
	static CK_BBOOL yes = CK_TRUE;
	static CK_OBJECT_CLASS c_data = CKO_DATA;
	char label[64];
	CK_ATTRIBUTE t[4], q[1];
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o = 0;
	CK_ULONG n;
	CK_RV rv;

	phase("token check");
	alarm(30);
	if (!initialized) {
		pInitArgs = NULL;
		rv = invoke(fn_named("C_Initialize"), "token check: C_Initialize(NULL)");
		if (!must("token check: C_Initialize(NULL)", rv, CKR_OK))
			return;
	}
	if (!must("token check: C_CloseAllSessions", CK(CloseAllSessions, 0), CKR_OK))
		return;
	all_sessions_gone();
	if (!must("token check: C_OpenSession(R/W)", do_open(1, &s), CKR_OK))
		return;
	if (!login_user(s))
		return;
	snprintf(label, sizeof label, "hostile-check-%lu", batch_index);
	attr(&t[0], CKA_CLASS, &c_data, sizeof c_data);
	attr(&t[1], CKA_TOKEN, &yes, 1);
	attr(&t[2], CKA_LABEL, label, strlen(label));
	attr(&t[3], CKA_VALUE, "check", 5);
	if (!must("token check: C_CreateObject(token data object)", CK(CreateObject, s, t, 4, &o), CKR_OK))
		return;
	n = find_all(s, &t[2], 1, h, 4096);
	if (!(n == 1 && h[0] == o)) {
		failf("token check: the new object is found %lu times (want once, as handle 0x%lx)", n, o);
	} else {
		shm->passed++;
	}
	must("token check: C_DestroyObject", CK(DestroyObject, s, o), CKR_OK);
	n = find_all(s, &t[2], 1, h, 4096);
	if (n != 0)
		failf("token check: the destroyed object is still found (%lu times)", n);
	else
		shm->passed++;
	/* Clean up the batch's objects. */
	n = find_all(s, NULL, 0, h, 4096);
	for (CK_ULONG i = 0; i < n; i++) {
		char lab[32] = "";
		attr(&q[0], CKA_LABEL, lab, sizeof lab - 1);
		rv = CK(GetAttributeValue, s, h[i], q, 1);
		if (rv == CKR_OK && q[0].ulValueLen == 16 && memcmp(lab, "hostile-rsa-keep", 16) == 0)
			continue;
		(void)CK(DestroyObject, s, h[i]);
	}
	must("token check: C_Logout", CK(Logout, s), CKR_OK);
	must("token check: C_CloseSession", CK(CloseSession, s), CKR_OK);
	rv = CK(Finalize, NULL);
	if (must("token check: C_Finalize", rv, CKR_OK))
		initialized = 0;
}

/* ==== Generators: handles ================================================== */

/* calm: this case is mostly valid (valid handles, right-sized buffers,
 * right parameters) so that it reaches deeper code; one or two arguments
 * are still hostile. */
static int calm;
static unsigned want_op; /* the operation the function continues (OP_*) */

static CK_SESSION_HANDLE op_session(unsigned op)
{
	int idx[MAXSES], n = 0;

	for (int i = 0; i < nsess; i++)
		if (sess[i].live && (sess[i].ops & op))
			idx[n++] = i;
	return n ? sess[idx[rn((CK_ULONG)n)]].h : 0;
}

static CK_SESSION_HANDLE pick_session(void)
{
	unsigned r = (unsigned)rn(100);
	CK_SESSION_HANDLE h;

	if (want_op && pct(calm ? 85 : 50) && (h = op_session(want_op)) != 0) {
		D("hSession=live-op(0x%lx)", h);
		return h;
	}
	if (calm && pct(90))
		r = 0;

	if (r < 62 && (h = live_session(-1)) != 0) {
		D("hSession=live(0x%lx)", h);
		return h;
	}
	if (r < 72) {
		h = stale_session();
		D("hSession=stale(0x%lx)", h);
		return h;
	}
	if (r < 77)
		return D("hSession=0"), 0;
	if (r < 82)
		return h = rnd(), D("hSession=random(0x%lx)", h), h;
	if (r < 87)
		return h = 1 + rn(64), D("hSession=small(0x%lx)", h), h;
	if (r < 92 && (h = live_object(K_UNKNOWN)) != 0)
		return D("hSession=object-handle(0x%lx)", h), h;
	if (r < 96)
		return D("hSession=~0"), ~0UL;
	return D("hSession=0xffffffff"), 0xffffffffUL;
}

static CK_OBJECT_HANDLE pick_object(const char *name, enum kind want)
{
	unsigned r = (unsigned)rn(100);
	CK_OBJECT_HANDLE h;

	if (calm && pct(85))
		r = want != K_UNKNOWN ? 0 : 50;
	if (r < 45 && want != K_UNKNOWN && (h = live_object(want)) != 0)
		return D("%s=%s(0x%lx)", name, kind_names[want], h), h;
	if (r < 68 && (h = live_object(K_UNKNOWN)) != 0)
		return D("%s=live(0x%lx)", name, h), h;
	if (r < 78)
		return h = stale_object(), D("%s=stale(0x%lx)", name, h), h;
	if (r < 82)
		return D("%s=0", name), 0;
	if (r < 86)
		return h = rnd(), D("%s=random(0x%lx)", name, h), h;
	if (r < 90)
		return h = 1 + rn(64), D("%s=small(0x%lx)", name, h), h;
	if (r < 95 && (h = live_session(-1)) != 0)
		return D("%s=session-handle(0x%lx)", name, h), h;
	return D("%s=~0", name), ~0UL;
}

static CK_SLOT_ID pick_slot(void)
{
	unsigned r = (unsigned)rn(100);

	if (r < 75)
		return D("slotID=0"), 0;
	if (r < 83)
		return D("slotID=1"), 1;
	if (r < 91)
		return D("slotID=~0"), ~0UL;
	{
		CK_SLOT_ID s = rnd();
		D("slotID=0x%lx", s);
		return s;
	}
}

/* ==== Generators: byte buffers ============================================= */

static const CK_ULONG typical_lens[] = {1, 8, 12, 15, 16, 20, 31, 32, 33, 48, 64, 65, 100, 128, 256, 257, 512};
#define NTYPICAL (sizeof typical_lens / sizeof typical_lens[0])

/* gen_in: an input buffer and its length. */
static void gen_in(const char *pname, void **p, CK_ULONG *len)
{
	unsigned r = (unsigned)rn(100);
	CK_ULONG n;

	if (calm && pct(85))
		r = 30 + (unsigned)rn(50);

	if (r < 6) {
		*p = NULL, *len = 0;
	} else if (r < 13) {
		*p = NULL, *len = 1 + rn(64);
	} else if (r < 21) {
		*p = gbuf(0), *len = 0;
	} else if (r < 62) {
		n = typical_lens[rn(NTYPICAL)];
		*p = gbuf(n), *len = n;
		rfill(*p, n);
	} else if (r < 80) {
		n = rn(4097);
		*p = gbuf(n), *len = n;
		rfill(*p, n);
	} else if (r < 90) {
		*p = gbuf(16), *len = HUGE_LEN; /* the library must refuse, not read */
		rfill(*p, 16);
	} else if (r < 94) {
		*p = gbuf(16), *len = ~0UL;
	} else {
		n = rn(16);
		*p = gbuf(n), *len = n; /* short */
		rfill(*p, n);
	}
	D("%s=%s[%s]", pname, *p ? "buf" : "NULL", lenname(*len));
}

/* gen_out: an output buffer and the CK_ULONG holding its capacity. */
static void gen_out(const char *pname, void **p, void **pul)
{
	unsigned r = (unsigned)rn(100);
	CK_ULONG *u, n;

	if (calm && pct(85))
		r = pct(25) ? 20 : 60;
	if (r < 7) {
		*pul = NULL;
		*p = pct(50) ? gbuf(64) : NULL;
		D("%s=%s,pul=NULL", pname, *p ? "buf[64]" : "NULL");
		return;
	}
	u = gbufa(sizeof(CK_ULONG));
	*pul = u;
	if (r < 30) {
		*p = NULL;
		*u = pct(50) ? 0 : rnd();
		D("%s=NULL(length query),*pul=0x%lx", pname, *u);
	} else if (r < 48) {
		n = rn(17);
		*p = gbuf(n), *u = n;
		D("%s=buf[%lu](short)", pname, n);
	} else if (r < 88) {
		n = pct(50) ? typical_lens[rn(NTYPICAL)] : 256 + rn(4096 - 256);
		*p = gbuf(n), *u = n;
		D("%s=buf[%lu]", pname, n);
	} else if (r < 96) {
		*p = gbig(), *u = HUGE_LEN;
		D("%s=big,*pul=1<<40", pname);
	} else {
		*p = gbig(), *u = ~0UL;
		D("%s=big,*pul=~0", pname);
	}
}

/* gen_pin: a PIN. setting: it becomes a PIN (1: the user's, by C_InitPIN;
 * 2: C_SetPIN's new PIN, the SO's in an SO session, else the user's): only
 * candidates or lengths the token must refuse, never an unknown PIN it
 * would accept; and never the other role's PIN. */
static void gen_pin(const char *pname, void **p, CK_ULONG *len, int setting)
{
	unsigned r = (unsigned)rn(100);
	const char *pin = NULL;
	CK_ULONG n;

	if (calm && pct(80))
		r = pct(70) ? 0 : 30;

	if (r < 28)
		pin = pins[shm->user_pin];
	else if (r < 46)
		pin = pins[shm->so_pin];
	else if (r < 58)
		pin = pins[rn(NPINS)];
	if (pin != NULL) {
		if (setting) { /* never give the user the SO's PIN or the reverse */
			int other = setting == 2 && login_state == 2 ? shm->user_pin : shm->so_pin;
			int i = (int)rn(NPINS);
			while (i == other)
				i = (int)rn(NPINS);
			pin = pins[i];
		}
		n = strlen(pin);
		*p = gbuf(n), *len = n;
		memcpy(*p, pin, n);
		D("%s=\"%s\"", pname, pin);
		return;
	}
	if (r < 66 && !setting) {
		n = min_pin + rn(max_pin - min_pin + 1);
		*p = gbuf(n), *len = n;
		rfill(*p, n);
		D("%s=random[%lu]", pname, n);
	} else if (r < 72) {
		*p = gbuf(0), *len = 0;
		D("%s=empty", pname);
	} else if (r < 77) {
		*p = NULL, *len = 0;
		D("%s=NULL[0]", pname);
	} else if (r < 82) {
		*p = NULL, *len = 8;
		D("%s=NULL[8]", pname);
	} else if (r < 88) {
		n = max_pin + 1 + rn(200);
		*p = gbuf(n), *len = n;
		rfill(*p, n);
		D("%s=long[%lu]", pname, n);
	} else if (r < 93 && min_pin > 1) {
		n = 1 + rn(min_pin - 1);
		*p = gbuf(n), *len = n;
		rfill(*p, n);
		D("%s=short[%lu]", pname, n);
	} else {
		*p = gbuf(8), *len = pct(50) ? HUGE_LEN : ~0UL;
		memcpy(*p, pins[1], 8);
		D("%s=buf[8],len=%s", pname, lenname(*len));
	}
}

/* An out pointer to one CK_ULONG-sized value (handle, count, size). */
static void *gen_out_ulong(const char *pname)
{
	if (pct(12)) {
		D("%s=NULL", pname);
		return NULL;
	}
	D("%s=buf", pname);
	return gbufa(sizeof(CK_ULONG));
}

/* ==== Generators: templates ================================================ */

#define TMAX 40

struct tb {
	CK_ATTRIBUTE a[TMAX];
	int n;
};

static void tb_add(struct tb *t, CK_ATTRIBUTE_TYPE type, const void *v, CK_ULONG len)
{
	void *b;

	if (t->n >= TMAX)
		return;
	b = gbuf(len);
	if (v != NULL)
		memcpy(b, v, len);
	else
		rfill(b, len);
	t->a[t->n].type = type;
	t->a[t->n].pValue = b;
	t->a[t->n].ulValueLen = len;
	t->n++;
}
static void tb_bool(struct tb *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL v) { tb_add(t, type, &v, 1); }
static void tb_ulong(struct tb *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v) { tb_add(t, type, &v, sizeof v); }
static void tb_rbool(struct tb *t, CK_ATTRIBUTE_TYPE type) { tb_bool(t, type, (CK_BBOOL)rn(2)); }

static const CK_ATTRIBUTE_TYPE bool_attrs[] = {
    CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ENCRYPT,
    CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE, CKA_COPYABLE,
    CKA_DESTROYABLE, CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_TRUSTED,
    CKA_WRAP_WITH_TRUSTED};
static const CK_ATTRIBUTE_TYPE ulong_attrs[] = {CKA_CLASS, CKA_KEY_TYPE, CKA_VALUE_LEN, CKA_MODULUS_BITS,
                                                CKA_CERTIFICATE_TYPE, CKA_KEY_GEN_MECHANISM,
                                                CKA_CRATON_GCM_REMAINING};
static const CK_ATTRIBUTE_TYPE byte_attrs[] = {
    CKA_LABEL, CKA_APPLICATION, CKA_VALUE, CKA_ID, CKA_OBJECT_ID, CKA_EC_PARAMS, CKA_EC_POINT,
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_UNIQUE_ID, CKA_START_DATE, CKA_END_DATE,
    CKA_ALLOWED_MECHANISMS, CKA_WRAP_TEMPLATE};
#define NELEM(a) (sizeof a / sizeof a[0])

static CK_ATTRIBUTE_TYPE any_known_type(void)
{
	switch (rn(3)) {
	case 0:
		return bool_attrs[rn(NELEM(bool_attrs))];
	case 1:
		return ulong_attrs[rn(NELEM(ulong_attrs))];
	default:
		return byte_attrs[rn(NELEM(byte_attrs))];
	}
}

static CK_ATTRIBUTE_TYPE unknown_type(void)
{
	switch (rn(5)) {
	case 0:
		return 0x7fff0000UL | rn(0x10000);
	case 1:
		return CKA_VENDOR_DEFINED | rn(0x1000000);
	case 2:
		return ~0UL;
	case 3:
		return 0x40000000UL | rn(0x1000); /* array flag, unknown */
	default:
		return rnd();
	}
}

/* A value of a plausible size for type, random. */
static void tb_any_value(struct tb *t, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < NELEM(bool_attrs); i++)
		if (bool_attrs[i] == type)
			return tb_rbool(t, type);
	for (size_t i = 0; i < NELEM(ulong_attrs); i++)
		if (ulong_attrs[i] == type)
			return tb_ulong(t, type, pct(50) ? rn(64) : rnd());
	tb_add(t, type, NULL, rn(80));
}

static void tb_label(struct tb *t)
{
	static const char *const labels[] = {"hostile-aes", "hostile-ec", "hostile-data", "hostile-hmac", "x", ""};
	const char *l = labels[rn(NELEM(labels))];
	tb_add(t, CKA_LABEL, l, strlen(l));
}

/* The base templates. */
enum tpurpose { T_CREATE, T_KEYGEN, T_PUB, T_PRIV, T_FIND, T_GET, T_SET, T_COPY, T_NEWKEY };

static void base_create(struct tb *t)
{
	switch (rn(7)) {
	case 0: /* data object */
	case 1:
		tb_ulong(t, CKA_CLASS, CKO_DATA);
		tb_add(t, CKA_VALUE, NULL, rn(300));
		if (pct(50))
			tb_add(t, CKA_APPLICATION, "hostile", 7);
		if (pct(30))
			tb_add(t, CKA_OBJECT_ID, NULL, rn(12));
		break;
	case 2: /* AES key */
		tb_ulong(t, CKA_CLASS, CKO_SECRET_KEY);
		tb_ulong(t, CKA_KEY_TYPE, CKK_AES);
		tb_add(t, CKA_VALUE, NULL, pct(70) ? 16 + 8 * rn(3) : rn(70));
		tb_rbool(t, CKA_ENCRYPT);
		tb_rbool(t, CKA_DECRYPT);
		break;
	case 3: /* generic secret */
		tb_ulong(t, CKA_CLASS, CKO_SECRET_KEY);
		tb_ulong(t, CKA_KEY_TYPE, pct(80) ? CKK_GENERIC_SECRET : CKK_HKDF);
		tb_add(t, CKA_VALUE, NULL, rn(100));
		tb_rbool(t, CKA_SIGN);
		tb_rbool(t, CKA_DERIVE);
		break;
	case 4: /* EC public key */
		tb_ulong(t, CKA_CLASS, CKO_PUBLIC_KEY);
		tb_ulong(t, CKA_KEY_TYPE, CKK_EC);
		tb_add(t, CKA_EC_PARAMS, oid_p256, sizeof oid_p256);
		if (ec_point_len > 0 && pct(60))
			tb_add(t, CKA_EC_POINT, ec_point, ec_point_len);
		else
			tb_add(t, CKA_EC_POINT, NULL, rn(80));
		break;
	case 5: /* EC private key */
		tb_ulong(t, CKA_CLASS, CKO_PRIVATE_KEY);
		tb_ulong(t, CKA_KEY_TYPE, pct(80) ? CKK_EC : CKK_EC_EDWARDS);
		tb_add(t, CKA_EC_PARAMS, pct(80) ? oid_p256 : oid_ed25519, pct(80) ? sizeof oid_p256 : sizeof oid_ed25519);
		tb_add(t, CKA_VALUE, NULL, pct(70) ? 32 : rn(70));
		break;
	default: /* RSA public key, or some class */
		if (pct(60)) {
			tb_ulong(t, CKA_CLASS, CKO_PUBLIC_KEY);
			tb_ulong(t, CKA_KEY_TYPE, CKK_RSA);
			tb_add(t, CKA_MODULUS, NULL, pct(60) ? 256 : rn(600));
			tb_add(t, CKA_PUBLIC_EXPONENT, "\x01\x00\x01", pct(80) ? 3 : rn(4));
		} else {
			tb_ulong(t, CKA_CLASS, pct(50) ? rn(10) : rnd());
			tb_add(t, CKA_VALUE, NULL, rn(64));
		}
	}
	tb_bool(t, CKA_TOKEN, pct(35));
	if (pct(60))
		tb_label(t);
	if (pct(20))
		tb_rbool(t, CKA_PRIVATE);
	if (pct(15))
		tb_rbool(t, CKA_MODIFIABLE);
	if (pct(10))
		tb_rbool(t, CKA_COPYABLE);
	if (pct(5))
		tb_rbool(t, CKA_DESTROYABLE);
	if (pct(15))
		tb_rbool(t, CKA_SENSITIVE);
	if (pct(15))
		tb_rbool(t, CKA_EXTRACTABLE);
	if (pct(10))
		tb_add(t, CKA_ID, NULL, rn(20));
	if (pct(8)) {
		CK_ULONG m[3] = {CKM_AES_GCM, CKM_ECDSA, rnd()};
		tb_add(t, CKA_ALLOWED_MECHANISMS, m, 8 * rn(4));
	}
}

static void base_keygen(struct tb *t)
{
	static const CK_ULONG lens[] = {16, 24, 32, 32, 32, 0, 1, 7, 15, 33, 64, 512, 4096};
	tb_ulong(t, CKA_CLASS, pct(90) ? CKO_SECRET_KEY : rn(8));
	if (pct(85))
		tb_ulong(t, CKA_KEY_TYPE, pct(50) ? CKK_AES : pct(50) ? CKK_GENERIC_SECRET : pct(50) ? CKK_HKDF : rnd());
	if (pct(85))
		tb_ulong(t, CKA_VALUE_LEN, pct(90) ? lens[rn(NELEM(lens))] : rnd());
	tb_bool(t, CKA_TOKEN, pct(30));
	if (pct(60))
		tb_rbool(t, CKA_ENCRYPT);
	if (pct(40))
		tb_rbool(t, CKA_SIGN);
	if (pct(30))
		tb_rbool(t, CKA_EXTRACTABLE);
	if (pct(20))
		tb_rbool(t, CKA_SENSITIVE);
	if (pct(30))
		tb_label(t);
	if (pct(10))
		tb_add(t, CKA_VALUE, NULL, 32); /* not allowed in a generation template */
}

/* family of the last key-pair mechanism: 0 EC, 1 Ed25519, 2 RSA */
static int pair_family;

static void base_pub(struct tb *t)
{
	static const CK_ULONG bits[] = {0, 512, 1024, 1025, 2047, 3000, 8192, 65536};
	int fam = pct(80) ? pair_family : (int)rn(3);

	if (fam == 0 || fam == 1) {
		switch (rn(8)) {
		case 0:
			tb_add(t, CKA_EC_PARAMS, oid_p384, sizeof oid_p384);
			break;
		case 1:
			tb_add(t, CKA_EC_PARAMS, oid_secp256k1, sizeof oid_secp256k1);
			break;
		case 2:
			tb_add(t, CKA_EC_PARAMS, NULL, rn(20)); /* garbage */
			break;
		case 3:
			tb_add(t, CKA_EC_PARAMS, oid_p256, rn(sizeof oid_p256)); /* cut */
			break;
		case 4:
			break; /* missing */
		default:
			if (fam == 0)
				tb_add(t, CKA_EC_PARAMS, oid_p256, sizeof oid_p256);
			else
				tb_add(t, CKA_EC_PARAMS, oid_ed25519, sizeof oid_ed25519);
		}
	} else {
		/* RSA: 2048 (a real, slow generation) only rarely. */
		tb_ulong(t, CKA_MODULUS_BITS, pct(4) ? 2048 : pct(90) ? bits[rn(NELEM(bits))] : rnd());
		switch (rn(5)) {
		case 0:
			tb_add(t, CKA_PUBLIC_EXPONENT, "\x02", 1);
			break;
		case 1:
			tb_add(t, CKA_PUBLIC_EXPONENT, NULL, rn(40));
			break;
		case 2:
			break;
		default:
			tb_add(t, CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3);
		}
	}
	tb_bool(t, CKA_TOKEN, pct(25));
	if (pct(60))
		tb_rbool(t, CKA_VERIFY);
	if (pct(20))
		tb_rbool(t, CKA_ENCRYPT);
	if (pct(30))
		tb_label(t);
}

static void base_priv(struct tb *t)
{
	tb_bool(t, CKA_TOKEN, pct(25));
	if (pct(60))
		tb_rbool(t, CKA_SIGN);
	if (pct(30))
		tb_rbool(t, CKA_DERIVE);
	if (pct(30))
		tb_rbool(t, CKA_PRIVATE);
	if (pct(30))
		tb_rbool(t, CKA_SENSITIVE);
	if (pct(20))
		tb_rbool(t, CKA_EXTRACTABLE);
	if (pct(10))
		tb_add(t, CKA_VALUE, NULL, 32);
	if (pct(30))
		tb_label(t);
}

static void base_find(struct tb *t)
{
	int n = (int)rn(4);
	for (int i = 0; i < n; i++) {
		switch (rn(5)) {
		case 0:
			tb_ulong(t, CKA_CLASS, rn(5));
			break;
		case 1:
			tb_label(t);
			break;
		case 2:
			tb_ulong(t, CKA_KEY_TYPE, pct(50) ? CKK_AES : CKK_EC);
			break;
		case 3:
			tb_rbool(t, CKA_TOKEN);
			break;
		default:
			tb_any_value(t, any_known_type());
		}
	}
}

/* T_GET: the types asked for; the buffers are set by fill_get. */
static void base_get(struct tb *t)
{
	int n = 1 + (int)rn(6);
	for (int i = 0; i < n && t->n < TMAX; i++) {
		t->a[t->n].type = pct(85) ? any_known_type() : unknown_type();
		t->a[t->n].pValue = NULL;
		t->a[t->n].ulValueLen = 0;
		t->n++;
	}
}

static void fill_get(struct tb *t)
{
	for (int i = 0; i < t->n; i++) {
		CK_ATTRIBUTE *a = &t->a[i];
		unsigned r = (unsigned)rn(100);
		if (r < 30) {
			a->pValue = NULL;
			a->ulValueLen = pct(50) ? 0 : rnd(); /* a length query: the length is ignored */
		} else if (r < 80) {
			static const CK_ULONG sz[] = {0, 1, 4, 7, 8, 9, 16, 32, 64, 67, 256, 1024};
			CK_ULONG n = sz[rn(NELEM(sz))];
			a->pValue = gbuf(n);
			a->ulValueLen = n;
		} else if (r < 92) {
			a->pValue = gbig();
			a->ulValueLen = HUGE_LEN;
		} else {
			a->pValue = gbig();
			a->ulValueLen = ~0UL;
		}
	}
}

static void base_set(struct tb *t)
{
	int n = 1 + (int)rn(3);
	for (int i = 0; i < n; i++) {
		switch (rn(6)) {
		case 0:
			tb_label(t);
			break;
		case 1:
			tb_add(t, CKA_ID, NULL, rn(20));
			break;
		case 2:
			tb_rbool(t, bool_attrs[rn(NELEM(bool_attrs))]);
			break;
		case 3:
			tb_ulong(t, CKA_CLASS, rn(5));
			break;
		case 4:
			tb_add(t, CKA_VALUE, NULL, rn(64));
			break;
		default:
			tb_any_value(t, any_known_type());
		}
	}
}

static void base_newkey(struct tb *t)
{
	tb_ulong(t, CKA_CLASS, pct(90) ? CKO_SECRET_KEY : rn(5));
	if (pct(85))
		tb_ulong(t, CKA_KEY_TYPE, pct(60) ? CKK_AES : CKK_GENERIC_SECRET);
	if (pct(60))
		tb_ulong(t, CKA_VALUE_LEN, pct(80) ? 16 + 8 * rn(3) : rnd());
	tb_bool(t, CKA_TOKEN, pct(20));
	if (pct(50))
		tb_rbool(t, CKA_ENCRYPT);
	if (pct(30))
		tb_rbool(t, CKA_EXTRACTABLE);
	if (pct(20))
		tb_rbool(t, CKA_SENSITIVE);
}

/* mutate applies the hostile changes to a template. Returns the count to
 * pass (which may differ from t->n). */
static CK_ULONG mutate(struct tb *t, int getting)
{
	CK_ULONG count;
	int k;

	if (pct(12)) { /* wrong value size */
		if (t->n > 0) {
			CK_ATTRIBUTE *a = &t->a[rn((CK_ULONG)t->n)];
			static const CK_ULONG sz[] = {0, 1, 2, 3, 4, 7, 9, 16, 100};
			CK_ULONG n = sz[rn(NELEM(sz))];
			void *b = gbuf(n);
			CK_ULONG keep = a->pValue != NULL && a->ulValueLen <= AREA_USE ? (a->ulValueLen < n ? a->ulValueLen : n) : 0;
			if (keep > 0)
				memcpy(b, a->pValue, keep);
			a->pValue = b;
			a->ulValueLen = n;
			D("[wrong size %lu on 0x%lx]", n, a->type);
		}
	}
	if (pct(10)) { /* unknown types */
		k = 1 + (int)rn(3);
		for (int i = 0; i < k; i++)
			tb_add(t, unknown_type(), NULL, rn(16));
		D("[unknown types]");
	}
	if (pct(10) && t->n > 0 && t->n < TMAX) { /* duplicated type */
		CK_ATTRIBUTE *a = &t->a[rn((CK_ULONG)t->n)];
		tb_any_value(t, a->type);
		D("[duplicate 0x%lx]", a->type);
	}
	if (!getting && pct(7) && t->n > 0) { /* NULL pValue with a length */
		CK_ATTRIBUTE *a = &t->a[rn((CK_ULONG)t->n)];
		a->pValue = NULL;
		a->ulValueLen = pct(50) ? 1 + rn(64) : sizeof(CK_ULONG);
		D("[NULL pValue with length on 0x%lx]", a->type);
	}
	if (!getting && pct(5) && t->n > 0) { /* NULL pValue, length 0 */
		CK_ATTRIBUTE *a = &t->a[rn((CK_ULONG)t->n)];
		a->pValue = NULL;
		a->ulValueLen = 0;
		D("[NULL pValue length 0 on 0x%lx]", a->type);
	}
	if (!getting && pct(6) && t->n > 0) { /* huge ulValueLen */
		CK_ATTRIBUTE *a = &t->a[rn((CK_ULONG)t->n)];
		a->pValue = gbuf(8);
		a->ulValueLen = pct(50) ? HUGE_LEN : ~0UL;
		D("[huge ulValueLen on 0x%lx]", a->type);
	}
	if (pct(8)) { /* oversized: junk attributes */
		k = 4 + (int)rn(TMAX);
		for (int i = 0; i < k && t->n < TMAX; i++) {
			if (pct(50))
				tb_any_value(t, any_known_type());
			else
				tb_add(t, unknown_type(), NULL, rn(32));
		}
		D("[oversized to %d]", t->n);
	}
	count = (CK_ULONG)t->n;
	if (pct(8) && t->n > 0) { /* truncated */
		count = rn((CK_ULONG)t->n);
		D("[truncated to %lu of %d]", count, t->n);
	}
	return count;
}

/* gen_template sets *p and *count for purpose. The array is copied into a
 * guarded buffer of exactly count entries (so the library cannot read past
 * the count it was given), except for the NULL and huge-count variants. */
static void gen_template(const char *pname, enum tpurpose purpose, void **p, CK_ULONG *count)
{
	struct tb t;
	CK_ULONG n;
	unsigned r = (unsigned)rn(100);

	t.n = 0;
	if (calm && pct(85))
		r = 50;
	if (r < 4) {
		*p = NULL, *count = 0;
		D("%s=NULL[0]", pname);
		return;
	}
	if (r < 9) {
		*p = NULL, *count = 1 + rn(8);
		D("%s=NULL[%lu]", pname, *count);
		return;
	}
	switch (purpose) {
	case T_CREATE:
		base_create(&t);
		break;
	case T_KEYGEN:
		base_keygen(&t);
		break;
	case T_PUB:
		base_pub(&t);
		break;
	case T_PRIV:
		base_priv(&t);
		break;
	case T_FIND:
		base_find(&t);
		break;
	case T_GET:
		base_get(&t);
		break;
	case T_SET:
	case T_COPY:
		base_set(&t);
		if (purpose == T_COPY && pct(40))
			tb_rbool(&t, CKA_TOKEN);
		break;
	case T_NEWKEY:
		base_newkey(&t);
		break;
	}
	D("%s=", pname);
	if (calm && pct(80))
		n = (CK_ULONG)t.n;
	else
		n = mutate(&t, purpose == T_GET);
	if (purpose == T_GET)
		fill_get(&t);
	*p = gbufa(n * sizeof(CK_ATTRIBUTE));
	memcpy(*p, t.a, n * sizeof(CK_ATTRIBUTE));
	*count = n;
	if (r < 14) {
		*count = pct(50) ? HUGE_LEN : 4097 + rn(1000000);
		D("[count %s, %lu real]", lenname(*count), n);
		return;
	}
	D("tmpl[%lu]{", n);
	for (CK_ULONG i = 0; i < n && i < 12; i++)
		D("%s0x%lx:%s", i ? "," : "", t.a[i].type, t.a[i].pValue ? lenname(t.a[i].ulValueLen) : "NULL");
	D("%s}", n > 12 ? ",..." : "");
}

/* ==== Generators: mechanisms =============================================== */

enum ptype { P_NONE, P_IV16, P_CTR, P_GCM, P_OAEP, P_PSS, P_ECDH, P_HKDF, P_EDDSA, P_MACGEN };
enum fam { FA_NONE, FA_AES, FA_RSA, FA_EC, FA_ED, FA_HMAC };
/* What a function does with a mechanism. */
#define U_ENC 0x001
#define U_SIGN 0x002
#define U_DIGEST 0x004
#define U_KEYGEN 0x008
#define U_PAIR 0x010
#define U_WRAP 0x020
#define U_DERIVE 0x040
#define U_MSG 0x080

struct mech {
	CK_MECHANISM_TYPE m;
	unsigned use;
	enum fam fam;
	enum ptype pt;
};
static const struct mech mechs[] = {
    {CKM_AES_ECB, U_ENC | U_WRAP, FA_AES, P_NONE},
    {CKM_AES_CBC, U_ENC | U_WRAP, FA_AES, P_IV16},
    {CKM_AES_CBC_PAD, U_ENC | U_WRAP, FA_AES, P_IV16},
    {CKM_AES_CTR, U_ENC, FA_AES, P_CTR},
    {CKM_AES_GCM, U_ENC | U_WRAP | U_MSG, FA_AES, P_GCM},
    {CKM_AES_KEY_WRAP, U_ENC | U_WRAP, FA_AES, P_NONE},
    {CKM_AES_KEY_WRAP_KWP, U_ENC | U_WRAP, FA_AES, P_NONE},
    {CKM_AES_KEY_WRAP_PAD, U_ENC | U_WRAP, FA_AES, P_NONE},
    {CKM_RSA_PKCS, U_ENC | U_SIGN | U_WRAP, FA_RSA, P_NONE},
    {CKM_RSA_X_509, U_ENC | U_SIGN, FA_RSA, P_NONE},
    {CKM_RSA_PKCS_OAEP, U_ENC | U_WRAP, FA_RSA, P_OAEP},
    {CKM_RSA_PKCS_PSS, U_SIGN, FA_RSA, P_PSS},
    {CKM_SHA1_RSA_PKCS, U_SIGN, FA_RSA, P_NONE},
    {CKM_SHA256_RSA_PKCS, U_SIGN, FA_RSA, P_NONE},
    {CKM_SHA256_RSA_PKCS_PSS, U_SIGN, FA_RSA, P_PSS},
    {CKM_SHA512_RSA_PKCS_PSS, U_SIGN, FA_RSA, P_PSS},
    {CKM_ECDSA, U_SIGN | U_MSG, FA_EC, P_NONE},
    {CKM_ECDSA_SHA256, U_SIGN, FA_EC, P_NONE},
    {CKM_ECDSA_SHA512, U_SIGN, FA_EC, P_NONE},
    {CKM_ECDH1_DERIVE, U_DERIVE, FA_EC, P_ECDH},
    {CKM_ECDH1_COFACTOR_DERIVE, U_DERIVE, FA_EC, P_ECDH},
    {CKM_EDDSA, U_SIGN, FA_ED, P_EDDSA},
    {CKM_SHA_1, U_DIGEST, FA_NONE, P_NONE},
    {CKM_SHA256, U_DIGEST, FA_NONE, P_NONE},
    {CKM_SHA384, U_DIGEST, FA_NONE, P_NONE},
    {CKM_SHA512, U_DIGEST, FA_NONE, P_NONE},
    {CKM_SHA_1_HMAC, U_SIGN, FA_HMAC, P_NONE},
    {CKM_SHA256_HMAC, U_SIGN, FA_HMAC, P_NONE},
    {CKM_SHA384_HMAC, U_SIGN, FA_HMAC, P_NONE},
    {CKM_SHA512_HMAC, U_SIGN, FA_HMAC, P_NONE},
    {CKM_SHA256_HMAC_GENERAL, U_SIGN, FA_HMAC, P_MACGEN},
    {CKM_AES_KEY_GEN, U_KEYGEN, FA_NONE, P_NONE},
    {CKM_GENERIC_SECRET_KEY_GEN, U_KEYGEN, FA_NONE, P_NONE},
    {CKM_HKDF_KEY_GEN, U_KEYGEN, FA_NONE, P_NONE},
    {CKM_EC_KEY_PAIR_GEN, U_PAIR, FA_EC, P_NONE},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, U_PAIR, FA_ED, P_NONE},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, U_PAIR, FA_RSA, P_NONE},
    {CKM_HKDF_DERIVE, U_DERIVE, FA_HMAC, P_HKDF},
    {CKM_HKDF_DATA, U_DERIVE, FA_HMAC, P_HKDF},
};
#define NMECHS NELEM(mechs)

/* The key kind the last generated mechanism wants, for the key handle. */
static enum fam mech_fam;

static enum kind want_key(int private_side)
{
	switch (mech_fam) {
	case FA_AES:
		return K_AES;
	case FA_RSA:
		return private_side ? K_RSA_PRIV : K_RSA_PUB;
	case FA_EC:
		return private_side ? K_EC_PRIV : K_EC_PUB;
	case FA_ED:
		return private_side ? K_ED_PRIV : K_ED_PUB;
	case FA_HMAC:
		return K_HMAC;
	default:
		return K_UNKNOWN;
	}
}

/* A pointer/length pair inside a parameter: mostly right, sometimes NULL
 * with a length, a huge length, or a short buffer. */
static void inner(void **p, CK_ULONG *len, CK_ULONG want, int mode, const void *content)
{
	if (mode == 1 && pct(50)) { /* inner NULL with a length */
		*p = NULL;
		*len = want ? want : 1 + rn(32);
		return;
	}
	if (mode == 2 && pct(50)) { /* absurd length */
		*p = gbuf(want);
		*len = pct(50) ? HUGE_LEN : ~0UL;
		return;
	}
	if (want == 0 && pct(30)) {
		*p = NULL;
		*len = 0;
		return;
	}
	*p = gbuf(want);
	*len = want;
	if (content != NULL)
		memcpy(*p, content, want);
	else
		rfill(*p, want);
}

/* build_param: the parameter of mechanism m (type pt) into *pp and *plen.
 * mode: 0 right, 1 inner NULL, 2 inner huge, 3 bad field values. */
static void build_param(const struct mech *m, int mode, void **pp, CK_ULONG *plen)
{
	switch (m->pt) {
	case P_NONE:
		*pp = NULL, *plen = 0;
		if (mode == 3) {
			CK_ULONG n = 1 + rn(32);
			*pp = gbuf(n), *plen = n;
			rfill(*pp, n);
		}
		break;
	case P_IV16: {
		CK_ULONG n = 16;
		if (mode == 3) {
			static const CK_ULONG bad[] = {0, 1, 8, 12, 15, 17, 32};
			n = bad[rn(NELEM(bad))];
		}
		*pp = gbuf(n), *plen = n;
		rfill(*pp, n);
		break;
	}
	case P_CTR: {
		ctr_params *c = gbufa(sizeof *c);
		c->ulCounterBits = mode == 3 ? (pct(50) ? rn(4) * 64 + rn(2) : rnd()) : 8 * (1 + rn(16));
		rfill(c->cb, 16);
		*pp = c, *plen = sizeof *c;
		break;
	}
	case P_GCM: {
		gcm_params *g = gbufa(sizeof *g);
		void *iv, *aad;
		CK_ULONG ivlen = mode == 3 ? (pct(50) ? rn(3) : 1 + rn(300)) : 12;
		inner(&iv, &g->ulIvLen, ivlen, mode, NULL);
		g->pIv = iv;
		g->ulIvBits = mode == 3 && pct(50) ? rnd() : ivlen * 8;
		inner(&aad, &g->ulAADLen, pct(50) ? 0 : rn(100), mode, NULL);
		g->pAAD = aad;
		g->ulTagBits = mode == 3 ? (pct(50) ? rn(140) : rnd()) : (pct(80) ? 128 : 96 + 8 * rn(4));
		*pp = g, *plen = sizeof *g;
		break;
	}
	case P_OAEP: {
		oaep_params *o = gbufa(sizeof *o);
		o->hashAlg = mode == 3 && pct(50) ? (pct(50) ? rnd() : CKM_SHA_1) : CKM_SHA256;
		o->mgf = mode == 3 && pct(50) ? rn(8) : CKG_MGF1_SHA256;
		o->source = mode == 3 && pct(40) ? rn(4) : CKZ_DATA_SPECIFIED;
		inner(&o->pSourceData, &o->ulSourceDataLen, pct(50) ? 0 : rn(40), mode, NULL);
		*pp = o, *plen = sizeof *o;
		break;
	}
	case P_PSS: {
		pss_params *s = gbufa(sizeof *s);
		s->hashAlg = mode == 3 && pct(50) ? (pct(50) ? rnd() : CKM_SHA512) : CKM_SHA256;
		s->mgf = mode == 3 && pct(50) ? rn(8) : CKG_MGF1_SHA256;
		s->sLen = mode == 3 ? (pct(50) ? rnd() : 200 + rn(400)) : 32;
		*pp = s, *plen = sizeof *s;
		break;
	}
	case P_ECDH: {
		ecdh_params *e = gbufa(sizeof *e);
		void *pub, *sh;
		CK_ULONG plen_ = ec_point_len > 2 ? ec_point_len - 2 : 65;
		e->kdf = mode == 3 && pct(50) ? rn(12) : CKD_NULL;
		inner(&sh, &e->ulSharedDataLen, mode == 3 && pct(30) ? 1 + rn(30) : 0, mode, NULL);
		e->pSharedData = sh;
		if (mode == 3 && pct(50))
			inner(&pub, &e->ulPublicDataLen, rn(140), 0, NULL); /* garbage point */
		else if (pct(30) && ec_point_len > 0)
			inner(&pub, &e->ulPublicDataLen, ec_point_len, mode, ec_point); /* DER form */
		else
			inner(&pub, &e->ulPublicDataLen, plen_, mode, ec_point_len > 2 ? ec_point + 2 : NULL);
		e->pPublicData = pub;
		*pp = e, *plen = sizeof *e;
		break;
	}
	case P_HKDF: {
		hkdf_params *h = gbufa(sizeof *h);
		void *salt, *info;
		static const CK_ULONG st[] = {CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY};
		h->bExtract = mode == 3 && pct(40) ? (CK_BBOOL)rnd() : (CK_BBOOL)(pct(80));
		h->bExpand = mode == 3 && pct(40) ? (CK_BBOOL)rnd() : (CK_BBOOL)(pct(80));
		h->prfHashMechanism = mode == 3 && pct(50) ? (pct(50) ? rnd() : CKM_AES_ECB) : (pct(70) ? CKM_SHA256 : CKM_SHA512);
		h->ulSaltType = mode == 3 && pct(50) ? rnd() : st[rn(3)];
		inner(&salt, &h->ulSaltLen, h->ulSaltType == CKF_HKDF_SALT_DATA ? 1 + rn(64) : 0, mode, NULL);
		h->pSalt = salt;
		h->hSaltKey = h->ulSaltType == CKF_HKDF_SALT_KEY ? (pct(60) ? live_object(K_HMAC) : rnd()) : 0;
		inner(&info, &h->ulInfoLen, rn(64), mode, NULL);
		h->pInfo = info;
		*pp = h, *plen = sizeof *h;
		break;
	}
	case P_EDDSA: {
		eddsa_params *e;
		if (mode == 0 && pct(50)) {
			*pp = NULL, *plen = 0;
			break;
		}
		e = gbufa(sizeof *e);
		e->phFlag = mode == 3 ? (CK_BBOOL)rnd() : 0;
		inner((void **)&e->pContextData, &e->ulContextDataLen, mode == 3 ? rn(300) : 0, mode, NULL);
		*pp = e, *plen = sizeof *e;
		break;
	}
	case P_MACGEN: {
		CK_ULONG *u = gbufa(sizeof *u);
		*u = mode == 3 ? rnd() : 16;
		*pp = u, *plen = sizeof *u;
		break;
	}
	}
}

/* gen_mech: a CK_MECHANISM for a function that uses mechanisms of use. */
static void *gen_mech(unsigned use)
{
	unsigned r = (unsigned)rn(100);
	CK_MECHANISM *mp;
	const struct mech *m;
	int idx[NMECHS], n = 0, mode;

	mech_fam = FA_NONE;
	if (calm && pct(90))
		r = 40;
	if (r < 6) {
		D("pMechanism=NULL");
		return NULL;
	}
	mp = gbufa(sizeof *mp);
	if (r < 14) { /* unknown mechanism */
		CK_ULONG plen = rn(64);
		mp->mechanism = pct(50) ? (CKM_VENDOR_DEFINED_ | rn(1000)) : rnd();
		mp->pParameter = plen ? gbuf(plen) : NULL;
		mp->ulParameterLen = plen;
		if (plen)
			rfill(mp->pParameter, plen);
		D("pMechanism={unknown 0x%lx, param[%lu]}", mp->mechanism, plen);
		return mp;
	}
	for (size_t i = 0; i < NMECHS; i++)
		if (r < 32 || (mechs[i].use & use))
			idx[n++] = (int)i;
	if (n == 0)
		for (size_t i = 0; i < NMECHS; i++)
			idx[n++] = (int)i;
	m = &mechs[idx[rn((CK_ULONG)n)]];
	mech_fam = m->fam;
	if (m->m == CKM_EC_KEY_PAIR_GEN)
		pair_family = 0;
	else if (m->m == CKM_EC_EDWARDS_KEY_PAIR_GEN)
		pair_family = 1;
	else if (m->m == CKM_RSA_PKCS_KEY_PAIR_GEN)
		pair_family = 2;
	mp->mechanism = m->m;
	r = (unsigned)rn(100);
	if (calm && pct(80))
		r = 0;
	mode = r < 55 ? 0 : r < 68 ? 1 : r < 78 ? 2 : 3;
	build_param(m, mode, &mp->pParameter, &mp->ulParameterLen);
	D("pMechanism={0x%lx, mode %d, param[%s]", m->m, mode, lenname(mp->ulParameterLen));
	r = (unsigned)rn(100);
	if (calm && pct(85))
		r = 99;
	if (r < 7) { /* missing parameter */
		mp->pParameter = NULL;
		mp->ulParameterLen = 0;
		D(" -> missing");
	} else if (r < 13) { /* NULL with a length */
		mp->pParameter = NULL;
		mp->ulParameterLen = 1 + rn(64);
		D(" -> NULL[%lu]", mp->ulParameterLen);
	} else if (r < 21 && mp->ulParameterLen > 0 && mp->ulParameterLen <= AREA_USE) {
		/* wrong ulParameterLen: the buffer is cut or extended to match */
		CK_ULONG old = mp->ulParameterLen, nl;
		void *b;
		do
			nl = pct(50) ? (old > 8 ? old - 1 - rn(8) : rn(old)) : old + 1 + rn(16);
		while (nl == old);
		b = gbuf(nl);
		memset(b, 0, nl);
		memcpy(b, mp->pParameter, nl < old ? nl : old);
		mp->pParameter = b;
		mp->ulParameterLen = nl;
		D(" -> ulParameterLen %lu", nl);
	} else if (r < 25) { /* absurd ulParameterLen */
		mp->ulParameterLen = pct(50) ? HUGE_LEN : ~0UL;
		if (mp->pParameter == NULL)
			mp->pParameter = gbuf(8);
		D(" -> ulParameterLen %s", lenname(mp->ulParameterLen));
	}
	D("}");
	return mp;
}

/* ==== Generators: the arguments of one function ============================ */

static CK_RV notify_cb(CK_SESSION_HANDLE s, CK_NOTIFICATION e, CK_VOID_PTR app)
{
	(void)s;
	(void)e;
	(void)app;
	return CKR_OK;
}
static CK_RV mx_create(CK_VOID_PTR_PTR m)
{
	*m = (void *)1;
	return CKR_OK;
}
static CK_RV mx_other(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

static unsigned mech_use(const char *fn)
{
	if (strstr(fn, "Digest") != NULL && strstr(fn, "Encrypt") == NULL && strstr(fn, "Decrypt") == NULL)
		return U_DIGEST;
	if (strstr(fn, "Message") != NULL)
		return U_MSG;
	if (strstr(fn, "Sign") != NULL || strstr(fn, "Verify") != NULL)
		return U_SIGN;
	if (strstr(fn, "crypt") != NULL)
		return U_ENC;
	if (strcmp(fn, "C_GenerateKey") == 0)
		return U_KEYGEN;
	if (strcmp(fn, "C_GenerateKeyPair") == 0)
		return U_PAIR;
	if (strstr(fn, "rap") != NULL)
		return U_WRAP;
	if (strcmp(fn, "C_DeriveKey") == 0)
		return U_DERIVE;
	return 0;
}

/* The key argument uses the private half for these. */
static int private_side(const char *fn)
{
	return strstr(fn, "Sign") != NULL || strstr(fn, "Decrypt") != NULL || strstr(fn, "Unwrap") != NULL ||
	       strcmp(fn, "C_DeriveKey") == 0;
}

static size_t info_size(const char *fn)
{
	if (strcmp(fn, "C_GetInfo") == 0)
		return sizeof(CK_INFO);
	if (strcmp(fn, "C_GetSlotInfo") == 0)
		return sizeof(CK_SLOT_INFO);
	if (strcmp(fn, "C_GetTokenInfo") == 0)
		return sizeof(CK_TOKEN_INFO);
	if (strcmp(fn, "C_GetMechanismInfo") == 0)
		return sizeof(CK_MECHANISM_INFO);
	return sizeof(CK_SESSION_INFO);
}

/* A list output (slots, mechanisms, interfaces) of elements of elem bytes. */
static void gen_list(const char *pname, void **p, void **pul, size_t elem)
{
	unsigned r = (unsigned)rn(100);
	CK_ULONG *u;

	if (calm && pct(85))
		r = pct(30) ? 20 : 50;
	if (r < 8) {
		*pul = NULL;
		*p = pct(50) ? NULL : gbuf(elem * 4);
		D("%s=%s,pulCount=NULL", pname, *p ? "buf[4]" : "NULL");
		return;
	}
	u = gbufa(sizeof *u);
	*pul = u;
	if (r < 38) {
		*p = NULL;
		*u = pct(50) ? 0 : rnd();
		D("%s=NULL(count query),*pulCount=0x%lx", pname, *u);
	} else if (r < 90) {
		CK_ULONG n = pct(50) ? rn(3) : rn(AREA_USE / elem);
		*p = gbuf(n * elem);
		*u = n;
		D("%s=buf,*pulCount=%lu", pname, n);
	} else {
		*p = gbig();
		*u = pct(50) ? HUGE_LEN : ~0UL;
		D("%s=big,*pulCount=%s", pname, lenname(*u));
	}
}

static void gen_init_args(void)
{
	CK_C_INITIALIZE_ARGS *a;
	unsigned r = (unsigned)rn(100);

	if (r < 35) {
		pInitArgs = NULL;
		D("pInitArgs=NULL");
		return;
	}
	a = gbufa(sizeof *a);
	memset(a, 0, sizeof *a);
	if (r < 55) {
		a->flags = pct(50) ? CKF_OS_LOCKING_OK : 0;
	} else if (r < 65) {
		a->flags = rnd();
	} else if (r < 80) { /* some of the callbacks */
		if (pct(50))
			a->CreateMutex = mx_create;
		if (pct(50))
			a->DestroyMutex = mx_other;
		if (pct(50))
			a->LockMutex = mx_other;
		if (pct(50))
			a->UnlockMutex = mx_other;
		a->flags = pct(50) ? CKF_OS_LOCKING_OK : 0;
	} else if (r < 90) {
		a->CreateMutex = mx_create;
		a->DestroyMutex = a->LockMutex = a->UnlockMutex = mx_other;
		a->flags = pct(50) ? CKF_OS_LOCKING_OK : 0;
	} else {
		a->flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS | (pct(50) ? CKF_OS_LOCKING_OK : 0);
	}
	if (pct(15)) { /* a NUL-terminated junk string (CRATON_CONF wins over it) */
		char *s = gbuf(24);
		for (int i = 0; i < 23; i++)
			s[i] = (char)('a' + rn(26));
		s[23] = '\0';
		a->pReserved = s;
	}
	pInitArgs = a;
	D("pInitArgs={flags 0x%lx, mutex %d%d%d%d, reserved %s}", a->flags, a->CreateMutex != NULL,
	  a->DestroyMutex != NULL, a->LockMutex != NULL, a->UnlockMutex != NULL, a->pReserved ? "junk" : "NULL");
}

/* gen_args sets every argument variable f uses. */
static void gen_args(struct fn *f)
{
	const char *fn = f->name;
	int used[MAX_PARAMS] = {0};

	mech_fam = FA_NONE;
	/* The mechanism first: it decides which key the handles prefer. */
	for (int i = 0; i < f->np; i++)
		if (strcmp(f->p[i].name, "pMechanism") == 0) {
			pMechanism = gen_mech(mech_use(fn));
			D(", ");
			used[i] = 1;
		}
	for (int i = 0; i < f->np; i++) {
		const char *n = f->p[i].name;
		const char *next = i + 1 < f->np ? f->p[i + 1].name : "";

		if (used[i])
			continue;
		used[i] = 1;
		if (i > 0)
			D(", ");
		if (strcmp(n, "hSession") == 0) {
			hSession = pick_session();
		} else if (strcmp(n, "slotID") == 0) {
			slotID = pick_slot();
		} else if (n[0] == 'h') { /* an object or key handle */
			enum kind k = K_UNKNOWN;
			if (strcmp(n, "hObject") != 0)
				k = want_key(strcmp(n, "hUnwrappingKey") == 0 || strcmp(n, "hBaseKey") == 0 ||
				             (strcmp(n, "hKey") == 0 && private_side(fn)));
			if (strcmp(n, "hKey") == 0 && (strcmp(fn, "C_WrapKey") == 0))
				k = pct(50) ? K_AES : K_HMAC; /* the key to wrap */
			*uvar(n) = pick_object(n, k);
		} else if (strcmp(n, "flags") == 0) {
			if (strcmp(fn, "C_OpenSession") == 0) {
				unsigned r = (unsigned)rn(100);
				flags = r < 55 ? CKF_SERIAL_SESSION | CKF_RW_SESSION : r < 85 ? CKF_SERIAL_SESSION : r < 92 ? 0 : rnd();
			} else if (strcmp(fn, "C_WaitForSlotEvent") == 0) {
				flags = pct(70) ? CKF_DONT_BLOCK : pct(50) ? 0 : rnd();
			} else if (strcmp(fn, "C_GetInterface") == 0) {
				flags = pct(80) ? 0 : pct(50) ? CKF_INTERFACE_FORK_SAFE : rnd();
			} else {
				flags = pct(50) ? 0 : pct(50) ? CKF_END_OF_MESSAGE : rnd();
			}
			D("flags=0x%lx", flags);
		} else if (strcmp(n, "userType") == 0) {
			unsigned r = (unsigned)rn(100);
			userType = r < 50 ? CKU_USER : r < 78 ? CKU_SO : r < 88 ? CKU_CONTEXT_SPECIFIC : r < 94 ? 3 : rnd();
			D("userType=0x%lx", userType);
		} else if (strcmp(n, "type") == 0) {
			type = pct(75) ? mechs[rn(NMECHS)].m : rnd();
			D("type=0x%lx", type);
		} else if (strcmp(n, "tokenPresent") == 0) {
			tokenPresent = pct(80) ? rn(2) : (CK_BYTE)rnd();
			D("tokenPresent=%lu", tokenPresent);
		} else if (strcmp(n, "Notify") == 0) {
			Notify = pct(50) ? notify_cb : NULL;
			D("Notify=%s", Notify ? "fn" : "NULL");
		} else if (strcmp(n, "pApplication") == 0) {
			pApplication = pct(50) ? gbuf(16) : NULL;
			D("pApplication=%s", pApplication ? "buf" : "NULL");
		} else if (strcmp(n, "pInitArgs") == 0) {
			gen_init_args();
		} else if (strcmp(n, "pReserved") == 0) {
			pReserved = pct(85) ? NULL : gbuf(16);
			D("pReserved=%s", pReserved ? "buf" : "NULL");
		} else if (strcmp(n, "pInfo") == 0) {
			pInfo = pct(12) ? NULL : gbufa(info_size(fn));
			D("pInfo=%s", pInfo ? "buf" : "NULL");
		} else if (strcmp(n, "ppFunctionList") == 0 || strcmp(n, "ppInterface") == 0) {
			*pvar(n) = pct(12) ? NULL : gbufa(sizeof(void *));
			D("%s=%s", n, *pvar(n) ? "buf" : "NULL");
		} else if (strcmp(n, "pInterfaceName") == 0) {
			static const char *const names[] = {"PKCS 11", "PKCS 11", "PKCS 11", "Vendor X", "", "PKCS 11 ", "pkcs 11"};
			if (pct(25)) {
				pInterfaceName = NULL;
				D("pInterfaceName=NULL");
			} else {
				const char *s = names[rn(NELEM(names))];
				pInterfaceName = gbuf(strlen(s) + 1);
				memcpy(pInterfaceName, s, strlen(s) + 1);
				D("pInterfaceName=\"%s\"", s);
			}
		} else if (strcmp(n, "pVersion") == 0) {
			static const CK_VERSION vs[] = {{3, 0}, {3, 0}, {2, 40}, {2, 20}, {3, 1}, {0, 0}, {255, 255}};
			if (pct(25)) {
				pVersion = NULL;
				D("pVersion=NULL");
			} else {
				CK_VERSION v = vs[rn(NELEM(vs))];
				pVersion = gbuf(sizeof v);
				memcpy(pVersion, &v, sizeof v);
				D("pVersion=%d.%d", v.major, v.minor);
			}
		} else if (strcmp(n, "pSlotList") == 0 || strcmp(n, "pMechanismList") == 0) {
			gen_list(n, pvar(n), &pulCount, sizeof(CK_ULONG));
			used[i + 1] = 1;
		} else if (strcmp(n, "pInterfacesList") == 0) {
			gen_list(n, pvar(n), &pulCount, sizeof(CK_INTERFACE));
			used[i + 1] = 1;
		} else if (strcmp(n, "pLabel") == 0) {
			if (pct(10)) {
				pLabel = NULL;
			} else {
				pLabel = gbuf(32);
				if (pct(70))
					h_pad(pLabel, 32, "craton hostile");
				else
					rfill(pLabel, 32);
			}
			D("pLabel=%s", pLabel ? "buf[32]" : "NULL");
		} else if (strcmp(n, "pPin") == 0 || strcmp(n, "pOldPin") == 0 || strcmp(n, "pNewPin") == 0) {
			int setting = strcmp(n, "pNewPin") == 0 ? 2 : strcmp(fn, "C_InitPIN") == 0 ? 1 : 0;
			gen_pin(n, pvar(n), uvar(next), setting);
			used[i + 1] = 1;
		} else if (strcmp(n, "pTemplate") == 0 || strcmp(n, "pPublicKeyTemplate") == 0 ||
		           strcmp(n, "pPrivateKeyTemplate") == 0) {
			enum tpurpose tp = T_CREATE;
			if (strcmp(n, "pPublicKeyTemplate") == 0)
				tp = T_PUB;
			else if (strcmp(n, "pPrivateKeyTemplate") == 0)
				tp = T_PRIV;
			else if (strcmp(fn, "C_FindObjectsInit") == 0)
				tp = T_FIND;
			else if (strcmp(fn, "C_GetAttributeValue") == 0)
				tp = T_GET;
			else if (strcmp(fn, "C_SetAttributeValue") == 0)
				tp = T_SET;
			else if (strcmp(fn, "C_CopyObject") == 0)
				tp = T_COPY;
			else if (strcmp(fn, "C_GenerateKey") == 0)
				tp = T_KEYGEN;
			else if (strcmp(fn, "C_UnwrapKey") == 0 || strcmp(fn, "C_DeriveKey") == 0)
				tp = T_NEWKEY;
			gen_template(n, tp, pvar(n), uvar(next));
			used[i + 1] = 1;
		} else if (strcmp(n, "phObject") == 0 && strcmp(fn, "C_FindObjects") == 0) {
			unsigned r = (unsigned)rn(100);
			if (r < 8) {
				phObject = NULL;
				ulMaxObjectCount = rn(3) * 4;
			} else if (r < 90) {
				ulMaxObjectCount = pct(50) ? rn(4) : rn(AREA_USE / sizeof(CK_ULONG));
				phObject = gbuf(ulMaxObjectCount * sizeof(CK_ULONG));
			} else {
				phObject = gbig();
				ulMaxObjectCount = pct(50) ? HUGE_LEN : ~0UL;
			}
			D("phObject=%s,ulMaxObjectCount=%s", phObject ? "buf" : "NULL", lenname(ulMaxObjectCount));
			used[i + 1] = 1;
		} else if (strcmp(n, "pRandomData") == 0) {
			unsigned r = (unsigned)rn(100);
			if (r < 8) {
				pRandomData = NULL, ulRandomLen = rn(2) * (1 + rn(64));
			} else if (r < 85) {
				ulRandomLen = pct(50) ? typical_lens[rn(NTYPICAL)] : rn(AREA_USE + 1);
				pRandomData = gbuf(ulRandomLen);
			} else {
				pRandomData = gbuf(16), ulRandomLen = pct(50) ? HUGE_LEN : ~0UL;
			}
			D("pRandomData=%s[%s]", pRandomData ? "buf" : "NULL", lenname(ulRandomLen));
			used[i + 1] = 1;
		} else if (strcmp(n, "pParameter") == 0) { /* message functions */
			CK_ULONG l = pct(30) ? 0 : pct(50) ? 8 * rn(10) : rn(100);
			pParameter = pct(15) ? NULL : gbuf(l);
			if (pParameter)
				memset(pParameter, 0, l); /* no junk pointers in a parameter struct */
			ulParameterLen = pct(8) ? HUGE_LEN : l;
			D("pParameter=%s[%s]", pParameter ? "zeros" : "NULL", lenname(ulParameterLen));
			used[i + 1] = 1;
		} else if (strncmp(next, "pul", 3) == 0 && f->p[i].is_ptr && strncmp(n, "pul", 3) != 0) {
			gen_out(n, pvar(n), pvar(next));
			used[i + 1] = 1;
		} else if (strncmp(next, "ul", 2) == 0 && f->p[i].is_ptr) {
			gen_in(n, pvar(n), uvar(next));
			used[i + 1] = 1;
		} else if (f->p[i].is_ptr) { /* phSession, phKey, pulSize, pSlot, ... */
			*pvar(n) = gen_out_ulong(n);
		} else {
			*uvar(n) = pct(50) ? rn(64) : rnd();
			D("%s=0x%lx", n, *uvar(n));
		}
	}
}

/* ==== The state driver ======================================================
 *
 * Between generated cases, valid calls move the library between states:
 * sessions opened and closed, the user or the SO logged in and out,
 * operations started, C_Finalize and a new C_Initialize.
 */

static void track_op(const struct fn *f, CK_RV rv);

static void start_operation(void)
{
	static CK_BYTE iv[16];
	CK_MECHANISM *m = gbufa(sizeof *m);
	const char *fname;
	enum kind k;

	hSession = live_session(-1);
	m->pParameter = NULL;
	m->ulParameterLen = 0;
	switch (rn(7)) {
	case 0:
		fname = "C_EncryptInit", k = K_AES, m->mechanism = CKM_AES_CBC_PAD;
		m->pParameter = iv, m->ulParameterLen = 16;
		break;
	case 1:
		fname = "C_DecryptInit", k = K_AES, m->mechanism = CKM_AES_CBC_PAD;
		m->pParameter = iv, m->ulParameterLen = 16;
		break;
	case 2:
		fname = "C_SignInit", k = K_EC_PRIV, m->mechanism = CKM_ECDSA_SHA256;
		break;
	case 3:
		fname = "C_VerifyInit", k = K_EC_PUB, m->mechanism = CKM_ECDSA_SHA256;
		break;
	case 4:
		fname = "C_SignInit", k = K_HMAC, m->mechanism = CKM_SHA256_HMAC;
		break;
	case 5:
		fname = "C_DigestInit", k = K_UNKNOWN, m->mechanism = CKM_SHA256;
		break;
	default:
		pTemplate = NULL, ulCount = 0;
		track_op(fn_named("C_FindObjectsInit"), invoke(fn_named("C_FindObjectsInit"), "driver: C_FindObjectsInit(all)"));
		return;
	}
	pMechanism = m;
	hKey = k == K_UNKNOWN ? 0 : live_object(k);
	track_op(fn_named(fname), invoke(fn_named(fname), "driver: start an operation"));
}

static void driver(void)
{
	unsigned r;
	CK_SESSION_HANDLE s;

	if (!initialized) {
		if (++uninit_cases > 1 + rn(5)) {
			phase("driver: bring-up after C_Finalize");
			bring_up();
		}
		return;
	}
	if (live_sessions() == 0) {
		do_open(1, NULL);
		do_open(0, NULL);
		return;
	}
	if (!pct(35))
		return;
	r = (unsigned)rn(100);
	phase("driver %u", r);
	if (r < 12) {
		if (live_sessions() < 8)
			do_open(pct(60), NULL);
	} else if (r < 22) {
		if (live_sessions() > 2) {
			hSession = live_session(-1);
			invoke(fn_named("C_CloseSession"), "driver: C_CloseSession");
		}
	} else if (r < 38) {
		s = live_session(-1);
		if (pct(75) || login_state == 2)
			do_login(s, CKU_USER, pins[shm->user_pin]);
		else
			do_login(s, CKU_SO, pins[shm->so_pin]);
	} else if (r < 46) {
		do_logout(live_session(-1));
	} else if (r < 88) {
		start_operation();
	} else if (r < 92) {
		if (login_state == 1)
			enumerate(live_session(-1));
	} else if (r < 94) {
		pReserved = NULL;
		invoke(fn_named("C_Finalize"), "driver: C_Finalize");
	}
}

/* ==== Cases ================================================================= */

/* op_of: the operation bit a function starts (init) or continues. */
static unsigned op_of(const char *fn, int *init)
{
	*init = strstr(fn, "Init") != NULL;
	if (strstr(fn, "Message") != NULL || strstr(fn, "Recover") != NULL)
		return 0;
	if (strncmp(fn, "C_FindObjects", 13) == 0)
		return OP_FIND;
	if (strcmp(fn, "C_DigestEncryptUpdate") == 0 || strcmp(fn, "C_SignEncryptUpdate") == 0)
		return OP_ENC;
	if (strcmp(fn, "C_DecryptDigestUpdate") == 0 || strcmp(fn, "C_DecryptVerifyUpdate") == 0)
		return OP_DEC;
	if (strncmp(fn, "C_Encrypt", 9) == 0)
		return OP_ENC;
	if (strncmp(fn, "C_Decrypt", 9) == 0)
		return OP_DEC;
	if (strncmp(fn, "C_Sign", 6) == 0)
		return OP_SIGN;
	if (strncmp(fn, "C_Verify", 8) == 0)
		return OP_VERIFY;
	if (strncmp(fn, "C_Digest", 8) == 0)
		return OP_DIGEST;
	return 0;
}

/* track_op keeps the sessions' operation bits roughly right. */
static void track_op(const struct fn *f, CK_RV rv)
{
	int init;
	unsigned op = op_of(f->name, &init);

	if (op == 0)
		return;
	for (int i = 0; i < nsess; i++) {
		if (!sess[i].live || sess[i].h != hSession)
			continue;
		if (init) {
			if (rv == CKR_OK)
				sess[i].ops |= op;
		} else if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) {
			if (rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_ARGUMENTS_BAD)
				sess[i].ops &= ~op;
		} else if (strstr(f->name, "Final") != NULL || strstr(f->name, "Update") == NULL) {
			if (rv == CKR_OK && op != OP_FIND)
				sess[i].ops &= ~op;
			if (op == OP_FIND && strcmp(f->name, "C_FindObjectsFinal") == 0)
				sess[i].ops &= ~op;
		}
	}
}

static void run_case(unsigned long idx)
{
	struct fn *f = &fns[rn(NFNS)];
	int init;

	area_next = 0;
	desc_len = 0;
	desc[0] = '\0';
	calm = pct(35);
	want_op = op_of(f->name, &init);
	if (init)
		want_op = 0;
	D("%s%s(", calm ? "[calm] " : "", f->name);
	gen_args(f);
	D(")");
	shm->cur_case = idx;
	memcpy(shm->desc, desc, desc_len + 1);
	if (verbose) {
		printf("hostile: case %lu: %s\n", idx, desc);
		fflush(stdout);
	}
	{
		CK_RV rv = invoke(f, desc);
		int fi = (int)(f - fns);
		track_op(f, rv);
		if (verbose)
			printf("hostile:   -> %s\n", rv_name(rv));
		for (int k = 0; k < 24; k++)
			if (shm->hist[fi][k].n == 0 || shm->hist[fi][k].rv == rv) {
				shm->hist[fi][k].rv = rv;
				shm->hist[fi][k].n++;
				break;
			}
	}
	f->ncalls++;
	shm->cases++;
}

/* ==== Batches =============================================================== */

static uint64_t seed;
static unsigned long ncases = 12000, batch_size = 500;
static char log_path[600];

static void on_alarm(int sig)
{
	static const char msg[] = "hostile: TIMEOUT: a batch made no progress in 30 s: a call into libcraton.so hangs\n";
	ssize_t w;

	(void)sig;
	w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(3);
}

/* child_batch runs batch b (cases first .. first+n-1) in this process. */
static void child_batch(unsigned long b, unsigned long first, unsigned long n)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(30);
	batch_index = b;
	rng_state = seed ^ (0x5851f42d4c957f2dULL * (b + 1));
	initialized = 0;
	nsess = nobjs = 0;
	login_state = 0;
	phase("dlopen");
	F = h_load();
	if (!bring_up()) {
		failf("batch %lu: cannot bring the token up", b);
		shm->done = 1;
		exit(1);
	}
	for (unsigned long i = 0; i < n; i++) {
		driver();
		phase("case");
		run_case(first + i);
	}
	token_works();
	phase("done");
	shm->done = 1;
	fflush(NULL);
	exit(0);
}

/* log_check: the module log must not hold "recovered panic"; it is emptied
 * for the next batch. */
static void log_check(unsigned long b)
{
	FILE *f = fopen(log_path, "r");
	char line[4096];
	int shown = 0, bad = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "recovered panic") != NULL || strstr(line, "error without a CK_RV") != NULL) {
			bad++;
			if (shown++ < 3)
				fprintf(stderr, "hostile: FAIL: batch %lu: module log: %.600s", b, line);
		}
	fclose(f);
	if (bad) {
		h_fail("batch %lu (seed 0x%016llx): the module log has %d \"recovered panic\"/\"error without a CK_RV\" lines", b,
		       (unsigned long long)seed, bad);
	} else {
		h_pass();
	}
	if (truncate(log_path, 0) != 0 && errno != ENOENT)
		fprintf(stderr, "hostile: truncate %s: %s\n", log_path, strerror(errno));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* run_batch forks the child for batch b and judges how it ended. */
static void run_batch(unsigned long b, unsigned long first, unsigned long n)
{
	double t0 = now();
	pid_t pid;
	int st = 0, waited = 0;

	shm->done = 0;
	shm->cur_case = first;
	shm->desc[0] = '\0';
	snprintf(shm->phase, sizeof shm->phase, "fork");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		h_fatal("fork: %s", strerror(errno));
	if (pid == 0)
		child_batch(b, first, n);
	/* The child has alarm(30); this is the backstop if even that fails. */
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			waited = 1;
			break;
		}
		if (w < 0 && errno != EINTR)
			h_fatal("waitpid: %s", strerror(errno));
		if (now() - t0 > 45) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		usleep(5000);
	}
	if (!waited || !WIFEXITED(st) || !shm->done) {
		const char *how = !waited ? "hung (killed after 45 s)"
		                  : WIFSIGNALED(st) ? strsignal(WTERMSIG(st))
		                  : WEXITSTATUS(st) == 3 ? "hung (alarm after 30 s)"
		                                         : "exited early";
		h_fail("batch %lu (seed 0x%016llx, cases %lu..%lu) %s, status 0x%x, in phase \"%s\"; last case %lu: %s", b,
		       (unsigned long long)seed, first, first + n - 1, how, st, shm->phase, shm->cur_case, shm->desc);
	} else {
		h_pass();
	}
	log_check(b);
	if (getenv("HOSTILE_QUIET") == NULL)
		printf("hostile: batch %lu: cases %lu..%lu, %.2f s\n", b, first, first + n - 1, now() - t0);
}

static void write_config(void)
{
	char conf[512];
	FILE *f;

	snprintf(conf, sizeof conf, "%s/craton.toml", h_tmpdir);
	snprintf(log_path, sizeof log_path, "%s/craton.log", h_tmpdir);
	f = fopen(conf, "w");
	if (f == NULL)
		h_fatal("%s: %s", conf, strerror(errno));
	fprintf(f,
	        "[store]\n"
	        "path = \"%s/store\"\n"
	        "[pin]\n"
	        "kdf_iterations = 1000\n"
	        "max_failures = 1000\n"
	        "[log]\n"
	        "level = \"error\"\n"
	        "file = \"%s\"\n",
	        h_tmpdir, log_path);
	if (fclose(f) != 0)
		h_fatal("%s: %s", conf, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *e;
	unsigned long nb, only = ~0UL;
	double t0;

	(void)argc;
	h_name = "hostile";
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < NFNS; i++)
		parse_params(&fns[i]);
	if (NFNS != 92)
		h_fatal("the header lists %d functions, want 92", NFNS);
	h_scratch_store(argv); /* from here on: the re-exec'd test process */
	write_config();

	if ((e = getenv("HOSTILE_SEED")) != NULL && *e != '\0')
		seed = strtoull(e, NULL, 0);
	else {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		seed = ((uint64_t)tv.tv_sec << 20) ^ (uint64_t)tv.tv_usec ^ ((uint64_t)getpid() << 40);
	}
	if ((e = getenv("HOSTILE_CASES")) != NULL && *e != '\0')
		ncases = strtoul(e, NULL, 0);
	if ((e = getenv("HOSTILE_BATCH")) != NULL && *e != '\0')
		batch_size = strtoul(e, NULL, 0);
	if (batch_size == 0)
		batch_size = 500;
	if ((e = getenv("HOSTILE_ONLY")) != NULL && *e != '\0')
		only = strtoul(e, NULL, 0);
	verbose = getenv("HOSTILE_VERBOSE") != NULL && getenv("HOSTILE_VERBOSE")[0] == '1';
	printf("hostile: seed 0x%016llx (HOSTILE_SEED to repeat), %lu cases in batches of %lu\n",
	       (unsigned long long)seed, ncases, batch_size);

	shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		h_fatal("mmap: %s", strerror(errno));
	memset(shm, 0, sizeof *shm);
	shm->so_pin = 0;
	shm->user_pin = 1;
	shm->user_pin_known = 1;
	arena_init();
	/* The guard pages work: a read one byte past a buffer faults. */
	{
		pid_t pid;
		int st;
		fflush(NULL);
		if ((pid = fork()) == 0) {
			volatile unsigned char *b = gbuf(4);
			(void)b[4];
			_exit(0);
		}
		waitpid(pid, &st, 0);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV))
			h_fatal("a read past a guarded buffer did not fault (status 0x%x)", st);
	}

	t0 = now();
	nb = (ncases + batch_size - 1) / batch_size;
	for (unsigned long b = 0; b < nb; b++) {
		unsigned long first = b * batch_size, n = ncases - first < batch_size ? ncases - first : batch_size;
		if (only != ~0UL && b != only)
			continue;
		run_batch(b, first, n);
	}
	if (getenv("HOSTILE_STATS") != NULL) {
		for (int i = 0; i < NFNS; i++) {
			printf("hostile: %-24s", fns[i].name);
			for (int k = 0; k < 24 && shm->hist[i][k].n > 0; k++)
				printf(" %s:%lu", rv_name(shm->hist[i][k].rv) + 4, shm->hist[i][k].n);
			printf("\n");
		}
	}
	h_passed += shm->passed;
	h_failed += shm->failed;
	printf("hostile: %lu generated cases over the 92 functions, %lu calls into libcraton.so, %.1f s\n", shm->cases,
	       shm->calls, now() - t0);
	h_remove_store();
	return h_summary();
}
