/*
 * abi.c: the loader and C ABI test of libcraton.so.
 *
 * Loads the library with dlopen, checks the function tables and the loader
 * entry points, then drives every one of the 92 functions through the 3.0
 * function list:
 *
 *   a. before C_Initialize: every function but the loader entry points gives
 *      CKR_CRYPTOKI_NOT_INITIALIZED;
 *   b. C_Initialize with bad CK_C_INITIALIZE_ARGS, then a good one;
 *   c. NULL for every pointer argument, invalid session, object and slot
 *      handles, the two-call length convention, bad templates, wrong
 *      session states, a sensitive key; every return value is checked
 *      against the values the OASIS PKCS#11 3.0 base specification lists
 *      for the function, and against the precise code where one is right;
 *   d. the token still works, C_Finalize, everything is
 *      CKR_CRYPTOKI_NOT_INITIALIZED again, C_Initialize starts clean.
 *
 * Run: CRATON_SO=/abs/libcraton.so build/abi. Exit 0 when every check
 * passes. alarm(120) turns a hang into a failure with a message.
 */
#include "harness.h"

#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

static CK_FUNCTION_LIST_3_0 *F;  /* the 3.0 list: every call goes through it */
static CK_FUNCTION_LIST *F2;     /* the 2.40 list from C_GetFunctionList */

/* CK counts and makes one call through the 3.0 list. */
#define CK(fn, ...) (h_calls++, F->C_##fn(__VA_ARGS__))

/* The allowed return codes: the OASIS lists alone (see allowed.h). */
#define CRATON(...)
#include "allowed.h"

/* ==== Argument variables ==================================================
 *
 * One file-scope variable per parameter name of the header's X-macros, so
 * that "F->C_Name args" compiles for every function: the sweeps set these
 * variables, then call each function with them. Every pointer parameter is
 * a void * (converted implicitly) with a buffer of its own.
 */
#define ARG_BUFSZ 4096

/* PTR_ARGS, LEN_ARGS, OBJ_ARGS: harness.h. */

typedef union {
	unsigned char b[ARG_BUFSZ];
	CK_ULONG u[ARG_BUFSZ / sizeof(CK_ULONG)];
	void *p;
} argbuf;

#define DECL_PTR(n) static void *n; static argbuf n##_buf;
#define DECL_UL(n) static CK_ULONG n;
PTR_ARGS(DECL_PTR)
LEN_ARGS(DECL_UL)
OBJ_ARGS(DECL_UL)
static CK_ULONG tokenPresent, flags, type, hSession, slotID, userType;
static CK_NOTIFY Notify;

/* One thunk per function: calls it through the 3.0 list with the variables. */
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
	const char *name;   /* "C_GetInfo" */
	const char *params; /* the parameter list as text, parsed at start */
	CK_RV (*call)(void);
	const CK_RV *allow;
	int loader; /* C_GetFunctionList, C_GetInterfaceList, C_GetInterface */
	/* Parsed from params: */
	struct param p[MAX_PARAMS];
	int np;
};

#define ENTRY(name, params, args) {"C_" #name, #params, call_##name, allow_##name, 0, {{"", 0}}, 0},
#define LENTRY(name, params, args) {"C_" #name, #params, call_##name, allow_##name, 1, {{"", 0}}, 0},
static struct fn fns[] = {CK_FUNCTIONS_2_40(ENTRY, LENTRY) CK_FUNCTIONS_3_0(ENTRY, LENTRY)};
#define NFNS ((int)(sizeof fns / sizeof fns[0]))

static void parse_params(struct fn *f)
{
	const char *s = f->params;

	if (*s == '(')
		s++;
	while (*s != '\0' && *s != ')') {
		const char *end = s, *name_end, *name_start;
		size_t tlen;
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
		tlen = (size_t)(name_start - s);
		p->is_ptr = 0;
		{
			char type_txt[96];
			snprintf(type_txt, sizeof type_txt, "%.*s", (int)tlen, s);
			if (strstr(type_txt, "_PTR") != NULL || strstr(type_txt, "CK_NOTIFY") != NULL)
				p->is_ptr = 1;
		}
		s = end;
		if (*s == ',')
			s++;
		while (*s == ' ')
			s++;
	}
}

static int has_param(const struct fn *f, const char *name)
{
	for (int i = 0; i < f->np; i++)
		if (strcmp(f->p[i].name, name) == 0)
			return 1;
	return 0;
}

static int takes_session(const struct fn *f) { return has_param(f, "hSession"); }
static int takes_slot(const struct fn *f) { return has_param(f, "slotID"); }
static int takes_object(const struct fn *f) { return has_param(f, "hObject"); }

