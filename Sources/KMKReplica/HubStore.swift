import Foundation
import KMKModel
import KMKSync

/// The national hub's SQLite store: the winning write of every register of every municipality,
/// each with a hub sequence number (the order pulls follow), the replicas that pushed and their
/// last batch numbers, and the tokens.
///
/// One connection, used from one place at a time (the hub server wraps it in an actor).
public final class HubStore {
    /// How a push batch ended.
    public enum PushOutcome: Hashable, Sendable {
        /// Applied, or acknowledged as a duplicate.
        case accepted(PushReply)
        /// The batch number skips ahead of, or falls behind, what the hub expects next.
        case gap(expected: Int64)
    }

    public let path: String
    /// This hub's id, made when the store was created.
    public let hubID: String
    public let schema: Schema
    let db: Database
    let now: Replica.WallClock
    /// The newest hub sequence number, as of the last write transaction's start (another process,
    /// such as a second hub, may have issued more since: a write transaction reads it again).
    private(set) var lastSeq: Int64
    /// Site numbers (the replica ids of `hub_site`) known to this connection. A row of `hub_site`
    /// never changes once committed, so these stay true; a write transaction adds the rows other
    /// processes committed (above ``maxSite``) before it makes a new one.
    var siteNumbers: [String: Int64] = [:]
    var siteIDs: [Int64: String] = [:]
    /// The highest site number known.
    private var maxSite: Int64 = 0

    /// Opens the store at `path`, creating it when missing.
    public static func open(at path: String, schema: Schema = .current, now: @escaping Replica.WallClock = Replica.systemClock) throws -> HubStore {
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists, path != ":memory:" {
            // Made whole under a hidden side name, then linked to `path`: a hub killed while it
            // creates its store leaves no broken store behind, and simply starts again.
            let side = Database.sidePath(for: path)
            do {
                let db = try create(at: side, named: path, schema: schema, now: now)
                try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.close()
                try Database.publish(side, as: path, refusal: "another hub created it at the same time; start this hub again")
            } catch {
                Database.removeSide(side)
                // Another process made the store meanwhile: open that one.
                if FileManager.default.fileExists(atPath: path) { return try open(at: path, schema: schema, now: now) }
                throw error
            }
            Database.removeSide(side)
            return try open(at: path, schema: schema, now: now)
        }
        let db = exists ? try Database(path: path, create: false) : try create(at: path, named: path, schema: schema, now: now)
        let meta: [String: Value]
        do {
            meta = Dictionary(try db.prepare("SELECT key, value FROM hub_meta").rows { ($0.text(0) ?? "", $0.value(1)) },
                              uniquingKeysWith: { a, _ in a })
        } catch let e as ReplicaError where e.message.contains("not an SQLite database") {
            throw ReplicaError(.badFile, "\(path) is not a kmk-sync hub store (not an SQLite database); check --db")
        } catch {
            throw ReplicaError(.badFile, "\(path) is an SQLite database but not a kmk-sync hub store; check --db")
        }
        guard meta["format"]?.text == HubDDL.format, let id = meta["hub_id"]?.text else {
            throw ReplicaError(.badFile, "\(path) is not a kmk-sync hub store (a replica file?); check --db")
        }
        let version = Int(meta["schema_version"]?.integer ?? 0)
        guard version == schema.version else {
            throw ReplicaError(.badFile, "the hub store \(path) has schema \(version) but this kmk-sync speaks \(schema.version); "
                + (version > schema.version ? "upgrade kmk-sync on the hub" : "it cannot be migrated by this version"))
        }
        let problems = try db.prepare("PRAGMA quick_check").rows { $0.text(0) ?? "" }
        guard problems == ["ok"] else {
            throw ReplicaError(.badFile, "the hub store \(path) is corrupt (\(problems.prefix(3).joined(separator: "; "))); "
                + "restore it from a backup; replicas will re-push what the backup lacks")
        }
        for (table, column, sql) in HubDDL.upgrade {
            let columns = try db.prepare("SELECT name FROM pragma_table_info('\(table)')").rows { $0.text(0) ?? "" }
            if !columns.contains(column) { try db.execute(sql) }
        }
        // Checkpoint the WAL every 16,384 pages (64 MiB) instead of SQLite's 1,000 (4 MiB). A push
        // batch rewrites a few hundred pages scattered over the register table (records are keyed
        // by random ids); with the small WAL they were copied back to the file every second or
        // third batch, each time with an fsync, inside the push that crossed the limit. A longer
        // interval copies a page rewritten by several batches once. The WAL file stays that big
        // once grown (it is reused, not shrunk). Per connection: nothing in the file changes.
        try db.execute("PRAGMA wal_autocheckpoint = 16384")
        return try HubStore(path: path, db: db, hubID: id, seq: meta["seq"]?.integer ?? 0, schema: schema, now: now)
    }

