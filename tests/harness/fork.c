/*
 * fork.c: the fork guard of libcraton.so.
 *
 * A Go runtime does not survive fork() in a multi-threaded parent: a child
 * that enters Go can wait forever for a scheduler slot owned by a thread
 * that does not exist in the child. libcraton.so marks a forked child
 * (pthread_atfork) and then answers every C_* call at once, without
 * entering Go, with an error.
 *
 * The test: two threads call into the library without pause
 * (C_GenerateRandom, C_GetTokenInfo, C_FindObjectsInit/FindObjects/Final)
 * while the main thread forks 100 times. Each child, under alarm(5), calls
 * C_GetInfo, C_Initialize(NULL), C_OpenSession, C_GetSlotList and a few
 * calls on the parent's live session: each must return an error (not
 * CKR_OK), and the child must be done within 2 s; the loader entry points
 * (pure C) must still answer CKR_OK. The parent reaps each child within
 * 10 s or kills it and counts a hang. Then fork+exec (of /bin/true and of
 * this program, which uses the library afresh) and posix_spawn must work,
 * and the parent's library must still work.
 *
 * Run: CRATON_SO=/abs/libcraton.so build/fork. Exit 0 when every check
 * passes. FORK_COUNT=n changes the number of forks (default 100).
 */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static CK_FUNCTION_LIST_3_0 *F;

#define NTHREADS 2
#define CHILD_ALARM_S 5   /* a child's own deadline */
#define CHILD_BUDGET_NS 2000000000L /* a child must be done within 2 s */
#define REAP_LIMIT_S 10   /* the parent's limit per child */

/* ---- The busy threads ------------------------------------------------------ */

static int stop_threads;
static unsigned long thread_iters[NTHREADS];
static unsigned long thread_errors;
static char thread_error_msg[256];

struct busy_arg {
	int id;
	CK_SESSION_HANDLE s;
};

static void thread_error(const char *fn, CK_RV rv)
{
	if (__atomic_fetch_add(&thread_errors, 1, __ATOMIC_SEQ_CST) == 0)
		snprintf(thread_error_msg, sizeof thread_error_msg, "%s: %s", fn, rv_name(rv));
}

