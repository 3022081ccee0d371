// The session extension (Debian's libsqlite3 is built with it); the benchmark's baseline
// applies changesets with it. The defines only make its declarations visible.
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

// Swift cannot call C variadic functions; these wrap the few we need.

/// Turns triggers on or off for this connection only (SQLITE_DBCONFIG_ENABLE_TRIGGER).
/// kmk-sync turns them off while it applies remote changes, so that applied changes are not captured again.
static inline int kmk_sqlite_enable_triggers(sqlite3 *db, int on) {
    int result = 0;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, on, &result);
}

/// SQLITE_TRANSIENT as a function: the macro's cast does not import into Swift.
static inline sqlite3_destructor_type kmk_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

/// Conflict handler for the benchmark's changeset baseline: a row that differs or already
/// exists is replaced by the changeset's version (the incoming write wins, as in a merge).
static int kmk_changeset_replace_conflicts(void *context, int conflict, sqlite3_changeset_iter *iter) {
    (void)context;
    (void)iter;
    return (conflict == SQLITE_CHANGESET_DATA || conflict == SQLITE_CHANGESET_CONFLICT)
        ? SQLITE_CHANGESET_REPLACE : SQLITE_CHANGESET_OMIT;
}

/// `sqlite3changeset_apply` with ``kmk_changeset_replace_conflicts``.
static inline int kmk_changeset_apply_replace(sqlite3 *db, int size, void *changeset) {
    return sqlite3changeset_apply(db, size, changeset, 0, kmk_changeset_replace_conflicts, 0);
}
