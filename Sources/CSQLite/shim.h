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
