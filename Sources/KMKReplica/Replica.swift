import CSQLite
import Foundation
import KMKModel
import KMKSync

/// A municipality's local replica: one SQLite file (WAL) with the domain tables, replica
/// metadata, the change log (the register columns of each record's row, a clock per field: ``LogTable``),
/// and the merge ledger.
///
/// A `Replica` owns one connection and is used from one thread at a time.
public final class Replica {
    /// Milliseconds since 1970-01-01 UTC: the wall clock, injected so tests control time.
    public typealias WallClock = @Sendable () -> UInt64

    /// The system wall clock.
    public static let systemClock: WallClock = { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    /// The path of the replica file.
    public let path: String
    /// This replica's random, globally unique id (its site id). A copied or restored file takes
    /// a new one when it is opened (``checkIdentity()``).
    public internal(set) var replicaID: String
    /// The municipality this replica belongs to.
    public let municipality: Municipality
    /// The schema this build reads and writes.
    public let schema: Schema
    let db: Database
    let now: WallClock
    /// The last clock this replica issued or received.
    var lastClock: HLC
    /// The last sequence number issued (`kmk_meta.seq`).
    /// Kept in memory during an apply and persisted once at its end (``saveSeq(_:)``).
    var lastSeq: Int64
    /// Site numbers of other replicas, by replica id (cache of `kmk_site`).
    var siteNumbers: [String: Int64] = [:]
    var siteIDs: [Int64: String] = [:]
    /// Each entity's change-log table, in schema order.
    let logTables: [LogTable]
    /// The same, by entity number.
    let logTableByNumber: [Int: LogTable]
    /// Whether ``importRecords(_:mode:)`` captures new and live records itself, with the triggers
    /// off (SPEC.md §4, "Direct capture"). Tests turn it off to compare with the triggers.
    var capturesImportsDirectly = true

    private init(path: String, db: Database, schema: Schema, now: @escaping WallClock) throws {
        self.path = path
        self.db = db
        self.schema = schema
        self.now = now
        logTables = schema.entities.map(LogTable.init)
        logTableByNumber = Dictionary(uniqueKeysWithValues: logTables.map { ($0.entity.number, $0) })
        let meta = try Replica.readMeta(db)
        guard let id = meta["replica_id"]?.text, let code = meta["municipality"]?.text,
              let municipality = Municipality.forReplica(code: code) else {
            throw ReplicaError(.badFile, "\(path) lacks its replica metadata (kmk_meta); it is damaged: restore it from a backup")
        }
        self.replicaID = id
        self.municipality = municipality
        self.lastClock = HLC(int64: meta["hlc"]?.integer ?? 0)
        self.lastSeq = meta["seq"]?.integer ?? 0
        try loadSites()
        // Other processes and other SQLite clients write the same file: what is kept in memory
        // is read again as each write transaction starts, holding the write lock (SPEC.md §4).
        db.didBegin = { [unowned self] in try self.reloadCounters() }
    }

    /// Creates a new replica file for a municipality. Refuses to overwrite any existing file.
    public static func create(
        at path: String, municipality: Municipality, replicaID: String = RecordID.makeRandom(),
        schema: Schema = .current, now: @escaping WallClock = Replica.systemClock
    ) throws -> Replica {
        if FileManager.default.fileExists(atPath: path) {
            throw ReplicaError(.cannotCreate, "\(path) already exists; kmk-sync init never overwrites a file. Choose another path")
        }
        try Database.refuseLeftovers(of: path)
        if path == ":memory:" {
            return try build(at: path, named: path, municipality: municipality, replicaID: replicaID, schema: schema, now: now)
        }
        // The file is made whole under a hidden side name and then linked to `path`: a kill or a
        // full disk meanwhile leaves nothing under `path`, so `init` can simply be run again.
        let side = Database.sidePath(for: path)
        do {
            let replica = try build(at: side, named: path, municipality: municipality, replicaID: replicaID, schema: schema, now: now)
            // Everything into the main file, so the file linked to `path` is the whole replica.
            try replica.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            replica.close()
            try Database.publish(side, as: path, refusal: "kmk-sync init never overwrites a file. Choose another path")
        } catch {
            Database.removeSide(side)
            throw error
        }
        Database.removeSide(side)
        return try open(at: path, schema: schema, now: now)
    }

    /// Makes a new replica file at `path`; messages name it `name` (the path the user gave).
    private static func build(
        at path: String, named name: String, municipality: Municipality, replicaID: String, schema: Schema,
        now: @escaping WallClock
    ) throws -> Replica {
        let db: Database
        do {
            db = try Database(path: path, create: true)
        } catch let e as ReplicaError {
            throw ReplicaError(.cannotCreate, "cannot create \(name): \(e.message.replacingOccurrences(of: path, with: name))")
        }
        do {
            try db.execute("PRAGMA journal_mode = WAL")
            try db.transaction {
                try db.execute(ReplicaDDL.create(schema))
                let put = try db.prepare("INSERT INTO kmk_meta (key, value) VALUES (?, ?)")
                let created = Int64(now())
                for (k, v): (String, Value) in [
                    ("format", .text(ReplicaDDL.format)), ("schema_version", .integer(Int64(schema.version))),
                    ("replica_id", .text(replicaID)), ("municipality", .text(municipality.code)),
                    ("created_at", .integer(created)), ("hlc", .integer(0)), ("seq", .integer(0)),
                    ("log_layout", .integer(ReplicaDDL.logLayout)),
                ] {
                    try put.run([.text(k), v])
                }
                try db.prepare("INSERT INTO kmk_site (site, replica) VALUES (0, ?)").run([.text(replicaID)])
            }
        } catch {
            db.close()
            throw error
        }
        let replica = try Replica(path: path, db: db, schema: schema, now: now)
        if !municipality.isNational {
            _ = try replica.insert(EntitySpec.municipality.name, id: municipality.code, fields: ["name": .text(municipality.name)])
        }
        return replica
    }

    /// Opens an existing replica file.
    ///
    /// Refuses, without changing the file, one that is missing, not a replica, corrupt, made by a
    /// newer kmk-sync, or locked. Then gives a clock to edits other programs made since the last
    /// kmk-sync command (see ``stampPending()``).
    public static func open(
        at path: String, schema: Schema = .current, now: @escaping WallClock = Replica.systemClock,
        busyTimeoutMillis: Int32 = 5_000
    ) throws -> Replica {
        try open(at: path, schema: schema, now: now, busyTimeoutMillis: busyTimeoutMillis, checkingIdentity: true)
    }

    /// Opens an existing replica file; without `checkingIdentity` a copy keeps its original's
    /// replica id (a backup being verified, ``backup(to:overwrite:)``).
    static func open(
        at path: String, schema: Schema, now: @escaping WallClock, busyTimeoutMillis: Int32, checkingIdentity: Bool
    ) throws -> Replica {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ReplicaError(.notFound, "no replica at \(path); create one with: kmk-sync init \(path) --municipality CODE")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ReplicaError(.permission, "cannot read \(path); check the file's owner and mode")
        }
        // No file descriptor of our own is opened on the file (to read its header, say): closing
        // one would drop every POSIX lock this process holds on it, those of SQLite's other
        // connections included, and another process could then take the WAL away from them.
        // SQLite itself refuses a file that is not a database (SQLITE_NOTADB), creating nothing.
        let db = try Database(path: path, create: false, busyTimeoutMillis: busyTimeoutMillis)
        let meta = try readMeta(db, path: path)
        guard meta["format"]?.text == ReplicaDDL.format else {
            throw ReplicaError(.badFile, "\(path) is an SQLite database but not a kmk-sync replica; check the path")
        }
        let version = Int(meta["schema_version"]?.integer ?? 0)
        if version > schema.version {
            throw ReplicaError(.badFile,
                               "\(path) was made by a newer kmk-sync (schema \(version); this one knows \(schema.version)); "
                                   + "upgrade kmk-sync to use it")
        }
        if version < schema.version {
            throw ReplicaError(.badFile, "\(path) has schema \(version), which this kmk-sync cannot migrate; use an older kmk-sync")
        }
        let problems = try db.prepare("PRAGMA quick_check").rows { $0.text(0) ?? "" }
        if problems != ["ok"] {
            throw ReplicaError(.badFile,
                               "\(path) is corrupt (\(problems.prefix(3).joined(separator: "; "))); nothing was changed. "
                                   + "Restore it from a backup (kmk-sync backup) or create a new replica and pull from the hub")
        }
        let replica = try Replica(path: path, db: db, schema: schema, now: now)
        switch meta["log_layout"]?.integer ?? 1 {
        case ReplicaDDL.logLayout: break
        case let layout where (1..<ReplicaDDL.logLayout).contains(layout):
            do { try replica.migrate(from: layout) } catch {
                replica.close()
                throw error
            }
        case let layout:
            replica.close()
            throw ReplicaError(.badFile, "\(path) has change-log layout \(layout), which this kmk-sync does not know; upgrade kmk-sync to use it")
        }
        do { if checkingIdentity { try replica.checkIdentity() } } catch {
            replica.close()
            throw error
        }
        try replica.stampPending()
        return replica
    }