    /// Makes a new, empty hub store at `path`; messages name it `name`.
    private static func create(at path: String, named name: String, schema: Schema, now: Replica.WallClock) throws -> Database {
        let db: Database
        do {
            db = try Database(path: path, create: true)
        } catch let e as ReplicaError {
            throw ReplicaError(.cannotCreate, "cannot create the hub store \(name): \(e.message.replacingOccurrences(of: path, with: name))")
        }
        try db.execute("PRAGMA journal_mode = WAL")
        try db.transaction {
            try db.execute(HubDDL.create)
            let put = try db.prepare("INSERT INTO hub_meta (key, value) VALUES (?, ?)")
            for (k, v): (String, Value) in [
                ("format", .text(HubDDL.format)), ("schema_version", .integer(Int64(schema.version))),
                ("hub_id", .text(RecordID.makeRandom())), ("created_at", .integer(Int64(now()))), ("seq", .integer(0)),
            ] {
                try put.run([.text(k), v])
            }
        }
        return db
    }

    private init(path: String, db: Database, hubID: String, seq: Int64, schema: Schema, now: @escaping Replica.WallClock) throws {
        self.path = path
        self.db = db
        self.hubID = hubID
        self.lastSeq = seq
        self.schema = schema
        self.now = now
        try readSites()
    }

    public func close() { db.close() }

    /// Copies the WAL into the store's file without waiting for other connections (passive);
    /// returns whether every committed frame is now in the file (SPEC.md §11.1).
    @discardableResult
    public func checkpoint() -> Bool { db.checkpoint() }

    /// Applies one push batch atomically: the batch's changes are merged with the merge rules
    /// and the replica's last batch number is recorded in the same transaction.
    ///
    /// No clock may be more than `maxDrift` ms ahead of the hub's wall clock (``ClockError``).
    /// Then, inside the transaction and before anything of the batch is kept: the replica
    /// belongs to the token's municipality, and every change is one the scope may write, judged
    /// by the municipality the record already has on the hub (``ReplicaError/Kind/permission``,
    /// naming the record; see ``refusal(_:entity:record:scope:)``). A change equal to the
    /// register the hub holds is a relay and is ignored, never refused.
    /// `digest` gives the batch's ``PushBatch/digest`` (the hub computes it on another thread
    /// meanwhile); by default it is computed here.
    /// `token` is the id of the token that sent the batch, kept with it for `kmk-sync hub audit`.
    public func push(_ batch: PushBatch, scope: HubScope, token: String? = nil, maxDrift: UInt64,
                     digest: (() -> String)? = nil) throws -> PushOutcome {
        let wall = now()
        for c in batch.changes where c.clock.millis > wall && c.clock.millis - wall > maxDrift {
            throw ClockError(origin: c.origin, remote: c.clock, now: wall, maxDrift: maxDrift)
        }
        do {
            return try pushInTransaction(batch, scope: scope, token: token, wall: wall, digest: digest ?? { batch.digest })
        } catch {
            try reload()
            throw error
        }
    }