static void *busy(void *p)
{
	struct busy_arg *a = p;
	CK_BYTE buf[32];
	CK_TOKEN_INFO ti;
	CK_OBJECT_HANDLE hs[16];
	CK_ULONG n;
	CK_RV rv;

	while (!__atomic_load_n(&stop_threads, __ATOMIC_ACQUIRE)) {
		if ((rv = F->C_GenerateRandom(a->s, buf, sizeof buf)) != CKR_OK)
			thread_error("C_GenerateRandom", rv);
		if ((rv = F->C_GetTokenInfo(0, &ti)) != CKR_OK)
			thread_error("C_GetTokenInfo", rv);
		if ((rv = F->C_FindObjectsInit(a->s, NULL, 0)) != CKR_OK)
			thread_error("C_FindObjectsInit", rv);
		if ((rv = F->C_FindObjects(a->s, hs, 16, &n)) != CKR_OK)
			thread_error("C_FindObjects", rv);
		if ((rv = F->C_FindObjectsFinal(a->s)) != CKR_OK)
			thread_error("C_FindObjectsFinal", rv);
		__atomic_add_fetch(&thread_iters[a->id], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static unsigned long total_iters(void)
{
	unsigned long t = 0;

	for (int i = 0; i < NTHREADS; i++)
		t += __atomic_load_n(&thread_iters[i], __ATOMIC_RELAXED);
	return t;
}

/* ---- Time -------------------------------------------------------------------- */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long ns)
{
	struct timespec ts = {ns / 1000000000L, ns % 1000000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- The forked child -------------------------------------------------------
 *
 * Only async-signal-safe calls here (and the library's shims, which must
 * be): the parent's other threads may have held any lock at fork time.
 */

static void put(const char *s)
{
	ssize_t w = write(STDERR_FILENO, s, strlen(s));
	(void)w;
}

static void put_hex(unsigned long v)
{
	char b[19];
	int i = 18;

	b[i] = '\0';
	do {
		b[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0 && i > 2);
	b[--i] = 'x';
	b[--i] = '0';
	put(&b[i]);
}

static int child_bad;

/* The exported loader entry points, looked up before any fork (dlsym is
 * not async-signal-safe). */
static CK_C_GetFunctionList gfl;
static CK_C_GetInterface gi;

/* child_expect_error: a guarded call must not succeed. */
static void child_expect_error(const char *fn, CK_RV rv)
{
	if (rv == CKR_OK) {
		put("fork child: ");
		put(fn);
		put(" returned CKR_OK in a forked child\n");
		child_bad = 1;
	} else if (rv != CKR_GENERAL_ERROR) {
		/* Not a failure by itself (any error is safe), but the guard is
		 * documented to answer CKR_GENERAL_ERROR: say so. */
		put("fork child: note: ");
		put(fn);
		put(" returned ");
		put_hex(rv);
		put("\n");
	}
}

static void child_expect_ok(const char *fn, CK_RV rv)
{
	if (rv != CKR_OK) {
		put("fork child: ");
		put(fn);
		put(" (pure C) returned ");
		put_hex(rv);
		put(", want CKR_OK\n");
		child_bad = 1;
	}
}

static void child_main(int errfd, CK_SESSION_HANDLE parent_session)
{
	struct sigaction sa;
	CK_INFO info;
	CK_SESSION_HANDLE s = 0;
	CK_ULONG n = 0;
	CK_BYTE buf[16];
	CK_FUNCTION_LIST *l240 = NULL;
	CK_INTERFACE *iface = NULL;
	long long t0, t1;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	if (dup2(errfd, STDERR_FILENO) < 0)
		_exit(4);
	alarm(CHILD_ALARM_S);
	t0 = now_ns();

	child_expect_error("C_GetInfo", F->C_GetInfo(&info));
	child_expect_error("C_Initialize(NULL)", F->C_Initialize(NULL));
	child_expect_error("C_OpenSession", F->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	child_expect_error("C_GetSlotList", F->C_GetSlotList(CK_FALSE, NULL, &n));
	/* The parent's session is valid in the parent's state, not here. */
	child_expect_error("C_GenerateRandom(parent's session)",
	                   F->C_GenerateRandom(parent_session, buf, sizeof buf));
	child_expect_error("C_FindObjectsInit(parent's session)",
	                   F->C_FindObjectsInit(parent_session, NULL, 0));
	child_expect_error("C_CloseSession(parent's session)", F->C_CloseSession(parent_session));
	child_expect_error("C_Finalize(NULL)", F->C_Finalize(NULL));
	child_expect_error("C_GetInfo, again", F->C_GetInfo(&info));

	/* The loader entry points are pure C: they still work. */
	child_expect_ok("C_GetFunctionList", gfl != NULL ? gfl(&l240) : CKR_GENERAL_ERROR);
	if (l240 == NULL || l240->version.major != 2 || l240->version.minor != 40) {
		put("fork child: C_GetFunctionList gave no 2.40 list\n");
		child_bad = 1;
	}
	child_expect_ok("C_GetInterface", gi != NULL ? gi(NULL, NULL, &iface, 0) : CKR_GENERAL_ERROR);
	if (iface == NULL || iface->pFunctionList != (void *)F) {
		put("fork child: C_GetInterface gave another table\n");
		child_bad = 1;
	}
	n = 0;
	child_expect_ok("C_GetInterfaceList", F->C_GetInterfaceList(NULL, &n));

	t1 = now_ns();
	if (t1 - t0 > CHILD_BUDGET_NS) {
		put("fork child: took more than 2 s\n");
		_exit(2);
	}
	_exit(child_bad ? 1 : 0);
}

/* ---- Reaping ----------------------------------------------------------------- */

enum reaped { REAPED_OK, REAPED_WRONG, REAPED_SLOW, REAPED_HANG, REAPED_OTHER };

/* reap waits up to REAP_LIMIT_S for pid; on timeout it kills it. */
static enum reaped reap(pid_t pid, int *status, long long *elapsed_ns)
{
	long long t0 = now_ns();

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			h_fatal("waitpid: %s", strerror(errno));
		if (now_ns() - t0 > (long long)REAP_LIMIT_S * 1000000000LL) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			*elapsed_ns = now_ns() - t0;
			return REAPED_HANG;
		}
		sleep_ns(1000000); /* 1 ms */
	}
	*elapsed_ns = now_ns() - t0;
	if (WIFSIGNALED(*status))
		return WTERMSIG(*status) == SIGALRM ? REAPED_HANG : REAPED_OTHER;
	if (!WIFEXITED(*status))
		return REAPED_OTHER;
	switch (WEXITSTATUS(*status)) {
	case 0:
		return REAPED_OK;
	case 1:
		return REAPED_WRONG;
	case 2:
		return REAPED_SLOW;
	}
	return REAPED_OTHER;
}

/* read_all drains fd (the child is gone, so this ends). */
static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t used = 0;

	while (used + 1 < cap) {
		ssize_t r = read(fd, buf + used, cap - 1 - used);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		used += (size_t)r;
	}
	buf[used] = '\0';
	return used;
}

/* ---- The exec'd child: a fresh process using the library normally ----------- */

static int exec_child_main(void)
{
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;
	CK_UTF8CHAR want[32];
	CK_BYTE buf[16];
	CK_RV rv;

	h_name = "fork-exec-child";
	F = h_load();
	if ((rv = F->C_Initialize(NULL)) != CKR_OK) {
		fprintf(stderr, "fork-exec-child: C_Initialize: %s\n", rv_name(rv));
		return 1;
	}
	if ((rv = F->C_GetTokenInfo(0, &ti)) != CKR_OK) {
		fprintf(stderr, "fork-exec-child: C_GetTokenInfo: %s\n", rv_name(rv));
		return 1;
	}
	h_pad(want, sizeof want, "craton fork");
	if (memcmp(ti.label, want, sizeof want) != 0) {
		fprintf(stderr, "fork-exec-child: the token is not the parent's (label differs)\n");
		return 1;
	}
	if ((rv = F->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK ||
	    (rv = F->C_GenerateRandom(s, buf, sizeof buf)) != CKR_OK ||
	    (rv = F->C_CloseSession(s)) != CKR_OK || (rv = F->C_Finalize(NULL)) != CKR_OK) {
		fprintf(stderr, "fork-exec-child: session: %s\n", rv_name(rv));
		return 1;
	}
	return 0;
}

/* ---- main --------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	static const char msg[] = "fork: TIMEOUT: no progress in 120 s: the parent hangs\n";
	ssize_t w;

	(void)sig;
	w = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)w;
	_exit(3);
}

int main(int argc, char **argv)
{
	struct busy_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	CK_SESSION_HANDLE s_main;
	struct sigaction sa;
	int forks = 100, ok = 0, wrong = 0, slow = 0, hangs = 0, other = 0, no_hint = 0, not_general = 0;
	long long max_ns = 0, t0;
	unsigned long iters_before, iters_during;
	CK_RV rv;

	if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child_main();
	h_name = "fork";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("FORK_COUNT") != NULL && atoi(getenv("FORK_COUNT")) > 0)
		forks = atoi(getenv("FORK_COUNT"));
	h_scratch_store(argv);

	F = h_load();
	*(void **)&gfl = dlsym(h_lib, "C_GetFunctionList");
	*(void **)&gi = dlsym(h_lib, "C_GetInterface");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm(120);

	h_calls++;
	rv = F->C_Initialize(NULL);
	if (!h_expect("C_Initialize", rv, CKR_OK))
		return h_summary();
	h_prepare_token(F, "craton fork");

	/* Sessions: one per busy thread, one for the main thread; a few
	 * objects so that the searches find something. */
	h_calls++;
	rv = F->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s_main);
	if (!h_expect("C_OpenSession", rv, CKR_OK))
		return h_summary();
	for (int i = 0; i < 3; i++) {
		CK_OBJECT_CLASS cls = CKO_DATA;
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, "fork", 4}};
		CK_OBJECT_HANDLE h;

		h_calls++;
		h_expect("C_CreateObject", F->C_CreateObject(s_main, t, 2, &h), CKR_OK);
	}
	for (int i = 0; i < NTHREADS; i++) {
		args[i].id = i;
		h_calls++;
		rv = F->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &args[i].s);
		if (!h_expect("C_OpenSession", rv, CKR_OK))
			return h_summary();
	}
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, busy, &args[i]) != 0)
			h_fatal("pthread_create: %s", strerror(errno));
	/* Wait until the threads are really calling in. */
	t0 = now_ns();
	while (total_iters() < 100 && now_ns() - t0 < 5000000000LL)
		sleep_ns(1000000);
	h_check(total_iters() >= 100, "the busy threads made only %lu iterations in 5 s", total_iters());
	iters_before = total_iters();

	/* The forks. */
	for (int i = 0; i < forks; i++) {
		char out[4096];
		int fds[2], status = 0;
		long long el;
		enum reaped r;
		pid_t pid;

		if (pipe2(fds, O_CLOEXEC) != 0)
			h_fatal("pipe2: %s", strerror(errno));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			h_fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			child_main(fds[1], args[0].s);
		}
		close(fds[1]);
		r = reap(pid, &status, &el);
		read_all(fds[0], out, sizeof out);
		close(fds[0]);
		if (el > max_ns)
			max_ns = el;
		switch (r) {
		case REAPED_OK:
			ok++;
			h_pass();
			break;
		case REAPED_WRONG:
			wrong++;
			h_fail("fork %d: a call in the child gave a wrong answer:\n%s", i, out);
			break;
		case REAPED_SLOW:
			slow++;
			h_fail("fork %d: the child took more than 2 s:\n%s", i, out);
			break;
		case REAPED_HANG:
			hangs++;
			h_fail("fork %d: the child HUNG (%s after %.1f s):\n%s", i,
			       WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "its alarm(5) fired"
			                                                           : "killed by the parent",
			       (double)el / 1e9, out);
			break;
		case REAPED_OTHER:
			other++;
			if (WIFSIGNALED(status))
				h_fail("fork %d: the child died of signal %d (%s):\n%s", i, WTERMSIG(status),
				       strsignal(WTERMSIG(status)), out);
			else
				h_fail("fork %d: the child exited %d:\n%s", i, WEXITSTATUS(status), out);
			break;
		}
		/* The guard points forking hosts to p11-kit remoting. */
		if (strstr(out, "p11-kit remote") == NULL)
			no_hint++;
		if (strstr(out, "fork child: note:") != NULL)
			not_general++;
	}
	iters_during = total_iters() - iters_before;
	h_check(no_hint == 0, "%d of %d children did not log the p11-kit remoting hint", no_hint, forks);
	h_check(iters_during > 0, "the busy threads made no progress while the parent forked");

	/* fork + exec of /bin/true, with the threads still busy. */
	{
		int status = 0;
		long long el;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid < 0)
			h_fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		h_check(reap(pid, &status, &el) == REAPED_OK, "fork + exec of /bin/true: status 0x%x", status);
	}
	/* fork + exec of this program, which loads and uses the library afresh. */
	{
		char *cargv[] = {argv[0], "--exec-child", NULL};
		int status = 0;
		long long el;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid < 0)
			h_fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			execv("/proc/self/exe", cargv);
			_exit(127);
		}
		h_check(reap(pid, &status, &el) == REAPED_OK,
		        "fork + exec of a program that uses the library: status 0x%x", status);
	}
	/* posix_spawn. */
	{
		char *cargv[] = {"true", NULL};
		int status = 0;
		long long el;
		pid_t pid;

		fflush(NULL);
		if (h_check(posix_spawn(&pid, "/bin/true", NULL, NULL, cargv, environ) == 0,
		            "posix_spawn of /bin/true failed"))
			h_check(reap(pid, &status, &el) == REAPED_OK, "posix_spawn of /bin/true: status 0x%x",
			        status);
	}

	/* Stop the threads; the parent's library still works. */
	__atomic_store_n(&stop_threads, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	h_calls += total_iters() * 5;
	h_check(thread_errors == 0, "the busy threads saw %lu errors; first: %s", thread_errors,
	        thread_error_msg);
	{
		CK_INFO info;
		CK_BYTE buf[16];

		h_calls += 4;
		h_expect("C_GetInfo (parent, after the forks)", F->C_GetInfo(&info), CKR_OK);
		h_expect("C_GenerateRandom (parent, after the forks)", F->C_GenerateRandom(s_main, buf, sizeof buf),
		         CKR_OK);
		h_expect("C_CloseAllSessions (parent)", F->C_CloseAllSessions(0), CKR_OK);
		h_expect("C_Finalize (parent)", F->C_Finalize(NULL), CKR_OK);
	}
	alarm(0);

	printf("fork: %d forks with %d threads busy in the library: %d ok, %d wrong answer, %d slow, "
	       "%d hung, %d other; slowest child %.1f ms\n",
	       forks, NTHREADS, ok, wrong, slow, hangs, other, (double)max_ns / 1e6);
	printf("fork: children whose refusals were not all CKR_GENERAL_ERROR: %d\n", not_general);
	printf("fork: busy threads: %lu iterations (%lu during the forks), %lu errors\n", total_iters(),
	       iters_during, thread_errors);
	printf("fork: %lu calls into libcraton.so in the parent\n", h_calls);
	h_remove_store();
	return h_summary();
}
