// Package slots owns the tokens: for each slot, its store on disk and what
// this process knows of it. That covers the PINs and the token key they
// wrap, the login state shared by the process's sessions, the token
// objects (decoded and cached) and the session objects, and the object
// model (attributes, templates, the rules for changing them). It knows
// nothing of the C ABI or of sessions' operations (pkcs11/ and session/
// own those), and reaches cryptography only through backend/.
//
// # Store
//
// A Store is one SQLite database in WAL mode. Every write is one
// transaction; readers never block writers. A store keeps two SQLite
// connections for its life. Beside the database, a change counter that
// every process maps and every write moves (see changeCounter) lets a
// process trust what it read while the counter reads the same. Three
// things rest on that rule:
//   - the cached token objects (Token.cache, stamped per object);
//   - the token generation check (Token.genChecked);
//   - the remembered search results (Store.found).
//
// # Locks, in the order they are taken
//
//  1. A session's lock (session/), held by callers.
//  2. Token.mu (an RWMutex). See Token for what it guards and which paths
//     take no lock at all.
//  3. Token.sessMu (a Mutex): the session objects. Taken alone, or after
//     Token.mu; never while taking another.
//  4. The Store's own locks: refsMu (preparing search statements),
//     found.mu (the search memory), changes.mu (mapping the change file).
//     Each is held for a few instructions and never while taking another.
//  5. SQLite's locks, inside database/sql: the write lock (BEGIN
//     IMMEDIATE) and the WAL index. No code holds one connection while it
//     asks for another.
//
// Objects are immutable once published. A reference (Object.acquire,
// tryAcquire, Release) keeps a retired object's key material from being
// wiped while it is in use.
package slots
