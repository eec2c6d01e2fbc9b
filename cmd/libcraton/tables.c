/*
 * tables.c: the static function tables, the three loader entry points
 * (C_GetFunctionList, C_GetInterfaceList, C_GetInterface, pure C: they never
 * enter Go) and the fork guard.
 *
 * The tables are static data in this file, not in a cgo preamble: a
 * definition in the preamble of a Go file that has //export is compiled twice
 * and fails to link ("multiple definition").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11.h"
#include "shim.h"

/* ---- Function tables ---------------------------------------------------- */

#define CRATON_ENTRY(name, params, args) C_##name,

static CK_FUNCTION_LIST craton_list_2_40 = {
	{2, 40},
	CK_FUNCTIONS_2_40(CRATON_ENTRY, CRATON_ENTRY)
};

static CK_FUNCTION_LIST_3_0 craton_list_3_0 = {
	{3, 0},
	CK_FUNCTIONS_2_40(CRATON_ENTRY, CRATON_ENTRY)
	CK_FUNCTIONS_3_0(CRATON_ENTRY, CRATON_ENTRY)
};

#undef CRATON_ENTRY

#define CRATON_INTERFACE_NAME "PKCS 11"

/*
 * The interfaces, default (3.0) first. Flags stay 0: the module is not
 * fork-safe (see the fork guard below), so CKF_INTERFACE_FORK_SAFE is never
 * advertised.
 */
static CK_INTERFACE craton_interfaces[] = {
	{(CK_CHAR *)CRATON_INTERFACE_NAME, &craton_list_3_0, 0},
	{(CK_CHAR *)CRATON_INTERFACE_NAME, &craton_list_2_40, 0},
};

#define CRATON_NUM_INTERFACES (sizeof craton_interfaces / sizeof craton_interfaces[0])

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &craton_list_2_40;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	if (pulCount == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	if (pInterfacesList == NULL_PTR) {
		*pulCount = CRATON_NUM_INTERFACES;
		return CKR_OK;
	}
	if (*pulCount < CRATON_NUM_INTERFACES) {
		*pulCount = CRATON_NUM_INTERFACES;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(pInterfacesList, craton_interfaces, sizeof craton_interfaces);
	*pulCount = CRATON_NUM_INTERFACES;
	return CKR_OK;
}

/* version_matches: major 3 minor 0 names the 3.0 table; any 2.x the 2.40 one. */
static int version_matches(const CK_VERSION *want, const CK_VERSION *have)
{
	if (want->major != have->major)
		return 0;
	return want->major == 2 || want->minor == have->minor;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	size_t i;

	if (ppInterface == NULL_PTR)
		return CKR_ARGUMENTS_BAD;
	if (pInterfaceName != NULL_PTR &&
	    strcmp((const char *)pInterfaceName, CRATON_INTERFACE_NAME) != 0)
		return CKR_ARGUMENTS_BAD;
	for (i = 0; i < CRATON_NUM_INTERFACES; i++) {
		CK_INTERFACE *iface = &craton_interfaces[i];
		/* Both tables begin with their CK_VERSION. */
		const CK_VERSION *have = (const CK_VERSION *)iface->pFunctionList;

		if (pVersion != NULL_PTR && !version_matches(pVersion, have))
			continue;
		/* Every flag asked for must be one the interface has. */
		if ((flags & ~iface->flags) != 0)
			continue;
		*ppInterface = iface;
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}

/* ---- Fork guard -----------------------------------------------------------
 *
 * A Go runtime does not survive fork() in a multi-threaded parent: the child
 * has one thread, and the first call into Go can wait forever for a scheduler
 * slot owned by a thread that no longer exists. A pthread_atfork child
 * handler marks the child, and every shim then returns CKR_GENERAL_ERROR at
 * once without entering Go. fork+exec and posix_spawn never call Go in the
 * child, so they are unaffected.
 */

static volatile int craton_forked;
static int craton_fork_warned;

/* Built at load time: the child must not call snprintf or dladdr. */
static char craton_fork_msg[768];
static size_t craton_fork_msg_len;

static void craton_atfork_child(void)
{
	craton_forked = 1;
}

__attribute__((constructor)) static void craton_fork_guard_init(void)
{
	const char *path = "/path/to/libcraton.so";
	Dl_info info;
	int n;

	if (dladdr((void *)&craton_fork_guard_init, &info) != 0 && info.dli_fname != NULL &&
	    info.dli_fname[0] == '/')
		path = info.dli_fname;
	n = snprintf(craton_fork_msg, sizeof craton_fork_msg,
	             "craton: libcraton.so was inherited across fork(); the Go runtime "
	             "cannot run in a forked child. For forking hosts use p11-kit "
	             "remoting: put \"remote: |p11-kit remote %s\" in a p11-kit module "
	             "file.\n",
	             path);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof craton_fork_msg)
		n = sizeof craton_fork_msg - 1;
	craton_fork_msg_len = (size_t)n;
	pthread_atfork(NULL, NULL, craton_atfork_child);
}

int craton_in_forked_child(void)
{
	if (!craton_forked)
		return 0;
	/* Only async-signal-safe calls here: stdio locks may be held by
	 * threads that did not survive the fork. */
	if (!__atomic_exchange_n(&craton_fork_warned, 1, __ATOMIC_SEQ_CST)) {
		ssize_t w = write(STDERR_FILENO, craton_fork_msg, craton_fork_msg_len);
		(void)w;
	}
	return 1;
}
