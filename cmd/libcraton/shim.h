/*
 * shim.h: what the C files of cmd/libcraton share. Not part of the ABI.
 */
#ifndef CRATON_SHIM_H
#define CRATON_SHIM_H

/*
 * craton_in_forked_child reports whether this process is a fork() child of
 * the process that loaded the library; the first time it says yes it writes
 * one line to stderr pointing to p11-kit remoting. Async-signal-safe.
 */
__attribute__((visibility("hidden"))) int craton_in_forked_child(void);

#endif /* CRATON_SHIM_H */
