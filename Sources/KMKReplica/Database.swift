import CSQLite
import KMKModel

/// One SQLite connection. Not shared across threads: its owner (a ``Replica`` or a hub store)
/// uses it from one place at a time, the way GRDB's SerializedDatabase does.
final class Database {
    let path: String
    private(set) var handle: OpaquePointer?
    private var cache: [String: Statement] = [:]
    /// Runs first inside every ``transaction(_:)``, once the write lock is held: the owner re-reads
    /// what it keeps in memory of the file (counters, clocks), since another connection, in this
    /// process or another, may have written since its last transaction.
    var didBegin: (() throws -> Void)?

    /// Opens an existing file read-write, or creates it when `create` is true.
    init(path: String, create: Bool, busyTimeoutMillis: Int32 = 5_000) throws {
        self.path = path
        var h: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &h, flags, nil)
        handle = h
        guard rc == SQLITE_OK else {
            let message = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(h)
            handle = nil
            throw Database.error(rc, message, path: path, sql: nil)
        }
        sqlite3_busy_timeout(h, busyTimeoutMillis)
        sqlite3_extended_result_codes(h, 1)
        // A page cache of up to 64 MiB (SQLite's default is 2 MiB): a big write transaction
        // touches the change log and its index at random places, and with the small cache it
        // spills pages to the WAL and reads them back many times. Sorts stay in memory.
        // Per connection, nothing in the file changes.
        sqlite3_exec(h, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY", nil, nil, nil)
        defineRegisterFunctions()
    }

    deinit { close() }

    /// Copies the WAL into the database file, finalizes cached statements and closes the
    /// connection: once a kmk-sync command has closed its file, the file alone holds every
    /// committed change (SPEC.md §2), even while another program keeps it open. The copy is
    /// passive: it never waits for, nor holds up, other connections (a blocking checkpoint at
    /// every close made concurrent commands time out); frames a reader still needs are copied by
    /// a later close, and the last connection's close copies all and removes the WAL.
    func close() {
        guard let handle else { return }
        if sqlite3_get_autocommit(handle) != 0 { checkpoint() }
        cache.removeAll()
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    /// Copies the WAL into the database file now, without waiting for other connections (a long
    /// running process calls it after its writes, SPEC.md §2). Returns whether every frame was
    /// copied.
    @discardableResult
    func checkpoint() -> Bool {
        // A closed connection has nothing to copy (SQLite itself does not check for NULL).
        guard let handle else { return true }
        var log: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
        return rc == SQLITE_OK && log == copied
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errmsg)
            throw Database.error(rc, message, path: path, sql: sql)
        }
    }

    /// A prepared statement, reused across calls with the same SQL.
    func cached(_ sql: String) throws -> Statement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        let s = try Statement(database: self, sql: sql)
        cache[sql] = s
        return s
    }

    /// A new prepared statement, not cached.
    func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// Runs `body` in one IMMEDIATE transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            try didBegin?()
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The virtual-machine steps all of this connection's statements ran since the last call,
    /// and resets the counts: a measure of work that does not depend on the machine's speed, so
    /// tests can check that a query's cost does not grow with the history (never time).
    func takeVMSteps() -> Int64 {
        var total: Int64 = 0
        var st = sqlite3_next_stmt(handle, nil)
        while let s = st {
            total += Int64(sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 1))
            st = sqlite3_next_stmt(handle, s)
        }
        return total
    }

    /// Whether a transaction is open.
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Turns triggers on or off for this connection only.
    func setTriggersEnabled(_ on: Bool) {
        _ = kmk_sqlite_enable_triggers(handle, on ? 1 : 0)
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "no connection" }

    /// Maps a SQLite result code to a ``ReplicaError`` with a message a person can act on.
    static func error(_ rc: Int32, _ message: String, path: String, sql: String?) -> ReplicaError {
        let primary = rc & 0xFF
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED:
            return ReplicaError(.busy, "\(path) is locked by another program (\(message)); close it or wait, then retry")
        case SQLITE_NOTADB:
            return ReplicaError(.badFile, "\(path) is not a kmk-sync replica (not an SQLite database); check the path")
        case SQLITE_CORRUPT:
            return ReplicaError(.badFile,
                                "\(path) is corrupt (\(message)); nothing was changed. Restore it from a backup "
                                    + "(kmk-sync backup) or create a new replica and pull from the hub")
        case SQLITE_CANTOPEN:
            return ReplicaError(.notFound, "cannot open \(path) (\(message)); check that the file exists and the path is right")
        case SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH:
            return ReplicaError(.permission, "no permission to write \(path) (\(message)); check the file's owner and mode")
        case SQLITE_FULL:
            return ReplicaError(.cannotCreate, "the disk holding \(path) is full; free space and retry")
        case SQLITE_CONSTRAINT:
            return ReplicaError(.invalidData, "\(message)")
        default:
            var text = "SQLite error \(rc) on \(path): \(message)"
            if let sql { text += " (in: \(sql.prefix(200)))" }
            return ReplicaError(.internalError, text)
        }
    }
}
