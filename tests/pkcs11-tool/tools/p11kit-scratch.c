/*
 * p11kit-scratch.so: an LD_PRELOAD shim that points p11-kit at a scratch
 * configuration directory, so that 71-p11kit.sh and 72-gnutls.sh register
 * Craton with p11-kit without touching /etc/pkcs11 or ~/.config/pkcs11.
 *
 * p11-kit (0.24 here) has no environment variable for its configuration
 * paths; its module directories are compiled in, and ~/.config/pkcs11 is
 * ignored when running as root. It does export p11_kit_override_system_files
 * (LIBP11_KIT_1.0; declared under P11_KIT_FUTURE_UNSTABLE_API), which its own
 * and GnuTLS's test suites call for the same purpose. This constructor calls
 * it before the host program loads any module, when CRATON_P11KIT_DIR is set:
 *
 *   $CRATON_P11KIT_DIR/pkcs11.conf        system pkcs11.conf (may be absent)
 *   $CRATON_P11KIT_DIR/modules/           system module files (*.module)
 *   $CRATON_P11KIT_DIR/package-modules/   package module files (keep empty)
 *   $CRATON_P11KIT_DIR/user/...           user config and modules (absent)
 *
 * p11-kit-proxy.so is the same file as libp11-kit.so.0 (a symlink), so the
 * dynamic loader hands a proxy-loading program (pkcs11-tool --module
 * .../p11-kit-proxy.so) the instance configured here.
 *
 * Built by the tests with: cc -shared -fPIC -o p11kit-scratch.so p11kit-scratch.c -ldl
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*override_fn)(const char *system_conf, const char *user_conf, const char *package_modules,
			    const char *system_modules, const char *user_modules);

static char system_conf[4096], user_conf[4096], package_modules[4096], system_modules[4096],
	user_modules[4096];

__attribute__((constructor)) static void craton_p11kit_scratch(void)
{
	const char *dir = getenv("CRATON_P11KIT_DIR");
	if (dir == NULL || dir[0] == '\0')
		return;
	void *h = dlopen("libp11-kit.so.0", RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		fprintf(stderr, "p11kit-scratch: %s\n", dlerror());
		abort();
	}
	override_fn override = (override_fn)dlsym(h, "p11_kit_override_system_files");
	if (override == NULL) {
		fprintf(stderr, "p11kit-scratch: %s\n", dlerror());
		abort();
	}
	snprintf(system_conf, sizeof system_conf, "%s/pkcs11.conf", dir);
	snprintf(user_conf, sizeof user_conf, "%s/user/pkcs11.conf", dir);
	snprintf(package_modules, sizeof package_modules, "%s/package-modules", dir);
	snprintf(system_modules, sizeof system_modules, "%s/modules", dir);
	snprintf(user_modules, sizeof user_modules, "%s/user/modules", dir);
	override(system_conf, user_conf, package_modules, system_modules, user_modules);
}