    private func pushInTransaction(_ batch: PushBatch, scope: HubScope, token: String?, wall: UInt64,
                                   digest: () -> String) throws -> PushOutcome {
        try db.transaction {
            try refreshCounters()
            let known = try db.cached("SELECT municipality, last_batch, last_digest FROM hub_replica WHERE replica = ?")
                .first([.text(batch.replica)]) { ($0.text(0) ?? "", $0.int64(1), $0.text(2)) }
            if let known, known.0 != scope.text {
                throw ReplicaError(.permission, "replica \(batch.replica) pushes for \(HubScope(text: known.0)?.description ?? known.0), "
                    + "but this token is for \(scope); use that replica's own token")
            }
            let last = known?.1 ?? 0
            // The last batch again, but other changes: the replica was restored from a backup and
            // reuses the number. Acknowledging it would lose them; the client renumbers instead.
            if batch.batch == last, let previous = known?.2, previous != digest() {
                return .gap(expected: last + 1)
            }
            if batch.batch <= last {
                return .accepted(PushReply(hub: hubID, schema: schema.version, batch: batch.batch, duplicate: true,
                                           lastBatch: last, applied: 0, ignored: batch.changes.count))
            }
            if batch.batch != last + 1 { return .gap(expected: last + 1) }
            let first = lastSeq + 1
            var applied = 0
            // The batch's row in hub_batch: each register it writes names it.
            let batchRow = (try db.cached("SELECT max(id) FROM hub_batch").first { $0.int64(0) } ?? 0) + 1
            var record = try RecordRegisters(db, batch: batchRow)
            for c in batch.changes where try merge(c, into: &record, scope: scope) { applied += 1 }
            try db.cached("""
                INSERT INTO hub_batch (id, token, replica, municipality, batch, at, changes, applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).run([.integer(batchRow), token.map(Value.text) ?? .null, .text(batch.replica), .text(scope.text),
                          .integer(batch.batch), .integer(Int64(wall)), .integer(Int64(batch.changes.count)),
                          .integer(Int64(applied))])
            if lastSeq >= first {
                try db.cached("INSERT INTO hub_commit (first_seq, last_seq, tag, at) VALUES (?, ?, ?, ?)")
                    .run([.integer(first), .integer(lastSeq), .text(HubStore.newTag()), .integer(Int64(wall))])
                try db.cached("UPDATE hub_meta SET value = ? WHERE key = 'seq'").run([.integer(lastSeq)])
            }
            try db.cached("""
                INSERT INTO hub_replica (replica, municipality, last_batch, last_push_at, changes, last_digest)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (replica) DO UPDATE SET last_batch = excluded.last_batch, last_push_at = excluded.last_push_at,
                changes = changes + excluded.changes, last_digest = excluded.last_digest
                """).run([.text(batch.replica), .text(scope.text), .integer(batch.batch), .integer(Int64(wall)),
                          .integer(Int64(batch.changes.count)), .text(digest())])
            return .accepted(PushReply(hub: hubID, schema: schema.version, batch: batch.batch, duplicate: false,
                                       lastBatch: batch.batch, applied: applied, ignored: batch.changes.count - applied))
        }
    }

    /// Re-reads the counters and caches after a rolled-back transaction (the site numbers it made
    /// are gone).
    private func reload() throws {
        lastSeq = try storedSeq()
        siteNumbers = [:]
        siteIDs = [:]
        maxSite = 0
        try readSites()
    }

    /// The newest sequence number as the file holds it.
    func storedSeq() throws -> Int64 {
        try db.cached("SELECT value FROM hub_meta WHERE key = 'seq'").first { $0.int64(0) } ?? 0
    }

    /// Reads the site numbers above ``maxSite`` (all of them at first).
    private func readSites() throws {
        let sites = try db.cached("SELECT site, replica FROM hub_site WHERE site > ? ORDER BY site")
            .rows([.integer(maxSite)]) { ($0.int64(0), $0.text(1) ?? "") }
        for (site, replica) in sites {
            siteNumbers[replica] = site
            siteIDs[site] = replica
            maxSite = site
        }
    }

    /// At the start of every write transaction: another process (a second hub, `hub token
    /// create`, `hub backup`'s check) may have written the file since this connection last did,
    /// so the sequence number and the site numbers are read again, under the write lock, before
    /// any is issued. Two stores on one file never issue the same number.
    private func refreshCounters() throws {
        lastSeq = try storedSeq()
        try readSites()
    }

    /// The registers of one record as the batch has left them: a batch sends a record's changes
    /// one after the other, so they are read with one range query per record instead of one
    /// query per change.
    struct RecordRegisters {
        /// The statements that read a record's registers and write one, looked up once per batch.
        let read: Statement
        let write: Statement
        var tbl: Int64 = -1
        var pk = ""
        /// (col, register), at most one per column.
        var registers: [(col: Int64, state: RegisterState)] = []
        /// The record's municipality on the hub (nil: national data), when it has any register.
        var municipality: String?

        /// Whether the hub holds the record (any register of it).
        var exists: Bool { !registers.isEmpty }

        /// The hub_batch row of the batch being merged.
        let batch: Int64

        init(_ db: Database, batch: Int64) throws {
            self.batch = batch
            read = try db.cached("SELECT col, val, hlc, site, base, muni FROM hub_register WHERE tbl = ? AND pk = ? ORDER BY col")
            write = try db.cached("""
                INSERT INTO hub_register (tbl, pk, col, muni, val, hlc, site, base, seq, batch)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tbl, pk, col) DO UPDATE SET val = excluded.val, hlc = excluded.hlc, site = excluded.site,
                base = excluded.base, seq = excluded.seq, batch = excluded.batch
                """)
        }

        func state(_ col: Int64) -> RegisterState? {
            registers.first { $0.col == col }?.state
        }

        mutating func set(_ col: Int64, _ state: RegisterState) {
            if let i = registers.firstIndex(where: { $0.col == col }) { registers[i].state = state } else { registers.append((col, state)) }
        }
    }

    /// Merges one change into its register; returns whether it won. `record` holds the registers
    /// of the change's record when the previous change was for the same one (else they are read).
    /// Throws ``ReplicaError/Kind/permission`` when `scope` may not write the change.
    private func merge(_ c: Change, into record: inout RecordRegisters, scope: HubScope) throws -> Bool {
        let e = schema.entity(c.entity)!
        let col = Int64(c.isLifecycle ? 0 : e.field(c.field)!.number)
        let tbl = Int64(e.number)
        if record.tbl != tbl || record.pk != c.id {
            record.tbl = tbl
            record.pk = c.id
            record.registers.removeAll(keepingCapacity: true)
            record.municipality = nil
            // The record's municipality is read with its registers (no query more per change); the
            // lifecycle's (col 0, read first) is the one the record was created with.
            try record.read.each(binding: { st in
                st.bind(tbl, at: 1)
                st.bind(c.id, at: 2)
            }) { row in
                if record.registers.isEmpty { record.municipality = row.isNull(5) ? nil : row.text(5) }
                record.registers.append((row.int64(0), RegisterState(value: row.value(1), clock: HLC(int64: row.int64(2)),
                                                                     origin: siteID(row.int64(3)), base: HLC(int64: row.int64(4)))))
            }
        }
        let stored = record.state(col)
        let incoming = RegisterState(c)
        // A relay: exactly what the hub holds (a replica re-sending what it pulled). Ignored
        // whatever the token, so a replica re-pushing its whole log never wedges.
        if stored == incoming, record.municipality == c.municipality { return false }
        if let refusal = refusal(c, entity: e, record: record, scope: scope) {
            throw ReplicaError(.permission, refusal)
        }
        let outcome = c.isLifecycle ? MergeRules.mergeLifecycle(stored: stored, incoming: incoming)
            : MergeRules.mergeField(stored: stored, incoming: incoming)
        guard outcome == .replace else { return false }
        let site = try siteNumber(c.origin)
        lastSeq += 1
        let seq = lastSeq
        try record.write.run { st in
                st.bind(tbl, at: 1)
                st.bind(c.id, at: 2)
                st.bind(col, at: 3)
                if let m = c.municipality { st.bind(m, at: 4) } else { st.bindNull(at: 4) }
                st.bind(c.value, at: 5)
                st.bind(c.clock.int64, at: 6)
                st.bind(site, at: 7)
                st.bind(c.base.int64, at: 8)
                st.bind(seq, at: 9)
                st.bind(record.batch, at: 10)
            }
        if !record.exists { record.municipality = c.municipality }
        record.set(col, incoming)
        return true
    }

    /// Why `scope` may not write `c`, or nil when it may (SPEC.md §11.2). A record's
    /// municipality is the one it was first written with on the hub: a change is judged by that
    /// municipality, not by the one it claims, and may not claim another. A municipality
    /// profile's id is its kommunkod. National data is written by the styrgrupp alone.
    func refusal(_ c: Change, entity e: EntitySpec, record: RecordRegisters, scope: HubScope) -> String? {
        let name = "\(c.entity) \(c.id)"
        let nothing = "nothing in the batch was written"
        func label(_ code: String) -> String { Municipality.byCode[code]?.description ?? code }
        switch e.scope {
        case .national:
            if let claimed = c.municipality {
                return "\(name) is national reference data, but the change names municipality \(label(claimed)); "
                    + "\(nothing). A change of national data names no municipality (null)"
            }
            if record.exists, let owner = record.municipality {
                return "\(name) is filed on the hub under municipality \(label(owner)), not as national data; \(nothing). "
                    + "Ask the hub's operator to check the hub store (kmk-sync hub audit --record \(c.id))"
            }
            return scope.mayWrite(municipality: nil) ? nil : scope.refusal(for: c)
        case .municipal:
            guard let claimed = c.municipality else {
                return "\(name) belongs to a municipality, but the change names none; \(nothing)"
            }
            if record.exists, record.municipality != claimed {
                let owner = record.municipality.map { "municipality \(label($0))" } ?? "national reference data"
                return "\(name) belongs to \(owner) on the hub, but the change files it under \(label(claimed)); "
                    + "\(nothing). A record's municipality never changes: remove the change (make a new record of "
                    + "\(label(claimed)) instead), then push again"
            }
            guard scope.mayWrite(municipality: claimed) else { return scope.refusal(for: c) }
            if e.identity == .municipalityCode, c.id != claimed {
                return "\(name) is a municipality profile, whose id must be its kommunkod (\(claimed) for "
                    + "\(label(claimed))); \(nothing). Write the profile of your own municipality, id \(claimed)"
            }
            return nil
        }
    }

    /// The replica id of a site number; reads the table when another connection added it.
    func siteID(_ site: Int64) -> String {
        if let id = siteIDs[site] { return id }
        guard let id = try? db.cached("SELECT replica FROM hub_site WHERE site = ?").first([.integer(site)], { $0.text(0) }) ?? nil else {
            return ""
        }
        siteIDs[site] = id
        siteNumbers[id] = site
        return id
    }

    /// The site number of a replica, made when it has none; only inside a write transaction
    /// (which read the numbers other processes made, ``refreshCounters()``).
    func siteNumber(_ replica: String) throws -> Int64 {
        if let n = siteNumbers[replica] { return n }
        let n = maxSite + 1
        try db.cached("INSERT INTO hub_site (site, replica) VALUES (?, ?)").run([.integer(n), .text(replica)])
        siteNumbers[replica] = n
        siteIDs[n] = replica
        maxSite = n
        return n
    }

    /// Builds a change from a stored register.
    func change(tbl: Int64, pk: String, col: Int64, muni: String?, val: Value, hlc: Int64, site: Int64, base: Int64) -> Change? {
        guard let e = schema.entity(number: Int(tbl)) else { return nil }
        let field: String
        if col == 0 {
            field = Change.lifecycleField
        } else {
            guard let f = e.field(number: Int(col)) else { return nil }
            field = f.name
        }
        return Change(entity: e.name, id: pk, field: field, value: val, clock: HLC(int64: hlc), origin: siteID(site),
                      base: HLC(int64: base), municipality: muni)
    }

    static func newTag() -> String {
        var g = SystemRandomNumberGenerator()
        return String(g.next() & 0xFFFF_FFFF_FFFF, radix: 16)
    }
}