static int takes_key(const struct fn *f)
{
	static const char *const keys[] = {"hKey", "hWrappingKey", "hUnwrappingKey", "hBaseKey",
	                                   "hEncryptionKey", "hAuthenticationKey"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (has_param(f, keys[i]))
			return 1;
	return 0;
}

/* A pointer that may legitimately be NULL whatever the lengths. */
static int null_ok(const char *name)
{
	return strcmp(name, "pApplication") == 0 || strcmp(name, "Notify") == 0 ||
	       strcmp(name, "pReserved") == 0 || strcmp(name, "pInitArgs") == 0 ||
	       strcmp(name, "pInterfaceName") == 0 || strcmp(name, "pVersion") == 0 ||
	       strcmp(name, "pSlotList") == 0 || strcmp(name, "pMechanismList") == 0;
}

/* A pointer that must not be NULL even when every length is 0: an output
 * the function must write, or a structure it must read. */
static int always_needed(const char *name)
{
	return strncmp(name, "pul", 3) == 0 || strncmp(name, "ph", 2) == 0 ||
	       strncmp(name, "pp", 2) == 0 || strcmp(name, "pInfo") == 0 ||
	       strcmp(name, "pSlot") == 0 || strcmp(name, "pMechanism") == 0 ||
	       strcmp(name, "pLabel") == 0;
}

/* has_bad_null: with every pointer NULL and every length non-zero, some
 * argument is a NULL that the spec forbids. */
static int has_bad_null(const struct fn *f)
{
	for (int i = 0; i < f->np; i++)
		if (f->p[i].is_ptr && !null_ok(f->p[i].name))
			return 1;
	return 0;
}

/* has_needed_null: with every pointer NULL and every length 0, some
 * argument is a NULL that the spec forbids. */
static int has_needed_null(const struct fn *f)
{
	for (int i = 0; i < f->np; i++)
		if (f->p[i].is_ptr && always_needed(f->p[i].name))
			return 1;
	return 0;
}

static int in_set(CK_RV rv, const CK_RV *set)
{
	for (; *set != END_RV; set++)
		if (*set == rv)
			return 1;
	return 0;
}

/* optional: the function may answer CKR_FUNCTION_NOT_SUPPORTED. */
static int optional(const struct fn *f) { return in_set(CKR_FUNCTION_NOT_SUPPORTED, f->allow); }

static struct fn *fn_named(const char *name)
{
	for (int i = 0; i < NFNS; i++)
		if (strcmp(fns[i].name, name) == 0)
			return &fns[i];
	h_fatal("no function %s", name);
	return NULL;
}

/* ==== Checking one call ===================================================== */

static int verbose; /* ABI_VERBOSE=1: print every checked call */

static void list_rvs(char *buf, size_t n, const CK_RV *set)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *set != END_RV && used + 1 < n; set++) {
		int w = snprintf(buf + used, n - used, "%s%s", used ? "|" : "", rv_name(*set));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/*
 * verdict records one call: rv must be in the function's allowed list, and,
 * when want is given, one of want (or CKR_FUNCTION_NOT_SUPPORTED for a
 * function Craton does not implement yet, when ns_ok).
 */
static int verdict(const struct fn *f, const char *what, CK_RV rv, const CK_RV *want, int ns_ok)
{
	char wl[512];

	if (!in_set(rv, f->allow)) {
		h_fail("%s [%s]: %s is not a return value the spec allows for %s", f->name, what,
		       rv_name(rv), f->name);
		return 0;
	}
	if (want == NULL || in_set(rv, want) || (ns_ok && optional(f) && rv == CKR_FUNCTION_NOT_SUPPORTED)) {
		if (verbose)
			printf("abi: ok %s [%s]: %s\n", f->name, what, rv_name(rv));
		h_pass();
		return 1;
	}
	list_rvs(wl, sizeof wl, want);
	h_fail("%s [%s]: got %s, want %s%s", f->name, what, rv_name(rv), wl,
	       ns_ok && optional(f) ? " (or CKR_FUNCTION_NOT_SUPPORTED)" : "");
	return 0;
}

/* expect_rv: a single direct call, checked against the allowed list too. */
static int expect_rv(const char *fname, const char *what, CK_RV rv, CK_RV want)
{
	const CK_RV w[] = {want, END_RV};

	return verdict(fn_named(fname), what, rv, w, 0);
}

/* expect_any: rv must be one of the listed codes (and allowed). */
#define expect_any(fname, what, rv, ...) \
	do { \
		const CK_RV w_[] = {__VA_ARGS__, END_RV}; \
		verdict(fn_named(fname), what, rv, w_, 0); \
	} while (0)

/* ==== Argument set-ups ====================================================== */

#define SET_NULL(n) n = NULL;
#define SET_LEN(n) n = len;
#define SET_BUF(n) \
	memset(&n##_buf, 0, sizeof n##_buf); \
	n = &n##_buf;

/* What the sweep templates point to: writable, since C_GetAttributeValue
 * writes through pValue. Reset by args_valid. */
static CK_OBJECT_CLASS tmpl_class;

/* args_null: every pointer NULL, every length and count len. */
static void args_null(CK_ULONG len)
{
	PTR_ARGS(SET_NULL)
	LEN_ARGS(SET_LEN)
	Notify = NULL;
	tokenPresent = CK_FALSE;
	type = CKM_SHA256;
	userType = CKU_USER;
	flags = 0;
}

/* args_valid: every pointer to a zeroed buffer of its own holding
 * something plausible; lengths that fit. */
static void args_valid(void)
{
	CK_ATTRIBUTE *t;
	CK_MECHANISM *m;

	PTR_ARGS(SET_BUF)
	Notify = NULL;
	tokenPresent = CK_FALSE;
	type = CKM_SHA256;
	userType = CKU_USER;
	flags = 0;
	/* Data lengths: 16 bytes of zeros. */
	ulAssociatedDataLen = ulCiphertextLen = ulCiphertextPartLen = ulDataLen = 16;
	ulEncryptedDataLen = ulEncryptedPartLen = ulOperationStateLen = ulPartLen = 16;
	ulPlaintextLen = ulPlaintextPartLen = ulRandomLen = ulSeedLen = ulSignatureLen = 16;
	ulWrappedKeyLen = ulUsernameLen = 16;
	ulParameterLen = 0;
	pParameter = NULL; /* no mechanism parameter */
	ulMaxObjectCount = 16;
	/* Output lengths: the buffers hold 256 bytes each (they have 4096). */
	pulCiphertextLen_buf.u[0] = pulCiphertextPartLen_buf.u[0] = pulDataLen_buf.u[0] = 256;
	pulDigestLen_buf.u[0] = pulEncryptedDataLen_buf.u[0] = pulEncryptedPartLen_buf.u[0] = 256;
	pulLastEncryptedPartLen_buf.u[0] = pulLastPartLen_buf.u[0] = 256;
	pulOperationStateLen_buf.u[0] = pulPartLen_buf.u[0] = pulPlaintextLen_buf.u[0] = 256;
	pulPlaintextPartLen_buf.u[0] = pulSignatureLen_buf.u[0] = pulWrappedKeyLen_buf.u[0] = 256;
	pulCount_buf.u[0] = 16;
	/* PINs: the user PIN. */
	memcpy(pPin_buf.b, H_USER_PIN, 8);
	memcpy(pOldPin_buf.b, H_USER_PIN, 8);
	memcpy(pNewPin_buf.b, H_USER_PIN, 8);
	ulPinLen = ulOldLen = ulNewLen = 8;
	memset(pLabel_buf.b, ' ', 32);
	/* Templates: one CKA_CLASS = CKO_DATA. */
	ulCount = ulAttributeCount = ulPublicKeyAttributeCount = ulPrivateKeyAttributeCount = 1;
	tmpl_class = CKO_DATA;
	t = (CK_ATTRIBUTE *)pTemplate;
	t->type = CKA_CLASS;
	t->pValue = &tmpl_class;
	t->ulValueLen = sizeof tmpl_class;
	*(CK_ATTRIBUTE *)pPublicKeyTemplate = *t;
	*(CK_ATTRIBUTE *)pPrivateKeyTemplate = *t;
	/* Mechanism: CKM_SHA256, no parameter. */
	m = (CK_MECHANISM *)pMechanism;
	m->mechanism = CKM_SHA256;
	m->pParameter = NULL;
	m->ulParameterLen = 0;
	/* Loader arguments. */
	memcpy(pInterfaceName_buf.b, "PKCS 11", 8);
	((CK_VERSION *)pVersion)->major = 3;
	((CK_VERSION *)pVersion)->minor = 0;
	pInterfacesList_buf.u[0] = 0;
	pulCount_buf.u[0] = 16;
}

/* per_call: arguments that depend on the function. */
static void per_call(const struct fn *f)
{
	if (strcmp(f->name, "C_OpenSession") == 0)
		flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	else if (strcmp(f->name, "C_WaitForSlotEvent") == 0)
		flags = CKF_DONT_BLOCK; /* never block the test */
	else
		flags = 0;
	if (strcmp(f->name, "C_GetInterfaceList") == 0 && pInterfacesList != NULL)
		*(CK_ULONG *)pulCount = 16;
}

/* Functions a sweep with valid handles must not call: they end the
 * session, the login or the object the sweep works with, or the library. */
static int destructive(const struct fn *f)
{
	static const char *const names[] = {"C_Finalize", "C_CloseSession", "C_CloseAllSessions",
	                                    "C_Logout", "C_DestroyObject"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(f->name, names[i]) == 0)
			return 1;
	return 0;
}

/* ==== Sweeps ================================================================ */

static const CK_RV want_not_init[] = {CKR_CRYPTOKI_NOT_INITIALIZED, END_RV};
static const CK_RV want_not_init_or_ab[] = {CKR_CRYPTOKI_NOT_INITIALIZED, CKR_ARGUMENTS_BAD, END_RV};
static const CK_RV want_ok[] = {CKR_OK, END_RV};
static const CK_RV want_ab[] = {CKR_ARGUMENTS_BAD, END_RV};
static const CK_RV want_session_invalid[] = {CKR_SESSION_HANDLE_INVALID, END_RV};
static const CK_RV want_object_invalid[] = {CKR_OBJECT_HANDLE_INVALID, END_RV};
static const CK_RV want_slot_invalid[] = {CKR_SLOT_ID_INVALID, END_RV};
/* An invalid key handle given to a function that uses a key: the key code
 * of the spec, or a complaint about the mechanism or state that may be
 * checked first. Never CKR_OBJECT_HANDLE_INVALID: the spec does not list it
 * for these functions. */
static const CK_RV want_key_invalid[] = {
    CKR_KEY_HANDLE_INVALID, CKR_WRAPPING_KEY_HANDLE_INVALID, CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OPERATION_NOT_INITIALIZED,
    CKR_KEY_NEEDED, CKR_KEY_NOT_NEEDED, CKR_KEY_CHANGED, CKR_SAVED_STATE_INVALID, END_RV};

/* sweep_not_initialized: every function before C_Initialize (or after
 * C_Finalize), once with harmless arguments and once with NULL pointers. */
static void sweep_not_initialized(const char *when)
{
	char what[96];

	for (int i = 0; i < NFNS; i++) {
		struct fn *f = &fns[i];
		CK_RV rv;

		if (strcmp(f->name, "C_Initialize") == 0)
			continue;
		/* Harmless arguments. */
		args_valid();
		hSession = 1;
		slotID = 0;
		hObject = hKey = hWrappingKey = hUnwrappingKey = hBaseKey = 1;
		hEncryptionKey = hAuthenticationKey = 1;
		per_call(f);
		rv = f->call();
		snprintf(what, sizeof what, "%s, harmless arguments", when);
		verdict(f, what, rv, f->loader ? want_ok : want_not_init, 0);
		/* NULL pointers (the loader entry points answer CKR_ARGUMENTS_BAD). */
		args_null(16);
		per_call(f);
		rv = f->call();
		snprintf(what, sizeof what, "%s, NULL pointers", when);
		verdict(f, what, rv, f->loader ? want_ab : want_not_init_or_ab, 0);
	}
}

/* sweep_nulls: every function with NULL for every pointer, valid handles.
 * len != 0: every NULL pointer comes with a non-zero length, so each
 * function that takes a pointer must answer CKR_ARGUMENTS_BAD.
 * len == 0: only the pointers that are needed whatever the lengths (outputs,
 * mechanisms) make the call bad. */
static void sweep_nulls(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ULONG len)
{
	char what[96];

	snprintf(what, sizeof what, "NULL pointers, lengths %lu, valid handles", len);
	for (int i = 0; i < NFNS; i++) {
		struct fn *f = &fns[i];
		int bad = len ? has_bad_null(f) : has_needed_null(f);
		CK_RV rv;

		if (destructive(f))
			continue;
		args_null(len);
		hSession = s;
		slotID = 0;
		hObject = hKey = hWrappingKey = hUnwrappingKey = hBaseKey = obj;
		hEncryptionKey = hAuthenticationKey = obj;
		per_call(f);
		rv = f->call();
		if (strcmp(f->name, "C_Initialize") == 0)
			expect_rv("C_Initialize", what, rv, CKR_CRYPTOKI_ALREADY_INITIALIZED);
		else
			verdict(f, what, rv, bad ? want_ab : NULL, 1);
	}
	/* Leave no search behind (C_FindObjectsInit(NULL, 0) may start one). */
	h_calls++;
	(void)F->C_FindObjectsFinal(s);
}

/* sweep_sessions: every function that takes a session, with session
 * handle bad; every other argument valid. */
static void sweep_sessions(CK_SESSION_HANDLE bad, const char *label, CK_OBJECT_HANDLE obj)
{
	char what[96];

	snprintf(what, sizeof what, "session handle %s", label);
	for (int i = 0; i < NFNS; i++) {
		struct fn *f = &fns[i];
		CK_RV rv;

		if (!takes_session(f))
			continue;
		args_valid();
		hSession = bad;
		slotID = 0;
		hObject = hKey = hWrappingKey = hUnwrappingKey = hBaseKey = obj;
		hEncryptionKey = hAuthenticationKey = obj;
		per_call(f);
		rv = f->call();
		verdict(f, what, rv, want_session_invalid, 1);
	}
}

/* sweep_objects: every function that takes an object or key handle, with
 * that handle bad, in a valid session. */
static void sweep_objects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE bad, const char *label)
{
	char what[96];

	snprintf(what, sizeof what, "object handle %s", label);
	for (int i = 0; i < NFNS; i++) {
		struct fn *f = &fns[i];
		CK_RV rv;

		if (!takes_object(f) && !takes_key(f))
			continue;
		args_valid();
		hSession = s;
		slotID = 0;
		hObject = hKey = hWrappingKey = hUnwrappingKey = hBaseKey = bad;
		hEncryptionKey = hAuthenticationKey = bad;
		per_call(f);
		rv = f->call();
		verdict(f, what, rv, takes_object(f) ? want_object_invalid : want_key_invalid, 1);
	}
	h_calls++;
	(void)F->C_FindObjectsFinal(s);
}

/* sweep_slots: every function that takes a slot, with slot ID bad. */
static void sweep_slots(CK_SLOT_ID bad)
{
	char what[96];

	snprintf(what, sizeof what, "slot ID 0x%lx", bad);
	for (int i = 0; i < NFNS; i++) {
		struct fn *f = &fns[i];
		CK_RV rv;

		if (!takes_slot(f))
			continue;
		args_valid();
		slotID = bad;
		per_call(f);
		rv = f->call();
		verdict(f, what, rv, want_slot_invalid, 0);
	}
}

/* ==== Loader entry points and tables ======================================== */

static void check_loader(void)
{
	CK_C_GetFunctionList gfl;
	CK_C_GetInterfaceList gil;
	CK_C_GetInterface gi;
	CK_INTERFACE list[4], *iface;
	CK_VERSION v30 = {3, 0}, v240 = {2, 40}, v231 = {2, 31}, v31 = {3, 1}, v40 = {4, 0};
	CK_FUNCTION_LIST_3_0 *l30 = NULL;
	CK_FUNCTION_LIST *l240 = NULL;
	CK_ULONG n;
	CK_RV rv;
	int found30 = 0, found240 = 0;

	*(void **)&gfl = dlsym(h_lib, "C_GetFunctionList");
	*(void **)&gil = dlsym(h_lib, "C_GetInterfaceList");
	*(void **)&gi = dlsym(h_lib, "C_GetInterface");
	if (!h_check(gfl != NULL && gil != NULL && gi != NULL, "loader entry points exported"))
		h_fatal("cannot go on without the loader entry points");

	/* Every C_* symbol is exported and is what the 3.0 table holds. */
#define CHECK_SYM(name, params, args) \
	{ \
		void *sym = dlsym(h_lib, "C_" #name); \
		h_check(sym != NULL, "dlsym(C_" #name ") is NULL"); \
		h_check(sym == NULL || sym == *(void **)&F->C_##name, \
		        "dlsym(C_" #name ") differs from the 3.0 table's entry"); \
	}
	CK_FUNCTIONS_2_40(CHECK_SYM, CHECK_SYM)
	CK_FUNCTIONS_3_0(CHECK_SYM, CHECK_SYM)
#undef CHECK_SYM

	/* C_GetFunctionList: the 2.40 table. */
	h_calls++;
	rv = gfl(&l240);
	expect_rv("C_GetFunctionList", "valid", rv, CKR_OK);
	if (l240 == NULL)
		h_fatal("C_GetFunctionList gave no list");
	F2 = l240;
	h_check(l240->version.major == 2 && l240->version.minor == 40,
	        "C_GetFunctionList version %d.%d, want 2.40", l240->version.major, l240->version.minor);
	h_calls++;
	expect_rv("C_GetFunctionList", "NULL", gfl(NULL), CKR_ARGUMENTS_BAD);

	/* C_GetInterfaceList: two interfaces "PKCS 11", 3.0 and 2.40. */
	n = 0;
	h_calls++;
	rv = gil(NULL, &n);
	expect_rv("C_GetInterfaceList", "count query", rv, CKR_OK);
	h_check(n == 2, "C_GetInterfaceList count %lu, want 2", n);
	n = 1;
	h_calls++;
	rv = gil(list, &n);
	expect_rv("C_GetInterfaceList", "room for 1", rv, CKR_BUFFER_TOO_SMALL);
	h_check(n == 2, "C_GetInterfaceList short buffer: count %lu, want 2", n);
	h_calls++;
	expect_rv("C_GetInterfaceList", "NULL count", gil(list, NULL), CKR_ARGUMENTS_BAD);
	h_calls++;
	expect_rv("C_GetInterfaceList", "all NULL", gil(NULL, NULL), CKR_ARGUMENTS_BAD);
	n = 4;
	memset(list, 0, sizeof list);
	h_calls++;
	rv = gil(list, &n);
	expect_rv("C_GetInterfaceList", "room for 4", rv, CKR_OK);
	h_check(n == 2, "C_GetInterfaceList count %lu, want 2", n);
	for (CK_ULONG i = 0; i < n && i < 4; i++) {
		const CK_VERSION *v = (const CK_VERSION *)list[i].pFunctionList;

		h_check(list[i].pInterfaceName != NULL &&
		            strcmp((const char *)list[i].pInterfaceName, "PKCS 11") == 0,
		        "interface %lu is not named \"PKCS 11\"", i);
		h_check((list[i].flags & CKF_INTERFACE_FORK_SAFE) == 0,
		        "interface %lu advertises CKF_INTERFACE_FORK_SAFE", i);
		if (v == NULL) {
			h_fail("interface %lu has no function list", i);
			continue;
		}
		if (v->major == 3 && v->minor == 0) {
			found30++;
			h_check(list[i].pFunctionList == (void *)F, "the 3.0 interface is not C_GetInterface's");
		} else if (v->major == 2 && v->minor == 40) {
			found240++;
			h_check(list[i].pFunctionList == (void *)l240,
			        "the 2.40 interface is not C_GetFunctionList's table");
		}
	}
	h_check(found30 == 1 && found240 == 1, "interfaces: %d of version 3.0, %d of 2.40; want 1 and 1",
	        found30, found240);

	/* C_GetInterface. */
	iface = NULL;
	h_calls++;
	rv = gi(NULL, NULL, &iface, 0);
	expect_rv("C_GetInterface", "default", rv, CKR_OK);
	h_check(iface != NULL && iface->pFunctionList == (void *)F,
	        "C_GetInterface(NULL, NULL) is not the 3.0 interface");
	iface = NULL;
	h_calls++;
	rv = gi((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &iface, 0);
	expect_rv("C_GetInterface", "PKCS 11 2.40", rv, CKR_OK);
	h_check(iface != NULL && iface->pFunctionList == (void *)l240,
	        "C_GetInterface(2.40) is not C_GetFunctionList's table");
	iface = NULL;
	h_calls++;
	rv = gi((CK_UTF8CHAR_PTR) "PKCS 11", &v231, &iface, 0);
	h_check(rv == CKR_OK || rv == CKR_ARGUMENTS_BAD, "C_GetInterface(2.31): %s", rv_name(rv));
	iface = NULL;
	h_calls++;
	rv = gi((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0);
	expect_rv("C_GetInterface", "PKCS 11 3.0", rv, CKR_OK);
	l30 = iface != NULL ? (CK_FUNCTION_LIST_3_0 *)iface->pFunctionList : NULL;
	h_check(l30 == F, "C_GetInterface(3.0) gives another table than at load");
	h_calls++;
	expect_rv("C_GetInterface", "3.1", gi((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &iface, 0),
	          CKR_ARGUMENTS_BAD);
	h_calls++;
	expect_rv("C_GetInterface", "4.0", gi((CK_UTF8CHAR_PTR) "PKCS 11", &v40, &iface, 0),
	          CKR_ARGUMENTS_BAD);
	h_calls++;
	expect_rv("C_GetInterface", "unknown name", gi((CK_UTF8CHAR_PTR) "Vendor X", NULL, &iface, 0),
	          CKR_ARGUMENTS_BAD);
	h_calls++;
	expect_rv("C_GetInterface", "fork-safe asked",
	          gi((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, CKF_INTERFACE_FORK_SAFE),
	          CKR_ARGUMENTS_BAD);
	h_calls++;
	expect_rv("C_GetInterface", "NULL ppInterface", gi(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);

	/* The tables. */
	h_check(F->version.major == 3 && F->version.minor == 0, "3.0 table version %d.%d",
	        F->version.major, F->version.minor);
	h_check(offsetof(CK_FUNCTION_LIST_3_0, C_GetInterfaceList) == sizeof(CK_FUNCTION_LIST),
	        "header: the 3.0 additions do not start where the 2.40 list ends");
	h_check(sizeof(CK_FUNCTION_LIST_3_0) == offsetof(CK_FUNCTION_LIST_3_0, C_Initialize) + 92 * sizeof(void *),
	        "header: CK_FUNCTION_LIST_3_0 is not 92 pointers after the version");
#define CHECK_NN2(name, params, args) \
	h_check(l240->C_##name != NULL, "2.40 table: C_" #name " is NULL");
#define CHECK_NN3(name, params, args) h_check(F->C_##name != NULL, "3.0 table: C_" #name " is NULL");
#define CHECK_SAME(name, params, args) \
	h_check(F->C_##name == l240->C_##name, "3.0 and 2.40 tables differ at C_" #name);
	CK_FUNCTIONS_2_40(CHECK_NN2, CHECK_NN2)
	CK_FUNCTIONS_2_40(CHECK_NN3, CHECK_NN3)
	CK_FUNCTIONS_3_0(CHECK_NN3, CHECK_NN3)
	CK_FUNCTIONS_2_40(CHECK_SAME, CHECK_SAME)
#undef CHECK_NN2
#undef CHECK_NN3
#undef CHECK_SAME
	/* As raw memory: 68 identical pointers after the version, 24 more non-NULL. */
	{
		void *const *a = (void *const *)&F->C_Initialize;
		void *const *b = (void *const *)&l240->C_Initialize;
		int same = 1, nonnull = 1;

		for (int i = 0; i < 68; i++)
			same &= a[i] == b[i];
		for (int i = 0; i < 92; i++)
			nonnull &= a[i] != NULL;
		h_check(same, "the 3.0 table's first 68 entries are not the 2.40 table's");
		h_check(nonnull, "the 3.0 table has a NULL among its 92 entries");
	}
}

/* ==== C_Initialize arguments ================================================ */

static CK_RV mx_create(CK_VOID_PTR_PTR m)
{
	*m = (void *)1;
	return CKR_OK;
}
static CK_RV mx_destroy(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}
static CK_RV mx_lock(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}
static CK_RV mx_unlock(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

static void check_initialize(void)
{
	CK_C_INITIALIZE_ARGS a;

	memset(&a, 0, sizeof a);
	a.CreateMutex = mx_create;
	a.DestroyMutex = mx_destroy;
	expect_rv("C_Initialize", "2 of 4 mutex callbacks", CK(Initialize, &a), CKR_ARGUMENTS_BAD);
	memset(&a, 0, sizeof a);
	a.LockMutex = mx_lock;
	a.flags = CKF_OS_LOCKING_OK;
	expect_rv("C_Initialize", "1 of 4 mutex callbacks + OS locking", CK(Initialize, &a),
	          CKR_ARGUMENTS_BAD);
	memset(&a, 0, sizeof a);
	a.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	expect_rv("C_Initialize", "CKF_LIBRARY_CANT_CREATE_OS_THREADS", CK(Initialize, &a),
	          CKR_NEED_TO_CREATE_THREADS);
	/* Both flags: p11-kit and NSS pass them together as a blanket default,
	 * and Craton accepts that on purpose (pkcs11/module.go); the spec's
	 * answer would be CKR_NEED_TO_CREATE_THREADS. Either is accepted. */
	memset(&a, 0, sizeof a);
	a.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK;
	{
		CK_RV rv = CK(Initialize, &a);
		expect_any("C_Initialize", "CANT_CREATE_OS_THREADS + OS_LOCKING_OK", rv, CKR_OK,
		           CKR_NEED_TO_CREATE_THREADS);
		if (rv == CKR_OK)
			expect_rv("C_Finalize", "after CANT_CREATE_OS_THREADS + OS_LOCKING_OK", CK(Finalize, NULL),
			          CKR_OK);
	}
	memset(&a, 0, sizeof a);
	a.CreateMutex = mx_create;
	a.DestroyMutex = mx_destroy;
	a.LockMutex = mx_lock;
	a.UnlockMutex = mx_unlock;
	expect_rv("C_Initialize", "4 callbacks, no CKF_OS_LOCKING_OK", CK(Initialize, &a), CKR_CANT_LOCK);
	/* None of the refusals may have initialised the library. */
	{
		CK_INFO info;
		expect_rv("C_GetInfo", "after refused C_Initialize", CK(GetInfo, &info),
		          CKR_CRYPTOKI_NOT_INITIALIZED);
	}
	a.flags = CKF_OS_LOCKING_OK;
	expect_rv("C_Initialize", "4 callbacks + CKF_OS_LOCKING_OK", CK(Initialize, &a), CKR_OK);
	h_check(h_store_in_use(), "C_Initialize did not open the scratch store named by CRATON_CONF");
	expect_rv("C_Initialize", "again", CK(Initialize, &a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	expect_rv("C_Initialize", "again, NULL", CK(Initialize, NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	expect_rv("C_Finalize", "non-NULL pReserved", CK(Finalize, (void *)&a), CKR_ARGUMENTS_BAD);
	/* Still initialised after the refused C_Finalize. */
	{
		CK_INFO info;
		expect_rv("C_GetInfo", "after refused C_Finalize", CK(GetInfo, &info), CKR_OK);
	}
}

/* ==== Helpers for the targeted checks ======================================= */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static int no_nul(const CK_UTF8CHAR *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\0')
			return 0;
	return 1;
}

/* new_data makes a data object labelled label; token/private as given. */
static CK_RV new_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL token, CK_BBOOL priv,
                      CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_TOKEN, &token, 1},
	    {CKA_PRIVATE, &priv, 1},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	*h = CK_INVALID_HANDLE;
	return CK(CreateObject, s, t, 4, h);
}

/* find_label counts the objects labelled label. */
static CK_ULONG find_label(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *first)
{
	CK_ATTRIBUTE t[] = {{CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE hs[16];
	CK_ULONG n = 0;
	CK_RV rv;

	rv = CK(FindObjectsInit, s, t, 1);
	expect_rv("C_FindObjectsInit", "by label", rv, CKR_OK);
	if (rv != CKR_OK)
		return 0;
	rv = CK(FindObjects, s, hs, 16, &n);
	expect_rv("C_FindObjects", "by label", rv, CKR_OK);
	expect_rv("C_FindObjectsFinal", "by label", CK(FindObjectsFinal, s), CKR_OK);
	if (first != NULL)
		*first = n > 0 ? hs[0] : CK_INVALID_HANDLE;
	return rv == CKR_OK ? n : 0;
}

/* ==== c. Targeted checks ===================================================== */

static void check_info(void)
{
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 0, n2;
	CK_UTF8CHAR want_label[32];
	CK_RV rv;

	rv = CK(GetInfo, &info);
	expect_rv("C_GetInfo", "valid", rv, CKR_OK);
	h_check(info.cryptokiVersion.major == 3 && info.cryptokiVersion.minor == 0,
	        "C_GetInfo cryptokiVersion %d.%d, want 3.0", info.cryptokiVersion.major,
	        info.cryptokiVersion.minor);
	h_check(no_nul(info.manufacturerID, 32) && no_nul(info.libraryDescription, 32),
	        "C_GetInfo text fields must be blank-padded, not NUL-terminated");

	/* C_GetSlotList: the two-call convention. */
	rv = CK(GetSlotList, CK_FALSE, NULL, &n);
	expect_rv("C_GetSlotList", "count query", rv, CKR_OK);
	h_check(n >= 1 && n <= 8, "C_GetSlotList count %lu", n);
	n2 = 0;
	rv = CK(GetSlotList, CK_FALSE, slots, &n2);
	expect_rv("C_GetSlotList", "room for 0", rv, CKR_BUFFER_TOO_SMALL);
	h_check(n2 == n, "C_GetSlotList short buffer: count %lu, want %lu", n2, n);
	n2 = n;
	memset(slots, 0xff, sizeof slots);
	rv = CK(GetSlotList, CK_FALSE, slots, &n2);
	expect_rv("C_GetSlotList", "exact room", rv, CKR_OK);
	h_check(n2 == n && slots[0] == 0, "C_GetSlotList: count %lu, first slot %lu; want %lu, 0", n2,
	        slots[0], n);
	n2 = 8;
	rv = CK(GetSlotList, CK_TRUE, slots, &n2);
	expect_rv("C_GetSlotList", "tokenPresent", rv, CKR_OK);
	h_check(n2 == n, "C_GetSlotList(tokenPresent) count %lu, want %lu", n2, n);

	/* C_GetMechanismList: the two-call convention. */
	n = 12345;
	rv = CK(GetMechanismList, 0, NULL, &n);
	expect_rv("C_GetMechanismList", "count query", rv, CKR_OK);
	h_check(n != 12345, "C_GetMechanismList count query did not set the count");
	if (rv == CKR_OK && n > 0) {
		CK_MECHANISM_TYPE m[1];
		n2 = 0;
		rv = CK(GetMechanismList, 0, m, &n2);
		expect_rv("C_GetMechanismList", "room for 0", rv, CKR_BUFFER_TOO_SMALL);
		h_check(n2 == n, "C_GetMechanismList short buffer: count %lu, want %lu", n2, n);
	}

	rv = CK(GetSlotInfo, 0, &si);
	expect_rv("C_GetSlotInfo", "slot 0", rv, CKR_OK);
	h_check((si.flags & CKF_TOKEN_PRESENT) != 0, "slot 0 has no token");
	h_check(no_nul(si.slotDescription, 64) && no_nul(si.manufacturerID, 32),
	        "C_GetSlotInfo text fields must be blank-padded");

	rv = CK(GetTokenInfo, 0, &ti);
	expect_rv("C_GetTokenInfo", "slot 0", rv, CKR_OK);
	h_pad(want_label, sizeof want_label, "craton abi");
	h_check(memcmp(ti.label, want_label, 32) == 0, "token label is not \"craton abi\" blank-padded");
	h_check((ti.flags & CKF_TOKEN_INITIALIZED) && (ti.flags & CKF_USER_PIN_INITIALIZED),
	        "token flags 0x%lx lack TOKEN_INITIALIZED or USER_PIN_INITIALIZED", ti.flags);
	h_check(no_nul(ti.manufacturerID, 32) && no_nul(ti.model, 16) && no_nul(ti.serialNumber, 16),
	        "C_GetTokenInfo text fields must be blank-padded");
}

static void check_sessions_and_login(void)
{
	CK_SESSION_HANDLE rw, ro, s;
	CK_SESSION_INFO si;
	CK_UTF8CHAR lab[32];
	CK_RV rv;

	expect_rv("C_OpenSession", "without CKF_SERIAL_SESSION", CK(OpenSession, 0, 0, NULL, NULL, &s),
	          CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	rv = CK(OpenSession, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw);
	expect_rv("C_OpenSession", "RW", rv, CKR_OK);
	rv = CK(OpenSession, 0, CKF_SERIAL_SESSION, NULL, NULL, &ro);
	expect_rv("C_OpenSession", "RO", rv, CKR_OK);

	h_pad(lab, sizeof lab, "craton abi");
	expect_rv("C_InitToken", "with sessions open", CK(InitToken, 0, (CK_UTF8CHAR_PTR)H_SO_PIN, 8, lab),
	          CKR_SESSION_EXISTS);

	expect_rv("C_GetSessionInfo", "RW", CK(GetSessionInfo, rw, &si), CKR_OK);
	h_check(si.state == CKS_RW_PUBLIC_SESSION && (si.flags & CKF_RW_SESSION) && si.slotID == 0,
	        "RW session: state %lu flags 0x%lx slot %lu", si.state, si.flags, si.slotID);
	expect_rv("C_GetSessionInfo", "RO", CK(GetSessionInfo, ro, &si), CKR_OK);
	h_check(si.state == CKS_RO_PUBLIC_SESSION && !(si.flags & CKF_RW_SESSION),
	        "RO session: state %lu flags 0x%lx", si.state, si.flags);

	expect_rv("C_Logout", "not logged in", CK(Logout, rw), CKR_USER_NOT_LOGGED_IN);
	expect_rv("C_Login", "wrong user PIN", CK(Login, rw, CKU_USER, (CK_UTF8CHAR_PTR) "00000000", 8),
	          CKR_PIN_INCORRECT);
	expect_rv("C_Login", "user type 7", CK(Login, rw, 7, (CK_UTF8CHAR_PTR)H_USER_PIN, 8),
	          CKR_USER_TYPE_INVALID);
	expect_rv("C_Login", "SO with a RO session open", CK(Login, rw, CKU_SO, (CK_UTF8CHAR_PTR)H_SO_PIN, 8),
	          CKR_SESSION_READ_ONLY_EXISTS);
	expect_rv("C_Login", "user", CK(Login, ro, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 8), CKR_OK);
	expect_rv("C_Login", "user again", CK(Login, rw, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 8),
	          CKR_USER_ALREADY_LOGGED_IN);
	expect_rv("C_Login", "SO while user", CK(Login, rw, CKU_SO, (CK_UTF8CHAR_PTR)H_SO_PIN, 8),
	          CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	expect_rv("C_Login", "context-specific, no operation",
	          CK(Login, rw, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)H_USER_PIN, 8),
	          CKR_OPERATION_NOT_INITIALIZED);
	/* The login is the process's: both sessions see it. */
	expect_rv("C_GetSessionInfo", "RW after login", CK(GetSessionInfo, rw, &si), CKR_OK);
	h_check(si.state == CKS_RW_USER_FUNCTIONS, "RW session after login: state %lu", si.state);
	expect_rv("C_GetSessionInfo", "RO after login", CK(GetSessionInfo, ro, &si), CKR_OK);
	h_check(si.state == CKS_RO_USER_FUNCTIONS, "RO session after login: state %lu", si.state);
	expect_rv("C_Logout", "user", CK(Logout, rw), CKR_OK);
	expect_rv("C_GetSessionInfo", "after logout", CK(GetSessionInfo, ro, &si), CKR_OK);
	h_check(si.state == CKS_RO_PUBLIC_SESSION, "RO session after logout: state %lu", si.state);

	/* SO: needs every session RW; then no RO session may open. */
	expect_rv("C_CloseSession", "RO", CK(CloseSession, ro), CKR_OK);
	expect_rv("C_Login", "SO", CK(Login, rw, CKU_SO, (CK_UTF8CHAR_PTR)H_SO_PIN, 8), CKR_OK);
	expect_rv("C_OpenSession", "RO while SO", CK(OpenSession, 0, CKF_SERIAL_SESSION, NULL, NULL, &s),
	          CKR_SESSION_READ_WRITE_SO_EXISTS);
	expect_rv("C_GetSessionInfo", "SO", CK(GetSessionInfo, rw, &si), CKR_OK);
	h_check(si.state == CKS_RW_SO_FUNCTIONS, "SO session: state %lu", si.state);
	expect_rv("C_Logout", "SO", CK(Logout, rw), CKR_OK);
	/* C_InitPIN needs the SO. */
	expect_rv("C_InitPIN", "not SO", CK(InitPIN, rw, (CK_UTF8CHAR_PTR)H_USER_PIN, 8),
	          CKR_USER_NOT_LOGGED_IN);
	/* Huge lengths with small buffers: refused before anything is read. */
	expect_rv("C_Login", "ulPinLen 1<<40", CK(Login, rw, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 1UL << 40),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_SetPIN", "ulNewLen 1<<40",
	          CK(SetPIN, rw, (CK_UTF8CHAR_PTR)H_USER_PIN, 8, (CK_UTF8CHAR_PTR)H_USER_PIN, 1UL << 40),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_InitToken", "ulPinLen 1<<40", CK(InitToken, 0, (CK_UTF8CHAR_PTR)H_SO_PIN, 1UL << 40, lab),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_CloseSession", "RW", CK(CloseSession, rw), CKR_OK);
	expect_rv("C_CloseSession", "RW again", CK(CloseSession, rw), CKR_SESSION_HANDLE_INVALID);
}

/* Templates, attributes, searches, session states. ro/rw: open sessions,
 * nobody logged in at entry; left logged in as user. */
static void check_objects(CK_SESSION_HANDLE rw, CK_SESSION_HANDLE ro)
{
	CK_OBJECT_CLASS cls = CKO_DATA, cls_key = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_OBJECT_HANDLE h, h_pub, h_tok, h_priv, h_key, h_copy;
	CK_ULONG size, big = 1UL << 40;
	unsigned int cls4 = (unsigned int)CKO_DATA;
	unsigned char key[32], buf[64];
	char lbl[16];
	CK_ATTRIBUTE a[4];
	CK_RV rv;

	memset(key, 0x5a, sizeof key);

	/* Nobody logged in. */
	rv = new_data(ro, "abi-public", CK_FALSE, CK_FALSE, &h_pub);
	expect_rv("C_CreateObject", "public session object in a RO session", rv, CKR_OK);
	rv = new_data(ro, "abi-token", CK_TRUE, CK_FALSE, &h);
	expect_rv("C_CreateObject", "token object in a RO session", rv, CKR_SESSION_READ_ONLY);
	rv = new_data(rw, "abi-private", CK_FALSE, CK_TRUE, &h);
	expect_rv("C_CreateObject", "CKA_PRIVATE object while logged out", rv, CKR_USER_NOT_LOGGED_IN);

	/* A NULL PIN means the protected authentication path, which this
	 * token does not have: refused, never a login. */
	expect_any("C_Login", "NULL PIN, token without protected path", CK(Login, rw, CKU_USER, NULL, 0),
	           CKR_ARGUMENTS_BAD, CKR_PIN_INCORRECT);
	/* A copy into a token object needs a RW session. */
	a[0] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, 1};
	expect_rv("C_CopyObject", "to a token object in a RO session", CK(CopyObject, ro, h_pub, a, 1, &h),
	          CKR_SESSION_READ_ONLY);

	/* Bad templates. */
	a[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
	a[1] = (CK_ATTRIBUTE){CKA_LABEL, "x", CK_UNAVAILABLE_INFORMATION};
	expect_rv("C_CreateObject", "ulValueLen ~0 with a 1-byte value", CK(CreateObject, rw, a, 2, &h),
	          CKR_ARGUMENTS_BAD);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, "x", 1};
	expect_rv("C_CreateObject", "no CKA_CLASS", CK(CreateObject, rw, a, 1, &h), CKR_TEMPLATE_INCOMPLETE);
	a[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls4, 4};
	expect_rv("C_CreateObject", "4-byte CKA_CLASS", CK(CreateObject, rw, a, 1, &h),
	          CKR_ATTRIBUTE_VALUE_INVALID);
	a[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
	a[1] = (CK_ATTRIBUTE){CKA_TOKEN, &cls, sizeof cls};
	expect_rv("C_CreateObject", "8-byte CKA_TOKEN", CK(CreateObject, rw, a, 2, &h),
	          CKR_ATTRIBUTE_VALUE_INVALID);
	a[1] = (CK_ATTRIBUTE){0x7ffffff0UL, "x", 1};
	expect_rv("C_CreateObject", "unknown attribute type", CK(CreateObject, rw, a, 2, &h),
	          CKR_ATTRIBUTE_TYPE_INVALID);
	a[1] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 8};
	expect_rv("C_CreateObject", "NULL pValue, ulValueLen 8", CK(CreateObject, rw, a, 2, &h),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_FindObjectsInit", "NULL pValue, ulValueLen 8", CK(FindObjectsInit, rw, a, 2),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_SetAttributeValue", "NULL pValue, ulValueLen 8", CK(SetAttributeValue, rw, h_pub, &a[1], 1),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_CopyObject", "NULL pValue, ulValueLen 8", CK(CopyObject, rw, h_pub, &a[1], 1, &h),
	          CKR_ARGUMENTS_BAD);
	a[1] = (CK_ATTRIBUTE){CKA_LABEL, "x", 1};
	expect_rv("C_CreateObject", "ulCount 1<<40", CK(CreateObject, rw, a, big, &h), CKR_ARGUMENTS_BAD);
	expect_rv("C_CopyObject", "ulCount 1<<40", CK(CopyObject, rw, h_pub, a, big, &h), CKR_ARGUMENTS_BAD);
	expect_rv("C_GetAttributeValue", "ulCount 1<<40", CK(GetAttributeValue, rw, h_pub, a, big),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_SetAttributeValue", "ulCount 1<<40", CK(SetAttributeValue, rw, h_pub, a, big),
	          CKR_ARGUMENTS_BAD);
	expect_rv("C_FindObjectsInit", "ulCount 1<<40", CK(FindObjectsInit, rw, a, big), CKR_ARGUMENTS_BAD);
	{
		CK_MECHANISM m = {CKM_SHA256, NULL, 0};
		CK_BYTE wrapped[16] = {0};
		CK_OBJECT_HANDLE h2;

		expect_any("C_GenerateKey", "ulCount 1<<40", CK(GenerateKey, rw, &m, a, big, &h),
		           CKR_ARGUMENTS_BAD, CKR_FUNCTION_NOT_SUPPORTED);
		expect_any("C_GenerateKeyPair", "public count 1<<40",
		           CK(GenerateKeyPair, rw, &m, a, big, a, 1, &h, &h2), CKR_ARGUMENTS_BAD,
		           CKR_FUNCTION_NOT_SUPPORTED);
		expect_any("C_GenerateKeyPair", "private count 1<<40",
		           CK(GenerateKeyPair, rw, &m, a, 1, a, big, &h, &h2), CKR_ARGUMENTS_BAD,
		           CKR_FUNCTION_NOT_SUPPORTED);
		expect_any("C_UnwrapKey", "ulAttributeCount 1<<40",
		           CK(UnwrapKey, rw, &m, h_pub, wrapped, sizeof wrapped, a, big, &h), CKR_ARGUMENTS_BAD,
		           CKR_FUNCTION_NOT_SUPPORTED);
		expect_any("C_UnwrapKey", "ulWrappedKeyLen 1<<40",
		           CK(UnwrapKey, rw, &m, h_pub, wrapped, big, a, 1, &h), CKR_ARGUMENTS_BAD,
		           CKR_FUNCTION_NOT_SUPPORTED);
		expect_any("C_DeriveKey", "ulAttributeCount 1<<40", CK(DeriveKey, rw, &m, h_pub, a, big, &h),
		           CKR_ARGUMENTS_BAD, CKR_FUNCTION_NOT_SUPPORTED);
		expect_rv("C_GenerateRandom", "ulRandomLen 1<<40", CK(GenerateRandom, rw, buf, big),
		          CKR_ARGUMENTS_BAD);
		expect_any("C_DigestUpdate", "ulPartLen 1<<40", CK(DigestUpdate, rw, buf, big), CKR_ARGUMENTS_BAD,
		           CKR_FUNCTION_NOT_SUPPORTED, CKR_OPERATION_NOT_INITIALIZED);
		{
			CK_ULONG outlen = sizeof buf;
			expect_any("C_Encrypt", "ulDataLen 1<<40", CK(Encrypt, rw, buf, big, buf, &outlen),
			           CKR_ARGUMENTS_BAD, CKR_FUNCTION_NOT_SUPPORTED, CKR_OPERATION_NOT_INITIALIZED);
		}
		expect_any("C_Verify", "ulSignatureLen 1<<40", CK(Verify, rw, buf, 16, buf, big),
		           CKR_ARGUMENTS_BAD, CKR_FUNCTION_NOT_SUPPORTED, CKR_OPERATION_NOT_INITIALIZED);
	}

	/* C_GetAttributeValue: the two-call convention. */
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 0};
	rv = CK(GetAttributeValue, ro, h_pub, a, 1);
	expect_rv("C_GetAttributeValue", "length query", rv, CKR_OK);
	h_check(a[0].ulValueLen == strlen("abi-public"), "label length %lu, want %zu", a[0].ulValueLen,
	        strlen("abi-public"));
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 1UL << 40};
	rv = CK(GetAttributeValue, ro, h_pub, a, 1);
	expect_rv("C_GetAttributeValue", "length query, NULL pValue with ulValueLen 1<<40", rv, CKR_OK);
	h_check(a[0].ulValueLen == strlen("abi-public"), "label length %lu after a NULL-pValue query",
	        a[0].ulValueLen);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, lbl, 2};
	rv = CK(GetAttributeValue, ro, h_pub, a, 1);
	expect_rv("C_GetAttributeValue", "2-byte buffer", rv, CKR_BUFFER_TOO_SMALL);
	h_check(a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
	        "short buffer: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION", a[0].ulValueLen);
	memset(lbl, 0, sizeof lbl);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, lbl, sizeof lbl};
	rv = CK(GetAttributeValue, ro, h_pub, a, 1);
	expect_rv("C_GetAttributeValue", "16-byte buffer", rv, CKR_OK);
	h_check(a[0].ulValueLen == 10 && memcmp(lbl, "abi-public", 10) == 0, "label read back wrong");
	/* Every entry is answered even when one fails. */
	{
		CK_OBJECT_CLASS got = 99;
		a[0] = (CK_ATTRIBUTE){CKA_CLASS, &got, sizeof got};
		a[1] = (CK_ATTRIBUTE){CKA_LABEL, lbl, 2};
		rv = CK(GetAttributeValue, ro, h_pub, a, 2);
		expect_rv("C_GetAttributeValue", "class + short label", rv, CKR_BUFFER_TOO_SMALL);
		h_check(got == CKO_DATA && a[0].ulValueLen == sizeof got,
		        "class + short label: the class was not filled in");
		h_check(a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION, "class + short label: label length %lu",
		        a[1].ulValueLen);
		got = 99;
		a[0] = (CK_ATTRIBUTE){CKA_CLASS, &got, sizeof got};
		a[1] = (CK_ATTRIBUTE){0x7ffffff0UL, lbl, sizeof lbl};
		rv = CK(GetAttributeValue, ro, h_pub, a, 2);
		expect_rv("C_GetAttributeValue", "unknown attribute type", rv, CKR_ATTRIBUTE_TYPE_INVALID);
		h_check(got == CKO_DATA, "unknown type: the class was not filled in");
		h_check(a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION, "unknown type: length %lu",
		        a[1].ulValueLen);
	}
	expect_rv("C_GetAttributeValue", "empty template", CK(GetAttributeValue, ro, h_pub, NULL, 0), CKR_OK);
	/* C_SetAttributeValue. */
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, "abi-renamed", 11};
	expect_rv("C_SetAttributeValue", "label", CK(SetAttributeValue, rw, h_pub, a, 1), CKR_OK);
	h_check(find_label(ro, "abi-renamed", NULL) == 1, "renamed object not found by its new label");
	a[0] = (CK_ATTRIBUTE){0x7ffffff0UL, "x", 1};
	expect_rv("C_SetAttributeValue", "unknown attribute type", CK(SetAttributeValue, rw, h_pub, a, 1),
	          CKR_ATTRIBUTE_TYPE_INVALID);
	{
		CK_OBJECT_CLASS k = CKO_SECRET_KEY;
		a[0] = (CK_ATTRIBUTE){CKA_CLASS, &k, sizeof k};
		expect_rv("C_SetAttributeValue", "change CKA_CLASS", CK(SetAttributeValue, rw, h_pub, a, 1),
		          CKR_ATTRIBUTE_READ_ONLY);
	}
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, "abi-public", 10};
	expect_rv("C_SetAttributeValue", "label back", CK(SetAttributeValue, rw, h_pub, a, 1), CKR_OK);
	/* C_GetObjectSize. */
	size = 0;
	expect_rv("C_GetObjectSize", "valid", CK(GetObjectSize, ro, h_pub, &size), CKR_OK);
	h_check(size > 0 && size != CK_UNAVAILABLE_INFORMATION, "object size %lu", size);
	/* C_CopyObject. */
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, "abi-copy", 8};
	expect_rv("C_CopyObject", "public session object", CK(CopyObject, ro, h_pub, a, 1, &h_copy), CKR_OK);
	h_check(find_label(ro, "abi-copy", NULL) == 1, "copy not found");
	expect_rv("C_DestroyObject", "copy", CK(DestroyObject, ro, h_copy), CKR_OK);

	/* Searches: states. */
	{
		CK_OBJECT_HANDLE hs[4];
		CK_ULONG n = 0;

		expect_rv("C_FindObjects", "without C_FindObjectsInit", CK(FindObjects, rw, hs, 4, &n),
		          CKR_OPERATION_NOT_INITIALIZED);
		expect_rv("C_FindObjectsFinal", "without C_FindObjectsInit", CK(FindObjectsFinal, rw),
		          CKR_OPERATION_NOT_INITIALIZED);
		a[0] = (CK_ATTRIBUTE){CKA_LABEL, "abi-public", 10};
		expect_rv("C_FindObjectsInit", "first", CK(FindObjectsInit, rw, a, 1), CKR_OK);
		expect_rv("C_FindObjectsInit", "second", CK(FindObjectsInit, rw, a, 1), CKR_OPERATION_ACTIVE);
		expect_rv("C_FindObjects", "max 0", CK(FindObjects, rw, hs, 0, &n), CKR_OK);
		h_check(n == 0, "C_FindObjects(max 0) returned %lu handles", n);
		expect_rv("C_FindObjects", "after a refused second init", CK(FindObjects, rw, hs, 4, &n), CKR_OK);
		h_check(n == 1 && hs[0] == h_pub, "search by label: %lu handles", n);
		expect_rv("C_FindObjects", "exhausted", CK(FindObjects, rw, hs, 4, &n), CKR_OK);
		h_check(n == 0, "exhausted search returned %lu handles", n);
		expect_rv("C_FindObjectsFinal", "first", CK(FindObjectsFinal, rw), CKR_OK);
		expect_rv("C_FindObjectsFinal", "second", CK(FindObjectsFinal, rw), CKR_OPERATION_NOT_INITIALIZED);
		/* One session's search is not another's. */
		expect_rv("C_FindObjectsInit", "in RW", CK(FindObjectsInit, rw, a, 1), CKR_OK);
		expect_rv("C_FindObjects", "in RO, none active", CK(FindObjects, ro, hs, 4, &n),
		          CKR_OPERATION_NOT_INITIALIZED);
		/* C_SessionCancel ends a search. */
		expect_rv("C_SessionCancel", "CKF_FIND_OBJECTS", CK(SessionCancel, rw, CKF_FIND_OBJECTS), CKR_OK);
		expect_rv("C_FindObjects", "after C_SessionCancel", CK(FindObjects, rw, hs, 4, &n),
		          CKR_OPERATION_NOT_INITIALIZED);
		/* A 4-byte CKA_CLASS in a search template matches nothing (or is refused). */
		a[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls4, 4};
		rv = CK(FindObjectsInit, rw, a, 1);
		expect_any("C_FindObjectsInit", "4-byte CKA_CLASS", rv, CKR_OK, CKR_ATTRIBUTE_VALUE_INVALID);
		if (rv == CKR_OK) {
			n = 99;
			expect_rv("C_FindObjects", "4-byte CKA_CLASS", CK(FindObjects, rw, hs, 4, &n), CKR_OK);
			h_check(n == 0, "a 4-byte CKA_CLASS matched %lu objects", n);
			expect_rv("C_FindObjectsFinal", "4-byte CKA_CLASS", CK(FindObjectsFinal, rw), CKR_OK);
		}
	}

	/* Logged in as the user. */
	expect_rv("C_Login", "user", CK(Login, rw, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 8), CKR_OK);
	rv = new_data(rw, "abi-token", CK_TRUE, CK_FALSE, &h_tok);
	expect_rv("C_CreateObject", "token object in a RW session", rv, CKR_OK);
	expect_rv("C_DestroyObject", "token object from a RO session", CK(DestroyObject, ro, h_tok),
	          CKR_SESSION_READ_ONLY);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, "abi-token2", 10};
	expect_rv("C_SetAttributeValue", "token object from a RO session", CK(SetAttributeValue, ro, h_tok, a, 1),
	          CKR_SESSION_READ_ONLY);
	expect_rv("C_DestroyObject", "token object", CK(DestroyObject, rw, h_tok), CKR_OK);
	expect_rv("C_DestroyObject", "token object again", CK(DestroyObject, rw, h_tok), CKR_OBJECT_HANDLE_INVALID);
	rv = new_data(rw, "abi-private", CK_FALSE, CK_TRUE, &h_priv);
	expect_rv("C_CreateObject", "CKA_PRIVATE object, logged in", rv, CKR_OK);
	h_check(find_label(ro, "abi-private", NULL) == 1, "private object not found while logged in");

	/* A sensitive AES key. */
	a[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls_key, sizeof cls_key};
	a[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kt, sizeof kt};
	a[2] = (CK_ATTRIBUTE){CKA_VALUE, key, 20};
	a[3] = (CK_ATTRIBUTE){CKA_TOKEN, &no, 1};
	expect_rv("C_CreateObject", "AES key of 20 bytes", CK(CreateObject, rw, a, 4, &h),
	          CKR_ATTRIBUTE_VALUE_INVALID);
	{
		CK_ATTRIBUTE k[] = {
		    {CKA_CLASS, &cls_key, sizeof cls_key}, {CKA_KEY_TYPE, &kt, sizeof kt},
		    {CKA_VALUE, key, sizeof key},          {CKA_TOKEN, &no, 1},
		    {CKA_SENSITIVE, &yes, 1},              {CKA_LABEL, "abi-key", 7},
		};
		CK_ULONG vlen = 0;

		rv = CK(CreateObject, rw, k, 6, &h_key);
		expect_rv("C_CreateObject", "sensitive AES-256 key", rv, CKR_OK);
		memset(buf, 0, sizeof buf);
		a[0] = (CK_ATTRIBUTE){CKA_VALUE, buf, sizeof buf};
		rv = CK(GetAttributeValue, rw, h_key, a, 1);
		expect_rv("C_GetAttributeValue", "CKA_VALUE of a sensitive key", rv, CKR_ATTRIBUTE_SENSITIVE);
		h_check(a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
		        "sensitive CKA_VALUE: ulValueLen %lu, want CK_UNAVAILABLE_INFORMATION", a[0].ulValueLen);
		h_check(memcmp(buf, key, 4) != 0, "sensitive CKA_VALUE was written to the caller's buffer");
		a[0] = (CK_ATTRIBUTE){CKA_VALUE, NULL, 0};
		rv = CK(GetAttributeValue, rw, h_key, a, 1);
		expect_rv("C_GetAttributeValue", "CKA_VALUE length of a sensitive key", rv, CKR_ATTRIBUTE_SENSITIVE);
		h_check(a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
		        "sensitive CKA_VALUE length query: ulValueLen %lu", a[0].ulValueLen);
		a[0] = (CK_ATTRIBUTE){CKA_VALUE, buf, sizeof buf};
		a[1] = (CK_ATTRIBUTE){CKA_VALUE_LEN, &vlen, sizeof vlen};
		rv = CK(GetAttributeValue, rw, h_key, a, 2);
		expect_rv("C_GetAttributeValue", "CKA_VALUE + CKA_VALUE_LEN", rv, CKR_ATTRIBUTE_SENSITIVE);
		h_check(vlen == 32 && a[1].ulValueLen == sizeof vlen, "CKA_VALUE_LEN %lu, want 32", vlen);
		a[0] = (CK_ATTRIBUTE){CKA_SENSITIVE, &no, 1};
		expect_rv("C_SetAttributeValue", "CKA_SENSITIVE to false", CK(SetAttributeValue, rw, h_key, a, 1),
		          CKR_ATTRIBUTE_READ_ONLY);
		expect_rv("C_CopyObject", "CKA_SENSITIVE to false", CK(CopyObject, rw, h_key, a, 1, &h),
		          CKR_ATTRIBUTE_READ_ONLY);
		/* A search by the secret value finds nothing. */
		{
			CK_OBJECT_HANDLE hs[4];
			CK_ULONG n = 99;
			a[0] = (CK_ATTRIBUTE){CKA_VALUE, key, sizeof key};
			expect_rv("C_FindObjectsInit", "by secret value", CK(FindObjectsInit, rw, a, 1), CKR_OK);
			expect_rv("C_FindObjects", "by secret value", CK(FindObjects, rw, hs, 4, &n), CKR_OK);
			h_check(n == 0, "a search by a sensitive CKA_VALUE found %lu objects", n);
			expect_rv("C_FindObjectsFinal", "by secret value", CK(FindObjectsFinal, rw), CKR_OK);
		}
		expect_rv("C_DestroyObject", "key", CK(DestroyObject, rw, h_key), CKR_OK);
	}

	/* Private objects vanish at logout, come back at login. */
	expect_rv("C_Logout", "user", CK(Logout, rw), CKR_OK);
	a[0] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 0};
	expect_rv("C_GetAttributeValue", "private object, logged out", CK(GetAttributeValue, rw, h_priv, a, 1),
	          CKR_OBJECT_HANDLE_INVALID);
	h_check(find_label(ro, "abi-private", NULL) == 0, "private object found while logged out");
	expect_rv("C_Login", "user", CK(Login, rw, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 8), CKR_OK);
	expect_rv("C_GetAttributeValue", "private object, logged in", CK(GetAttributeValue, rw, h_priv, a, 1),
	          CKR_OK);
	expect_rv("C_DestroyObject", "private object", CK(DestroyObject, rw, h_priv), CKR_OK);

	/* Session objects die with their session. */
	{
		CK_SESSION_HANDLE tmp;
		expect_rv("C_OpenSession", "temporary", CK(OpenSession, 0, CKF_SERIAL_SESSION, NULL, NULL, &tmp),
		          CKR_OK);
		rv = new_data(tmp, "abi-ephemeral", CK_FALSE, CK_FALSE, &h);
		expect_rv("C_CreateObject", "in the temporary session", rv, CKR_OK);
		expect_rv("C_GetAttributeValue", "another session's object", CK(GetAttributeValue, rw, h, a, 1),
		          CKR_OK);
		expect_rv("C_CloseSession", "temporary", CK(CloseSession, tmp), CKR_OK);
		expect_rv("C_GetAttributeValue", "object of a closed session", CK(GetAttributeValue, rw, h, a, 1),
		          CKR_OBJECT_HANDLE_INVALID);
	}

	/* C_GenerateRandom, C_SeedRandom. */
	memset(buf, 0, sizeof buf);
	expect_rv("C_GenerateRandom", "32 bytes", CK(GenerateRandom, ro, buf, 32), CKR_OK);
	{
		static const unsigned char zero[32];
		h_check(memcmp(buf, zero, 32) != 0, "C_GenerateRandom left 32 zero bytes");
	}
	expect_rv("C_GenerateRandom", "0 bytes, NULL", CK(GenerateRandom, ro, NULL, 0), CKR_OK);
	expect_rv("C_GenerateRandom", "16 bytes, NULL", CK(GenerateRandom, ro, NULL, 16), CKR_ARGUMENTS_BAD);
	expect_any("C_SeedRandom", "8 bytes", CK(SeedRandom, ro, buf, 8), CKR_OK, CKR_RANDOM_SEED_NOT_SUPPORTED);

	/* Mechanisms the token does not list. */
	{
		CK_MECHANISM_INFO mi;
		expect_any("C_GetMechanismInfo", "vendor mechanism", CK(GetMechanismInfo, 0, 0x8badf00dUL, &mi),
		           CKR_MECHANISM_INVALID);
	}
	/* C_WaitForSlotEvent never blocks with CKF_DONT_BLOCK. */
	{
		CK_SLOT_ID sl;
		expect_any("C_WaitForSlotEvent", "CKF_DONT_BLOCK", CK(WaitForSlotEvent, CKF_DONT_BLOCK, &sl, NULL),
		           CKR_NO_EVENT, CKR_FUNCTION_NOT_SUPPORTED);
	}

	expect_rv("C_DestroyObject", "public object", CK(DestroyObject, ro, h_pub), CKR_OK);
}

/* ==== d. Still working, C_Finalize, C_Initialize again ====================== */

/* In-place and overlapping buffers: C_Encrypt and C_Decrypt read the
 * caller's input and write the caller's output in place, so pOut == pIn
 * (in-place encryption, common in C callers) and buffers that overlap at an
 * offset must give the same bytes as separate buffers. */
#define ABI_CKM_AES_KEY_GEN 0x1080UL
#define ABI_CKM_AES_CBC_PAD 0x1085UL
#define ABI_CKM_AES_CTR 0x1086UL
#define ABI_CKM_AES_GCM 0x1087UL
typedef struct {
	CK_BYTE_PTR pIv;
	CK_ULONG ulIvLen, ulIvBits;
	CK_BYTE_PTR pAAD;
	CK_ULONG ulAADLen, ulTagBits;
} ABI_GCM_PARAMS;
typedef struct {
	CK_ULONG ulCounterBits;
	CK_BYTE cb[16];
} ABI_CTR_PARAMS;

/* One single-part C_Encrypt or C_Decrypt (init and op) of src[0..n) with the
 * input copied to buf + 64 and the output at buf + 64 + shift: the same
 * buffer (shift 0) or overlapping it from either side. *out and *nout give
 * where the result went and its length. */
static CK_RV at_shift(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key, CK_C_EncryptInit init,
                      CK_C_Encrypt op, const CK_BYTE *src, CK_ULONG n, long shift, CK_BYTE *buf, size_t size,
                      CK_BYTE **out, CK_ULONG *nout)
{
	CK_BYTE *in = buf + 64;
	CK_RV rv;
	*out = in + shift;
	*nout = size - 64 - 8 - 64;
	memmove(in, src, n);
	h_calls++;
	rv = init(s, m, key);
	if (rv == CKR_OK) {
		h_calls++;
		rv = op(s, in, n, *out, nout);
	}
	return rv;
}

static void check_in_place(CK_SESSION_HANDLE s)
{
	CK_ULONG len32 = 32;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
	                    {CKA_VALUE_LEN, &len32, sizeof len32}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1}};
	CK_MECHANISM gen = {ABI_CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_HANDLE key;
	CK_BYTE iv[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, aad[] = "in-place";
	ABI_GCM_PARAMS gcm = {iv, 12, 96, aad, sizeof aad, 128};
	ABI_CTR_PARAMS ctr = {128, {0}};
	struct {
		const char *name;
		CK_MECHANISM m;
	} mechs[] = {
	    {"AES-GCM", {ABI_CKM_AES_GCM, &gcm, sizeof gcm}},
	    {"AES-CBC-PAD", {ABI_CKM_AES_CBC_PAD, iv, 16}},
	    {"AES-CTR", {ABI_CKM_AES_CTR, &ctr, sizeof ctr}},
	};
	static const CK_ULONG lens[] = {1, 64, 1000, 70000};
	static const long shifts[] = {0, 8, -8, 3, -3};
	static CK_BYTE msg[70000], ref[70100], buf[70200];

	memcpy(ctr.cb, iv, 16);
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (CK_BYTE)(i * 131 + 7);
	if (!expect_rv("C_GenerateKey", "AES-256 for the in-place checks", CK(GenerateKey, s, &gen, t, 5, &key), CKR_OK))
		return;
	for (size_t m = 0; m < sizeof mechs / sizeof mechs[0]; m++) {
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
			CK_ULONG n = lens[l], nref = sizeof ref;
			CK_RV rv = CK(EncryptInit, s, &mechs[m].m, key);
			if (rv == CKR_OK)
				rv = CK(Encrypt, s, msg, n, ref, &nref);
			if (!expect_rv("C_Encrypt", "separate buffers", rv, CKR_OK))
				continue;
			for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++) {
				CK_BYTE *out, *pt;
				CK_ULONG nout, npt;
				rv = at_shift(s, &mechs[m].m, key, F->C_EncryptInit, F->C_Encrypt, msg, n, shifts[k], buf,
				              sizeof buf, &out, &nout);
				h_check(rv == CKR_OK && nout == nref && memcmp(out, ref, nref) == 0,
				        "%s, %lu bytes, output at input%+ld: rv 0x%lx, %lu bytes, %s", mechs[m].name, n, shifts[k],
				        rv, nout, rv == CKR_OK && nout == nref && memcmp(out, ref, nref) == 0 ? "same" : "different");
				/* And back, the plaintext over the ciphertext at the same shift. */
				rv = at_shift(s, &mechs[m].m, key, F->C_DecryptInit, F->C_Decrypt, ref, nref, shifts[k], buf,
				              sizeof buf, &pt, &npt);
				h_check(rv == CKR_OK && npt == n && memcmp(pt, msg, n) == 0,
				        "%s decrypt, %lu bytes, output at input%+ld: rv 0x%lx, %lu bytes", mechs[m].name, n,
				        shifts[k], rv, npt);
			}
		}
	}
	expect_rv("C_DestroyObject", "the in-place key", CK(DestroyObject, s, key), CKR_OK);
}

static void check_finalize_cycle(void)
{
	CK_SESSION_HANDLE s, old;
	CK_OBJECT_HANDLE h_sess, h_tok, h;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO si;
	CK_INFO info;
	CK_ATTRIBUTE a[1] = {{CKA_LABEL, NULL, 0}};
	CK_RV rv;

	rv = CK(OpenSession, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	expect_rv("C_OpenSession", "after the sweeps", rv, CKR_OK);
	rv = CK(Login, s, CKU_USER, (CK_UTF8CHAR_PTR)H_USER_PIN, 8);
	expect_any("C_Login", "after the sweeps", rv, CKR_OK, CKR_USER_ALREADY_LOGGED_IN);
	rv = new_data(s, "abi-final-session", CK_FALSE, CK_TRUE, &h_sess);
	expect_rv("C_CreateObject", "after the sweeps", rv, CKR_OK);
	rv = new_data(s, "abi-final-token", CK_TRUE, CK_FALSE, &h_tok);
	expect_rv("C_CreateObject", "token object after the sweeps", rv, CKR_OK);
	h_check(find_label(s, "abi-final-session", &h) == 1 && h == h_sess, "object not found after the sweeps");
	h = h_sess;
	expect_rv("C_DestroyObject", "after the sweeps", CK(DestroyObject, s, h), CKR_OK);
	h_check(find_label(s, "abi-final-session", NULL) == 0, "destroyed object still found");
	/* One more session object: C_Finalize must take it away. */
	rv = new_data(s, "abi-final-session", CK_FALSE, CK_FALSE, &h_sess);
	expect_rv("C_CreateObject", "before C_Finalize", rv, CKR_OK);
	old = s;

	expect_rv("C_Finalize", "with a session open and logged in", CK(Finalize, NULL), CKR_OK);
	sweep_not_initialized("after C_Finalize");
	expect_rv("C_Finalize", "twice", CK(Finalize, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* A few quick cycles, then the clean state. */
	for (int i = 0; i < 3; i++) {
		expect_rv("C_Initialize", "cycle", CK(Initialize, NULL), CKR_OK);
		expect_rv("C_Finalize", "cycle", CK(Finalize, NULL), CKR_OK);
	}
	/* The library is never unloaded: a dlclose/dlopen keeps the tables. */
	{
		void *again;
		const char *so = getenv("CRATON_SO");
		CK_C_GetInterface gi;
		CK_INTERFACE *iface = NULL;

		dlclose(h_lib);
		again = dlopen(so != NULL && so[0] != '\0' ? so : "./libcraton.so", RTLD_NOW | RTLD_LOCAL);
		if (h_check(again != NULL, "dlopen after dlclose: %s", again == NULL ? dlerror() : "")) {
			h_lib = again;
			*(void **)&gi = dlsym(h_lib, "C_GetInterface");
			h_calls++;
			rv = gi != NULL ? gi(NULL, NULL, &iface, 0) : CKR_GENERAL_ERROR;
			h_check(rv == CKR_OK && iface != NULL && iface->pFunctionList == (void *)F,
			        "after dlclose/dlopen C_GetInterface gives another table");
		}
	}
	expect_rv("C_GetInfo", "before C_Initialize again", CK(GetInfo, &info), CKR_CRYPTOKI_NOT_INITIALIZED);
	expect_rv("C_Initialize", "after C_Finalize", CK(Initialize, NULL), CKR_OK);
	expect_rv("C_GetTokenInfo", "fresh", CK(GetTokenInfo, 0, &ti), CKR_OK);
	h_check(ti.ulSessionCount == 0 && ti.ulRwSessionCount == 0,
	        "after C_Initialize: %lu sessions (%lu RW), want none", ti.ulSessionCount, ti.ulRwSessionCount);
	expect_rv("C_GetSessionInfo", "session from before C_Finalize", CK(GetSessionInfo, old, &si),
	          CKR_SESSION_HANDLE_INVALID);
	expect_rv("C_CloseSession", "session from before C_Finalize", CK(CloseSession, old),
	          CKR_SESSION_HANDLE_INVALID);
	rv = CK(OpenSession, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	expect_rv("C_OpenSession", "fresh", rv, CKR_OK);
	expect_rv("C_GetSessionInfo", "fresh", CK(GetSessionInfo, s, &si), CKR_OK);
	h_check(si.state == CKS_RW_PUBLIC_SESSION, "fresh session state %lu: the login survived C_Finalize",
	        si.state);
	expect_rv("C_GetAttributeValue", "session object from before C_Finalize",
	          CK(GetAttributeValue, s, h_sess, a, 1), CKR_OBJECT_HANDLE_INVALID);
	h_check(find_label(s, "abi-final-session", NULL) == 0, "a session object survived C_Finalize");
	/* Token objects persist. */
	h_check(find_label(s, "abi-final-token", &h) == 1, "the token object did not survive C_Finalize");
	expect_rv("C_DestroyObject", "persisted token object", CK(DestroyObject, s, h), CKR_OK);
	expect_rv("C_CloseAllSessions", "slot 0", CK(CloseAllSessions, 0), CKR_OK);
	expect_rv("C_GetSessionInfo", "after C_CloseAllSessions", CK(GetSessionInfo, s, &si),
	          CKR_SESSION_HANDLE_INVALID);
	expect_rv("C_Finalize", "final", CK(Finalize, NULL), CKR_OK);
}

/* ==== main ==================================================================== */

static void on_alarm(int sig)
{
	static const char msg[] = "abi: TIMEOUT: no progress in 120 s: a call into libcraton.so hangs\n";
	ssize_t w;

	(void)sig;
	w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(3);
}

/* ==== CRATON_CONF set with setenv() before dlopen =============================
 *
 * A host that sets CRATON_CONF with setenv() (or Python's os.environ) and
 * then loads the library must get the store that file names. The probe is
 * this program again (posix_spawn, which the fork guard must not disturb),
 * started WITHOUT CRATON_CONF and with HOME and the XDG directories inside
 * the temp dir, so that a library that ignores the variable writes its
 * default store there, not in the real home.
 */

static int setenv_probe_main(void)
{
	const char *conf = getenv("CRATON_PROBE_CONF");
	CK_RV rv;

	h_name = "abi-probe";
	if (conf == NULL || getenv("CRATON_CONF") != NULL)
		return 2;
	if (setenv("CRATON_CONF", conf, 1) != 0)
		return 2;
	F = h_load();
	rv = F->C_Initialize(NULL);
	if (rv != CKR_OK) {
		fprintf(stderr, "abi-probe: C_Initialize: %s\n", rv_name(rv));
		return 1;
	}
	rv = F->C_Finalize(NULL);
	return rv == CKR_OK ? 0 : 1;
}

static void check_setenv_before_dlopen(char **argv)
{
	char dir[400], home[450], xdata[450], xconf[450], conf[450], store[450], def[500];
	char e_home[512], e_xdata[512], e_xconf[512], e_conf[512], e_so[1024], e_path[64];
	char *envp[8], *args[3];
	const char *so = getenv("CRATON_SO");
	struct stat sb;
	pid_t pid;
	int st, n = 0;

	snprintf(dir, sizeof dir, "%s/probe", h_tmpdir);
	snprintf(home, sizeof home, "%s/home", dir);
	snprintf(xdata, sizeof xdata, "%s/xdg-data", dir);
	snprintf(xconf, sizeof xconf, "%s/xdg-config", dir);
	snprintf(conf, sizeof conf, "%s/probe.toml", dir);
	snprintf(store, sizeof store, "%s/store", dir);
	if (mkdir(dir, 0700) != 0 || mkdir(home, 0700) != 0 || mkdir(xdata, 0700) != 0 ||
	    mkdir(xconf, 0700) != 0)
		h_fatal("mkdir %s: %s", dir, strerror(errno));
	h_write_config(conf, store);
	snprintf(e_home, sizeof e_home, "HOME=%s", home);
	snprintf(e_xdata, sizeof e_xdata, "XDG_DATA_HOME=%s", xdata);
	snprintf(e_xconf, sizeof e_xconf, "XDG_CONFIG_HOME=%s", xconf);
	snprintf(e_conf, sizeof e_conf, "CRATON_PROBE_CONF=%s", conf);
	snprintf(e_so, sizeof e_so, "CRATON_SO=%s", so != NULL ? so : "./libcraton.so");
	snprintf(e_path, sizeof e_path, "PATH=/usr/bin:/bin");
	envp[n++] = e_home;
	envp[n++] = e_xdata;
	envp[n++] = e_xconf;
	envp[n++] = e_conf;
	envp[n++] = e_so;
	envp[n++] = e_path;
	envp[n] = NULL;
	args[0] = argv[0];
	args[1] = "--setenv-probe";
	args[2] = NULL;
	fflush(NULL);
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, envp) != 0) {
		h_fail("posix_spawn of the setenv probe: %s", strerror(errno));
		return;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			h_fatal("waitpid: %s", strerror(errno));
	h_check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	        "setenv probe (posix_spawn, setenv CRATON_CONF, dlopen, C_Initialize) failed: status 0x%x", st);
	snprintf(def, sizeof def, "%s/craton", xdata);
	h_check(stat(store, &sb) == 0 && S_ISDIR(sb.st_mode),
	        "CRATON_CONF set with setenv() before dlopen is ignored: C_Initialize did not open the "
	        "store the file names (%s)%s",
	        store, stat(def, &sb) == 0 ? "; it opened the default store $XDG_DATA_HOME/craton instead" : "");
}

int main(int argc, char **argv)
{
	CK_SESSION_HANDLE rw, ro, stale;
	CK_OBJECT_HANDLE obj, dead_sess, dead_tok;
	struct sigaction sa;
	unsigned long before;

	if (argc > 1 && strcmp(argv[1], "--setenv-probe") == 0)
		return setenv_probe_main();
	h_name = "abi";
	setvbuf(stdout, NULL, _IOLBF, 0);
	verbose = getenv("ABI_VERBOSE") != NULL && getenv("ABI_VERBOSE")[0] == '1';
	for (int i = 0; i < NFNS; i++)
		parse_params(&fns[i]);
	h_check(NFNS == 92, "the header lists %d functions, want 92", NFNS);

	h_scratch_store(argv);
	F = h_load();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(120);

	/* The configuration a host names with setenv() before dlopen. */
	before = h_passed + h_failed;
	check_setenv_before_dlopen(argv);
	printf("abi: CRATON_CONF set before dlopen: %lu checks\n", h_passed + h_failed - before);

	/* Tables and loader entry points. */
	before = h_passed + h_failed;
	check_loader();
	printf("abi: loader and tables: %lu checks\n", h_passed + h_failed - before);

	/* a. Not initialised. */
	before = h_passed + h_failed;
	sweep_not_initialized("before C_Initialize");
	printf("abi: a. before C_Initialize: %lu checks\n", h_passed + h_failed - before);

	/* b. C_Initialize arguments. */
	before = h_passed + h_failed;
	check_initialize();
	printf("abi: b. C_Initialize arguments: %lu checks\n", h_passed + h_failed - before);

	/* c. Initialised. */
	h_prepare_token(F, "craton abi");
	before = h_passed + h_failed;
	check_info();
	check_sessions_and_login();
	if (CK(OpenSession, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw) != CKR_OK ||
	    CK(OpenSession, 0, CKF_SERIAL_SESSION, NULL, NULL, &ro) != CKR_OK)
		h_fatal("cannot open the sessions for the object checks");
	check_objects(rw, ro);
	check_in_place(rw);
	printf("abi: c. targeted checks: %lu checks\n", h_passed + h_failed - before);

	/* The handles for the sweeps: logged in as user (check_objects left
	 * it so), a live object, a closed session, destroyed objects. */
	before = h_passed + h_failed;
	if (new_data(rw, "abi-sweep", CK_FALSE, CK_FALSE, &obj) != CKR_OK)
		h_fatal("cannot create the sweep object");
	if (new_data(rw, "abi-dead", CK_FALSE, CK_FALSE, &dead_sess) != CKR_OK ||
	    CK(DestroyObject, rw, dead_sess) != CKR_OK)
		h_fatal("cannot make a destroyed session object");
	if (new_data(rw, "abi-dead", CK_TRUE, CK_FALSE, &dead_tok) != CKR_OK ||
	    CK(DestroyObject, rw, dead_tok) != CKR_OK)
		h_fatal("cannot make a destroyed token object");
	if (CK(OpenSession, 0, CKF_SERIAL_SESSION, NULL, NULL, &stale) != CKR_OK ||
	    CK(CloseSession, stale) != CKR_OK)
		h_fatal("cannot make a closed session");

	sweep_nulls(rw, obj, 16);
	sweep_nulls(rw, obj, 0);
	sweep_sessions(0, "0", obj);
	sweep_sessions(0xdeadbeefUL, "0xdeadbeef", obj);
	sweep_sessions(stale, "closed", obj);
	sweep_objects(rw, 0, "0");
	sweep_objects(rw, 0xdeadbeefUL, "0xdeadbeef");
	sweep_objects(rw, dead_sess, "destroyed session object");
	sweep_objects(rw, dead_tok, "destroyed token object");
	sweep_slots(0xdeadUL);
	printf("abi: c. sweeps over the 92 functions: %lu checks\n", h_passed + h_failed - before);

	/* The sweep object is intact and the sessions still work. */
	{
		CK_ATTRIBUTE a[1] = {{CKA_LABEL, NULL, 0}};
		expect_rv("C_GetAttributeValue", "sweep object after the sweeps", CK(GetAttributeValue, rw, obj, a, 1),
		          CKR_OK);
		h_check(a[0].ulValueLen == 9, "sweep object label length %lu after the sweeps", a[0].ulValueLen);
	}
	expect_rv("C_CloseSession", "RW", CK(CloseSession, rw), CKR_OK);
	expect_rv("C_CloseSession", "RO", CK(CloseSession, ro), CKR_OK);

	/* d. */
	before = h_passed + h_failed;
	check_finalize_cycle();
	printf("abi: d. finalize and restart: %lu checks\n", h_passed + h_failed - before);

	alarm(0);
	h_remove_store();
	printf("abi: %lu calls into libcraton.so\n", h_calls);
	return h_summary();
}