    static func readMeta(_ db: Database, path: String? = nil) throws -> [String: Value] {
        do {
            let rows = try db.prepare("SELECT key, value FROM kmk_meta").rows { ($0.text(0) ?? "", $0.value(1)) }
            return Dictionary(rows, uniquingKeysWith: { a, _ in a })
        } catch let e as ReplicaError where e.kind == .internalError && e.message.contains("no such table") {
            throw ReplicaError(.badFile, "\(path ?? db.path) is an SQLite database but not a kmk-sync replica; check the path")
        }
    }

    /// Closes the file. The replica cannot be used afterwards.
    public func close() { db.close() }

    /// A metadata value from `kmk_meta`.
    public func meta(_ key: String) throws -> Value {
        try db.cached("SELECT value FROM kmk_meta WHERE key = ?").first([.text(key)]) { $0.value(0) } ?? .null
    }

    /// Sets a metadata value in `kmk_meta`.
    public func setMeta(_ key: String, _ value: Value) throws {
        try db.cached("INSERT INTO kmk_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .run([.text(key), value])
    }

    /// The entity with this name, if this replica may write it: a municipality's replica writes
    /// its municipal entities, the styrgrupp's national replica only national reference data.
    func entityForWriting(_ name: String) throws -> EntitySpec {
        let e = try entity(name)
        switch (e.scope, municipality.isNational) {
        case (.national, false):
            throw ReplicaError(.invalidData, "\(e.name) is national reference data, owned by the styrgrupp: it arrives by pull and is "
                + "read-only here. The styrgrupp edits it in its national replica (kmk-sync init FILE --national)")
        case (.municipal, true):
            throw ReplicaError(.invalidData, "this is the styrgrupp's national replica: it holds national reference data only "
                + "(criteria_set, criterion), not \(e.name). Enter municipal data in that municipality's replica")
        default:
            return e
        }
    }

    /// The entity with this name, or an error listing the known ones.
    public func entity(_ name: String) throws -> EntitySpec {
        guard let e = schema.entity(name) else {
            throw ReplicaError(.invalidData, "unknown entity '\(name)'; known entities: \(schema.entityNames.joined(separator: ", "))")
        }
        return e
    }

    /// The next clock for a local write; persists nothing by itself.
    func nextClock() -> HLC {
        lastClock = lastClock.tick(now: now())
        return lastClock
    }

    /// Persists the clock (inside the caller's transaction).
    func saveClock() throws {
        try setMeta("hlc", .integer(lastClock.int64))
    }

    /// Gives every pending change (written by another program's statement, not yet clocked) one
    /// new clock, and each pending record its own sequence number (SPEC.md §4). Called at the end
    /// of every local write and when the file is opened,
    /// so an edit made by another program gets its clock no later than the next kmk-sync command.
    /// Returns how many records were stamped (each gets one sequence number).
    @discardableResult
    public func stampPending() throws -> Int {
        if !db.inTransaction {
            guard try hasPending() else { return 0 }
            return try db.transaction { try stampPendingInTransaction() }
        }
        return try stampPendingInTransaction()
    }

    func hasPending() throws -> Bool {
        for t in logTables where try db.cached(t.hasPending).first([], { _ in true }) ?? false { return true }
        return false
    }

    @discardableResult
    func stampPendingInTransaction() throws -> Int {
        guard try hasPending() else { return 0 }
        let clock = nextClock()
        var top = lastSeq
        try clockPending(numbered: false, clock: clock, top: &top)
        let stamped = Int(top - lastSeq)
        try noteSeen(origin: replicaID, clock: clock)
        try saveClock()
        try saveSeq(top)
        return stamped
    }

    /// Clocks the rows with a pending register (SPEC.md §4, "Stamping"): with `numbered` those a
    /// capture trigger of this transaction numbered (`wseq`), each keeping that number; otherwise
    /// the others (written by another program), numbered after `top`, by entity, live rows first,
    /// then id. Each pending register gets `clock`, origin this replica and its record's number
    /// (``RegisterRules``); `top` ends at the last number used.
    func clockPending(numbered: Bool, clock: HLC, top: inout Int64) throws {
        let pushed = try meta("push.seq").integer ?? 0
        for t in logTables {
            for (table, select) in zip(t.tables, t.pendingRows) {
                var rows: [(rowid: Int64, slots: [StoredRegister]?, cl: Int64, seq: Int64?, t: Int64?, pend: Int64, wseq: Int64?, id: String)] = []
                try db.cached(select).each(binding: { $0.bind(numbered ? 1 : 0, at: 1) }) { s in
                    rows.append((s.int64(0), s.registerSlots(at: 5, count: t.registers.count), s.int64(1), s.optionalInt64(2),
                                 s.optionalInt64(3), s.int64(4), s.optionalInt64(6), s.text(7) ?? "?"))
                }
                let update = try db.cached("UPDATE \(table) SET seq = ?1, t = ?2, pend = 0, wseq = NULL, regs = ?3 WHERE rowid = ?4")
                var blob: [UInt8] = []
                for r in rows {
                    guard var slots = r.slots else {
                        throw ReplicaError.damagedRegisters(path, t.entity.name, r.id)
                    }
                    let reference = r.t ?? clock.int64
                    RegisterRules.write(&slots, t: reference, oldSeq: r.seq, written: r.pend, clock: clock.int64, mark: pushed,
                                        deletion: r.pend & 1 != 0 && r.cl > 0 && r.cl % 2 == 0)
                    RegisterBlob.encode(slots, into: &blob)
                    let seq: Int64
                    if let w = r.wseq {
                        seq = w
                    } else {
                        top += 1
                        seq = top
                    }
                    try update.run { s in
                        s.bind(seq, at: 1)
                        s.bind(reference, at: 2)
                        s.bind(blob: blob, at: 3)
                        s.bind(r.rowid, at: 4)
                    }
                }
            }
        }
    }

    /// The highest local sequence number ever issued (0 when none). Sequence numbers are never
    /// reused, even when the change that had the highest one is overwritten.
    public func maxSeq() throws -> Int64 { lastSeq }

    /// Re-reads the clock, sequence counter and site cache: as every write transaction starts
    /// (``Database/didBegin``), since another process may have written the file, and after a
    /// rolled-back transaction, so memory never runs ahead of the file.
    func reloadCounters() throws {
        var hlc: Int64 = 0
        var seq: Int64 = 0
        try db.cached("SELECT key, value FROM kmk_meta WHERE key IN ('hlc', 'seq')").each(binding: { _ in }) { row in
            if row.text(0) == "hlc" { hlc = row.int64(1) } else { seq = row.int64(1) }
        }
        lastClock = HLC(int64: hlc)
        lastSeq = seq
        let sites = try db.cached("SELECT count(*), coalesce(max(site), 0) FROM kmk_site").first { ($0.int64(0), $0.int64(1)) }
        if let sites, sites.0 != Int64(siteIDs.count) || sites.1 != (siteIDs.keys.max() ?? 0) { try loadSites() }
    }

    /// Reads the site numbers of other replicas (`kmk_site`) into the cache.
    private func loadSites() throws {
        siteNumbers = [:]
        siteIDs = [:]
        let sites = try db.prepare("SELECT site, replica FROM kmk_site").rows { ($0.int64(0), $0.text(1) ?? "") }
        for (site, replica) in sites {
            siteNumbers[replica] = site
            siteIDs[site] = replica
        }
    }

    /// Persists the sequence counter (inside the caller's transaction).
    func saveSeq(_ seq: Int64) throws {
        lastSeq = seq
        try setMeta("seq", .integer(seq))
    }

    /// Runs a local write: `body` changes domain tables with plain SQL, and the triggers capture
    /// it, stamped with one new clock from `kmk_stamp`; changes left pending by other programs
    /// are stamped in the same transaction.
    /// Inside another write (see ``Replica/criteriaVersion(from:validFrom:name:)``) it joins that
    /// transaction, which stamps and commits.
    func write<T>(_ body: () throws -> T) throws -> T {
        if db.inTransaction { return try body() }
        do {
            return try db.transaction {
                // The triggers number what the body writes with the following sequence numbers,
                // one per record written, and it is clocked with this clock (SPEC.md §4).
                let clock = nextClock()
                try db.cached("INSERT INTO kmk_stamp (k, hlc, seq, pushed) VALUES (0, ?, ?, ?)")
                    .run([.integer(clock.int64), .integer(lastSeq), .integer(try meta("push.seq").integer ?? 0)])
                let result = try body()
                var seq = try db.cached("SELECT seq FROM kmk_stamp").first { $0.int64(0) } ?? lastSeq
                // The registers the triggers marked pending, with this clock and their numbers.
                if seq > lastSeq { try clockPending(numbered: true, clock: clock, top: &seq) }
                try db.cached("DELETE FROM kmk_stamp").run()
                if seq > lastSeq {
                    try noteSeen(origin: replicaID, clock: clock)
                    try saveSeq(seq)
                }
                try saveClock()
                // Edits another program made since this replica was opened.
                _ = try stampPendingInTransaction()
                return result
            }
        } catch {
            try? reloadCounters()
            throw error
        }
    }
}
