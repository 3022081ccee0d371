import CSQLite
import KMKModel

/// A prepared statement: bind, step, read columns; finalized in `deinit`.
///
/// It keeps its connection's handle, not the ``Database``: the database's statement cache holds
/// its statements, and a statement holding the database back would keep both alive for ever, the
/// connection never closed and its WAL never checkpointed. A statement that outlives
/// ``Database/close()`` still finalizes safely: `sqlite3_close_v2` keeps the connection until its
/// last statement is finalized.
final class Statement {
    private let connection: OpaquePointer?
    private let path: String
    let sql: String
    private(set) var handle: OpaquePointer?

    init(database: Database, sql: String) throws {
        connection = database.handle
        path = database.path
        self.sql = sql
        var h: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &h, nil)
        guard rc == SQLITE_OK else {
            throw Database.error(rc, database.lastMessage, path: database.path, sql: sql)
        }
        handle = h
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds values to the parameters in order (1-based).
    @discardableResult
    func bind(_ values: [Value]) -> Statement {
        for (i, v) in values.enumerated() { bind(v, at: Int32(i + 1)) }
        return self
    }

    func bind(_ value: Value, at index: Int32) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .integer(let i): sqlite3_bind_int64(handle, index, i)
        case .real(let d): sqlite3_bind_double(handle, index, d)
        case .text(let s): bind(s, at: index)
        }
    }

    func bind(_ i: Int64, at index: Int32) { sqlite3_bind_int64(handle, index, i) }

    /// Binds `count` bytes of UTF-8 text at `bytes` without SQLite copying them: they must stay
    /// valid and unchanged until the statement is reset with ``reset()`` (which clears bindings).
    func bind(unsafeText bytes: UnsafePointer<UInt8>, count: Int, at index: Int32) {
        bytes.withMemoryRebound(to: CChar.self, capacity: count) { sqlite3_bind_text(handle, index, $0, Int32(count), nil) }
    }

    /// Binds text, copied by SQLite: from the string's own UTF-8 storage when it has one (no
    /// NUL-terminated copy first, as passing the String as a C string makes).
    func bind(_ s: String, at index: Int32) {
        let bound = s.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard let base = utf8.baseAddress else { return false }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(handle, index, $0, Int32(utf8.count), kmk_sqlite_transient())
            } == SQLITE_OK
        }
        if bound != true { sqlite3_bind_text(handle, index, s, -1, kmk_sqlite_transient()) }
    }

    /// Advances to the next row; false when done.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "no connection"
            sqlite3_reset(handle)
            throw Database.error(rc, message, path: path, sql: sql)
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ values: [Value] = []) throws {
        reset()
        bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs a statement that returns no rows, its parameters bound by `bind` (no `[Value]` array).
    func run(binding bind: (Statement) throws -> Void) throws {
        sqlite3_reset(handle)
        try bind(self)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Runs a query, its parameters bound by `bind`, and hands each row to `row`.
    func each(binding bind: (Statement) -> Void, _ row: (Statement) throws -> Void) throws {
        sqlite3_reset(handle)
        bind(self)
        defer { sqlite3_reset(handle) }
        while try step() { try row(self) }
    }

    func bindNull(at index: Int32) { sqlite3_bind_null(handle, index) }

    /// Binds a blob, copied by SQLite; NULL when empty.
    func bind(blob bytes: [UInt8], at index: Int32) {
        guard !bytes.isEmpty else { return bindNull(at: index) }
        bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), kmk_sqlite_transient()) }
    }

    /// Runs a query and maps each row.
    func rows<T>(_ values: [Value] = [], _ map: (Statement) throws -> T) throws -> [T] {
        reset()
        bind(values)
        var out: [T] = []
        while try step() { out.append(try map(self)) }
        sqlite3_reset(handle)
        return out
    }

    /// The first row mapped, or nil.
    func first<T>(_ values: [Value] = [], _ map: (Statement) throws -> T) throws -> T? {
        reset()
        bind(values)
        defer { sqlite3_reset(handle) }
        return try step() ? try map(self) : nil
    }

    var columnCount: Int32 { sqlite3_column_count(handle) }

    func value(_ i: Int32) -> Value {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        default: return .text(text(i) ?? "")
        }
    }

    func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }

    /// Column `i` as an integer, nil when NULL.
    func optionalInt64(_ i: Int32) -> Int64? {
        sqlite3_column_type(handle, i) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, i)
    }

    func text(_ i: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, i) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }

    /// Column `i`'s bytes as a blob (nil when NULL), valid only inside `body`.
    func withBlob<T>(_ i: Int32, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
        guard sqlite3_column_type(handle, i) != SQLITE_NULL else { return body(nil) }
        let p = sqlite3_column_blob(handle, i)
        let n = Int(sqlite3_column_bytes(handle, i))
        return body(UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n))
    }
}
