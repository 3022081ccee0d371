import KMKModel
import KMKSync

/// What applying a batch of remote changes did.
public struct ApplyResult: Hashable, Sendable {
    /// Changes that won and were written.
    public var applied = 0
    /// Changes that lost, or were already here.
    public var ignored = 0
    /// Conflicts recorded in the merge ledger.
    public var conflicts: [LedgerEntry] = []
}

extension Replica {
    /// The default maximum drift: a remote clock more than 72 hours ahead of this machine's is refused.
    ///
    /// Wide enough that laptops whose clocks are a day off either way (a wrong date, a wrong time
    /// zone) still sync with each other and the hub; narrow enough that a clock set years ahead
    /// cannot drag every replica's clock with it (SPEC.md §3).
    public static let defaultMaxDrift: UInt64 = 72 * 3_600_000

    /// Merges a batch of remote changes in one transaction: all or nothing.
    ///
    /// The batch is checked first (entities, fields, values, municipality, clock drift) and
    /// refused whole on the first problem. Only winning values reach the domain tables; triggers
    /// are off meanwhile, so applied changes are not captured again as local edits. Each applied
    /// change keeps its origin and clock and gets a new local sequence number, so it is passed on.
    /// `within` runs last inside the same transaction (e.g. to store a pull cursor), given the
    /// sequence number before the batch.
    @discardableResult
    public func apply(
        _ changes: [Change], maxDrift: UInt64 = Replica.defaultMaxDrift, peer: (id: String, vector: [String: HLC])? = nil,
        within: ((_ seqBefore: Int64) throws -> Void)? = nil
    ) throws -> ApplyResult {
        let wall = now()
        for c in changes {
            try check(c)
            if c.clock.millis > wall, c.clock.millis - wall > maxDrift {
                throw ClockError(origin: c.origin, remote: c.clock, now: wall, maxDrift: maxDrift)
            }
        }
        let seqBefore = lastSeq
        do {
            return try applyInTransaction(changes, wall: wall, maxDrift: maxDrift, peer: peer, within: within, seqBefore: seqBefore)
        } catch {
            try reloadCounters()
            throw error
        }
    }

    private func applyInTransaction(
        _ changes: [Change], wall: UInt64, maxDrift: UInt64, peer: (id: String, vector: [String: HLC])?,
        within: ((_ seqBefore: Int64) throws -> Void)?, seqBefore: Int64
    ) throws -> ApplyResult {
        try db.transaction {
            db.setTriggersEnabled(false)
            defer { db.setTriggersEnabled(true) }
            var result = ApplyResult()
            var batch = try ApplyBatch(db)
            // The version vector and the sequence counter are written once per batch, not per change.
            var seen: [String: HLC] = [:]
            var lastEntity: EntitySpec?
            for c in changes {
                lastClock = try lastClock.receive(c.clock, now: wall, maxDrift: maxDrift, origin: c.origin)
                let e: EntitySpec
                if let l = lastEntity, l.name == c.entity { e = l } else { e = schema.entity(c.entity)!; lastEntity = e }
                if try applyOne(c, e, &batch, &result) {
                    result.applied += 1
                } else {
                    result.ignored += 1
                }
                if let s = seen[c.origin], s >= c.clock { continue }
                seen[c.origin] = c.clock
            }
            // Each touched record's domain row is written once, from its registers as they ended.
            try batch.writeRows()
            for (origin, clock) in seen { try noteSeen(origin: origin, clock: clock) }
            try saveSeq(lastSeq)
            if let peer { try savePeerVector(peer.id, peer.vector) }
            try saveClock()
            try within?(seqBefore)
            #if DEBUG
            for r in batch.records { try assertMaterialized(r.entity, r.id) }
            #endif
            return result
        }
    }

    /// Refuses a change this replica must not take.
    func check(_ c: Change) throws {
        guard let e = schema.entity(c.entity) else {
            throw SyncError(.invalid, "unknown entity '\(c.entity)' in a change from \(c.origin)")
        }
        switch e.scope {
        case .municipal:
            guard c.municipality == municipality.code else {
                throw SyncError(.wrongMunicipality, "a change from replica \(c.origin) is for municipality "
                    + "\(c.municipality ?? "none"), but this replica is for \(municipality); nothing was applied")
            }
        case .national:
            guard c.municipality == nil else {
                throw SyncError(.invalid, "\(c.entity) is national data but a change from \(c.origin) names a municipality")
            }
        }
        if c.isLifecycle {
            guard let n = c.value.integer, n >= 1 else { throw SyncError(.invalid, "a lifecycle change needs a causal length ≥ 1") }
        } else {
            guard let f = e.field(c.field), !f.localOnly else {
                throw SyncError(.invalid, "\(c.entity) has no synced field '\(c.field)' (change from \(c.origin))")
            }
            do { _ = try f.check(c.value) } catch { throw SyncError(.invalid, "change from \(c.origin): \(error.message)") }
        }
    }

