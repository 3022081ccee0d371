import CSQLite
import KMKModel
import KMKSync

/// A plain SQLite connection for the baselines and for the checks that both sides of a
/// comparison hold the same data. Independent of KMKReplica's connection, so the baseline
/// pays no cost of ours; used from one thread.
final class SQLiteFile {
    let path: String
    private(set) var handle: OpaquePointer?

    init(path: String) throws {
        self.path = path
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        handle = h
        guard rc == SQLITE_OK else {
            sqlite3_close_v2(h)
            throw BenchError("cannot open \(path) (SQLite \(rc))")
        }
        sqlite3_busy_timeout(h, 10_000)
        // The same per-connection settings as a replica connection, so the baseline is not starved of cache.
        sqlite3_exec(h, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY", nil, nil, nil)
    }

    deinit { close() }

    func close() {
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    var message: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw BenchError("SQLite \(rc) on \(path): \(message) (in: \(sql.prefix(120)))") }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement { try SQLiteStatement(self, sql) }

    /// The first column of the first row as an integer (0 when there is none).
    func scalar(_ sql: String) throws -> Int64 {
        let s = try prepare(sql)
        return try s.step() ? sqlite3_column_int64(s.handle, 0) : 0
    }

    /// The bytes of the database file once the WAL is checkpointed into it.
    func fileBytes() throws -> Int64 {
        try execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return try scalar("PRAGMA page_count") * scalar("PRAGMA page_size")
    }

    /// The number of rows of `table` and a SHA-256 over their `columns`, in id order, each value
    /// written with its type: equal hashes mean equal rows, value for value.
    func contentHash(table: String, columns: [String]) throws -> TableHash {
        let s = try prepare("SELECT " + columns.joined(separator: ", ") + " FROM \(table) ORDER BY id")
        var sha = SHA256()
        var rows = 0
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        while try s.step() {
            rows += 1
            for i in 0..<Int32(columns.count) {
                switch sqlite3_column_type(s.handle, i) {
                case SQLITE_NULL: buffer.append(0x4E)
                case SQLITE_INTEGER: buffer += Array("i\(sqlite3_column_int64(s.handle, i))".utf8)
                case SQLITE_FLOAT: buffer += Array("r\(sqlite3_column_double(s.handle, i).bitPattern)".utf8)
                default:
                    let n = Int(sqlite3_column_bytes(s.handle, i))
                    buffer += Array("t\(n):".utf8)
                    if let p = sqlite3_column_text(s.handle, i) { buffer.append(contentsOf: UnsafeBufferPointer(start: p, count: n)) }
                }
                buffer.append(0x1F)
            }
            buffer.append(0x1E)
            if buffer.count > 60_000 {
                sha.update(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        sha.update(buffer)
        return TableHash(rows: rows, sha256: SHA256.hex(sha.finalize()))
    }
}

/// Rows and content hash of one table (see ``SQLiteFile/contentHash(table:columns:)``).
struct TableHash: Hashable, Sendable, CustomStringConvertible {
    var rows: Int
    var sha256: String
    var description: String { "\(rows) rows, sha256 \(sha256.prefix(12))" }
}

/// A prepared statement of a ``SQLiteFile``, finalized in `deinit`.
final class SQLiteStatement {
    let file: SQLiteFile
    let handle: OpaquePointer?

    init(_ file: SQLiteFile, _ sql: String) throws {
        self.file = file
        var h: OpaquePointer?
        let rc = sqlite3_prepare_v2(file.handle, sql, -1, &h, nil)
        guard rc == SQLITE_OK else { throw BenchError("SQLite \(rc) preparing \(sql.prefix(120)): \(file.message)") }
        handle = h
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ value: Value, at index: Int32) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .integer(let i): sqlite3_bind_int64(handle, index, i)
        case .real(let d): sqlite3_bind_double(handle, index, d)
        case .text(let s): sqlite3_bind_text(handle, index, s, -1, kmk_sqlite_transient())
        }
    }

    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw BenchError("SQLite \(rc) on \(file.path): \(file.message)")
    }

    /// Runs the statement once with `values` and resets it for the next run.
    func run(_ values: [Value]) throws {
        for (i, v) in values.enumerated() { bind(v, at: Int32(i + 1)) }
        while try step() {}
        sqlite3_reset(handle)
    }
}