    /// Applies one change to its register; returns whether it won. The record's domain row is
    /// written at the end of the batch (``ApplyBatch/writeRows()``).
    private func applyOne(_ c: Change, _ e: EntitySpec, _ batch: inout ApplyBatch, _ result: inout ApplyResult) throws -> Bool {
        let col = c.isLifecycle ? 0 : e.field(c.field)!.number
        let r = try batch.index(of: e, c.id, replica: self)
        let incoming = RegisterState(c)
        let stored = batch.records[r].register(col)
        let life = batch.records[r].register(0)
        let alive = batch.records[r].alive
        if c.isLifecycle {
            guard MergeRules.mergeLifecycle(stored: stored, incoming: incoming) == .replace else { return false }
            try writeRegister(e, c.id, col, incoming, &batch, r)
            let nowAlive = incoming.causalLength % 2 == 1
            if nowAlive, !alive {
                batch.records[r].revived = true
            } else if !nowAlive, alive {
                batch.records[r].revived = false
                // Updates the deleter had not seen lose to the delete.
                for (fieldCol, state) in batch.records[r].fieldRegisters
                where MergeRules.updateConflictsWithDelete(update: state, delete: incoming) {
                    try record(LedgerEntry(entity: e.name, id: c.id, field: e.field(number: fieldCol)?.name ?? "?",
                                           deleteWon: true, winner: incoming, loser: state, resolvedAt: lastClock), &result)
                }
            }
            return true
        }
        if let life, !alive, life.causalLength > 0, MergeRules.updateConflictsWithDelete(update: incoming, delete: life) {
            try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, deleteWon: true, winner: life, loser: incoming,
                                   resolvedAt: lastClock), &result)
        }
        switch MergeRules.mergeField(stored: stored, incoming: incoming) {
        case .replace:
            if let stored, MergeRules.isConflict(incoming, stored) {
                try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, winner: incoming, loser: stored,
                                       resolvedAt: lastClock), &result)
            }
            try writeRegister(e, c.id, col, incoming, &batch, r)
            if alive { batch.records[r].noteChanged(col) }
            return true
        case .keep:
            if let stored, MergeRules.isConflict(incoming, stored) {
                try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, winner: stored, loser: incoming,
                                       resolvedAt: lastClock), &result)
            }
            return false
        }
    }

    /// The stored register, or nil.
    func register(_ e: EntitySpec, _ id: String, _ col: Int) throws -> RegisterState? {
        try db.cached("SELECT val, hlc, site, base FROM kmk_clock WHERE tbl = ? AND pk = ? AND col = ?")
            .first([.integer(Int64(e.number)), .text(id), .integer(Int64(col))]) { row in
                RegisterState(value: row.value(0), clock: HLC(int64: row.int64(1)), origin: siteID(row.int64(2)),
                              base: HLC(int64: row.int64(3)))
            }
    }

    func fieldRegisters(_ e: EntitySpec, _ id: String) throws -> [(Int, RegisterState)] {
        try db.cached("SELECT col, val, hlc, site, base FROM kmk_clock WHERE tbl = ? AND pk = ? AND col > 0")
            .rows([.integer(Int64(e.number)), .text(id)]) { row in
                (Int(row.int64(0)), RegisterState(value: row.value(1), clock: HLC(int64: row.int64(2)),
                                                  origin: siteID(row.int64(3)), base: HLC(int64: row.int64(4))))
            }
    }

    private func writeRegister(
        _ e: EntitySpec, _ id: String, _ col: Int, _ s: RegisterState, _ batch: inout ApplyBatch, _ r: Int
    ) throws {
        let seq = lastSeq + 1
        let site: Int64
        if let last = batch.lastSite, last.replica == s.origin {
            site = last.site
        } else {
            site = try siteNumber(s.origin)
            batch.lastSite = (s.origin, site)
        }
        try batch.upsert.run { st in
            st.bind(Int64(e.number), at: 1)
            st.bind(id, at: 2)
            st.bind(Int64(col), at: 3)
            st.bind(s.value, at: 4)
            st.bind(s.clock.int64, at: 5)
            st.bind(site, at: 6)
            st.bind(s.base.int64, at: 7)
            st.bind(seq, at: 8)
        }
        lastSeq = seq  // persisted once at the end of the batch
        batch.records[r].setRegister(col, s)
    }

    private func record(_ entry: LedgerEntry, _ result: inout ApplyResult) throws {
        try db.cached("""
            INSERT OR IGNORE INTO kmk_ledger (id, entity, pk, field, delete_won, win_val, win_hlc, win_origin, lose_val, lose_hlc,
            lose_origin, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).run([.text(entry.key), .text(entry.entity), .text(entry.id), .text(entry.field),
                      .integer(entry.deleteWon ? 1 : 0), entry.winner.value,
                      .integer(entry.winner.clock.int64), .text(entry.winner.origin), entry.loser.value,
                      .integer(entry.loser.clock.int64), .text(entry.loser.origin), .integer(entry.resolvedAt.int64)])
        if db.changes > 0 { result.conflicts.append(entry) }
    }

    /// The site number of a replica id, adding it when new.
    func siteNumber(_ replica: String) throws -> Int64 {
        if let n = siteNumbers[replica] { return n }
        let n = (siteIDs.keys.max() ?? 0) + 1
        try db.cached("INSERT INTO kmk_site (site, replica) VALUES (?, ?)").run([.integer(n), .text(replica)])
        siteNumbers[replica] = n
        siteIDs[n] = replica
        return n
    }

    func siteID(_ site: Int64) -> String { siteIDs[site] ?? "unknown-site-\(site)" }

    /// Remembers the newest clock held from an origin (this replica's version vector).
    func noteSeen(origin: String, clock: HLC) throws {
        try db.cached("""
            INSERT INTO kmk_seen (origin, hlc) VALUES (?, ?)
            ON CONFLICT (origin) DO UPDATE SET hlc = max(hlc, excluded.hlc)
            """).run([.text(origin), .integer(clock.int64)])
    }

    /// The newest clock this replica holds from each origin.
    public func versionVector() throws -> [String: HLC] {
        let rows = try db.cached("SELECT origin, hlc FROM kmk_seen").rows { ($0.text(0) ?? "", HLC(int64: $0.int64(1))) }
        return Dictionary(rows, uniquingKeysWith: { max($0, $1) })
    }

    /// Checks that a record's domain row exists exactly when its causal length is odd, and holds
    /// the stored synced values (debug builds).
    func assertMaterialized(_ e: EntitySpec, _ id: String) throws {
        let alive = (try lifecycle(e, id) ?? 0) % 2 == 1
        let row = try record(e.name, id: id, includeLocal: false)
        assert(alive == (row != nil), "merge invariant: \(e.name) \(id) alive=\(alive) but row present=\(row != nil)")
        if let row {
            let stored = try storedFields(e, id)
            assert(row.fields == stored, "merge invariant: \(e.name) \(id) row differs from its registers")
        }
    }
}

/// What one batch of remote changes touched: each record's registers as stored (read once, with
/// one range query, and kept current as the batch writes them) and what its domain row needs when
/// the batch ends. A record created remotely is then one INSERT of its row, not an INSERT and an
/// UPDATE per field; the merge itself is unchanged (every change is still merged into its own
/// register, in order, by SPEC.md §7's rules).
struct ApplyBatch {
    struct Touched {
        let entity: EntitySpec
        let id: String
        /// Registers by column (0: the lifecycle); nil where none is stored.
        var registers: [RegisterState?]
        /// Whether the domain row existed when the batch began.
        let wasAlive: Bool
        /// Whether the record came alive in this batch: its row is then written whole from its registers.
        var revived = false
        /// Columns written while the record was alive (and not revived): updated in place.
        var changed: [Int] = []

        var alive: Bool { (registers[0]?.causalLength ?? 0) % 2 == 1 }

        func register(_ col: Int) -> RegisterState? { col < registers.count ? registers[col] : nil }

        mutating func setRegister(_ col: Int, _ s: RegisterState) {
            if col >= registers.count { registers += Array(repeating: nil, count: col + 1 - registers.count) }
            registers[col] = s
        }

        mutating func noteChanged(_ col: Int) {
            if !revived, !changed.contains(col) { changed.append(col) }
        }

        /// The field registers (column > 0), by column.
        var fieldRegisters: [(Int, RegisterState)] {
            registers.indices.dropFirst().compactMap { c in registers[c].map { (c, $0) } }
        }
    }

    private struct Key: Hashable {
        let tbl: Int
        let id: String
    }

    private struct UpdateKey: Hashable {
        let tbl: Int
        let cols: [Int]
    }

    let db: Database
    let upsert: Statement
    private let registersOf: Statement
    private var index: [Key: Int] = [:]
    var records: [Touched] = []
    private var updates: [UpdateKey: Statement] = [:]
    private var inserts: [Int: Statement] = [:]
    /// The site number of the last origin written (a batch mostly comes from few origins).
    var lastSite: (replica: String, site: Int64)?

    init(_ db: Database) throws {
        self.db = db
        upsert = try db.cached("""
            INSERT INTO kmk_clock (tbl, pk, col, val, hlc, site, base, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (tbl, pk, col) DO UPDATE SET val = excluded.val, hlc = excluded.hlc, site = excluded.site,
            base = excluded.base, seq = excluded.seq
            """)
        registersOf = try db.cached("SELECT col, val, hlc, site, base FROM kmk_clock WHERE tbl = ? AND pk = ?")
    }

    /// The position of a record in ``records``, reading its registers the first time.
    mutating func index(of e: EntitySpec, _ id: String, replica: Replica) throws -> Int {
        let key = Key(tbl: e.number, id: id)
        if let i = index[key] { return i }
        var registers: [RegisterState?] = Array(repeating: nil, count: (e.fields.map(\.number).max() ?? 0) + 1)
        try registersOf.each(binding: { st in
            st.bind(Int64(e.number), at: 1)
            st.bind(id, at: 2)
        }) { row in
            let col = Int(row.int64(0))
            guard col >= 0 else { return }
            if col >= registers.count { registers += Array(repeating: nil, count: col + 1 - registers.count) }
            registers[col] = RegisterState(value: row.value(1), clock: HLC(int64: row.int64(2)),
                                           origin: replica.siteID(row.int64(3)), base: HLC(int64: row.int64(4)))
        }
        let alive = (registers[0]?.causalLength ?? 0) % 2 == 1
        records.append(Touched(entity: e, id: id, registers: registers, wasAlive: alive))
        index[key] = records.count - 1
        return records.count - 1
    }

    /// Brings each touched record's domain row to its registers: deleted when it died, inserted
    /// whole when it came alive (after a delete when it also died in the batch), otherwise the
    /// changed columns updated. The same rows as merging change by change (SPEC.md §7).
    mutating func writeRows() throws {
        for r in records {
            let e = r.entity
            if r.alive {
                if r.revived {
                    if r.wasAlive { try delete(e, r.id) }
                    try insert(r)
                } else if !r.changed.isEmpty {
                    try update(r)
                }
            } else if r.wasAlive {
                try delete(e, r.id)
            }
        }
    }

    private func delete(_ e: EntitySpec, _ id: String) throws {
        try db.cached("DELETE FROM \(e.name) WHERE id = ?").run { $0.bind(id, at: 1) }
    }

    /// Inserts the row from the stored field values, null where none is stored (no column has a
    /// default, so this is the row the old per-record INSERT of the non-null fields made).
    private mutating func insert(_ r: Touched) throws {
        let e = r.entity
        let st: Statement
        if let s = inserts[e.number] {
            st = s
        } else {
            st = try db.cached("INSERT INTO \(e.name) (" + (["id"] + e.fields.map(\.name)).joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: e.fields.count + 1).joined(separator: ", ") + ")")
            inserts[e.number] = st
        }
        try st.run { st in
            st.bind(r.id, at: 1)
            for (i, f) in e.fields.enumerated() {
                if let v = r.register(f.number)?.value { st.bind(v, at: Int32(i + 2)) } else { st.bindNull(at: Int32(i + 2)) }
            }
        }
    }

    private mutating func update(_ r: Touched) throws {
        let e = r.entity
        let cols = r.changed.sorted()
        let key = UpdateKey(tbl: e.number, cols: cols)
        let st: Statement
        if let s = updates[key] {
            st = s
        } else {
            let names = cols.map { e.field(number: $0)!.name }
            st = try db.cached("UPDATE \(e.name) SET " + names.map { "\($0) = ?" }.joined(separator: ", ") + " WHERE id = ?")
            updates[key] = st
        }
        try st.run { st in
            for (i, c) in cols.enumerated() { st.bind(r.register(c)?.value ?? .null, at: Int32(i + 1)) }
            st.bind(r.id, at: Int32(cols.count + 1))
        }
    }
}
