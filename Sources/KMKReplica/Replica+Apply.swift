import KMKModel
import KMKSync

/// What applying a batch of remote changes did.
public struct ApplyResult: Hashable, Sendable {
    /// Changes that won and were written.
    public var applied = 0
    /// Changes that lost, or were already here.
    public var ignored = 0
    /// Changes set aside in the quarantine (SPEC.md §6): this replica cannot apply them.
    public var quarantined = 0
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
    /// change keeps its origin and clock, and each record written takes a new local sequence
    /// number (SPEC.md §4), so it is passed on.
    /// `within` runs last inside the same transaction (e.g. to store a pull cursor), given the
    /// sequence number before the batch.
    ///
    /// With `quarantine` (a pull page or a bundle: SPEC.md §6) a change this replica cannot apply
    /// does not refuse the batch: it joins `quarantine`, which is kept in `kmk_quarantine` with
    /// its reason in the same transaction, and the others are applied.
    @discardableResult
    public func apply(
        _ changes: [Change], maxDrift: UInt64 = Replica.defaultMaxDrift, peer: (id: String, vector: [String: HLC])? = nil,
        quarantine: [QuarantinedChange]? = nil, source: String = "pull",
        within: ((_ seqBefore: Int64) throws -> Void)? = nil
    ) throws -> ApplyResult {
        let wall = now()
        // Each change's register number, found while checking it.
        var registers: [Int] = []
        registers.reserveCapacity(changes.count)
        var lastEntity: EntitySpec?
        var usable = changes
        var setAside = quarantine ?? []
        var refused: [Int] = []
        for (k, c) in changes.enumerated() {
            if lastEntity?.name != c.entity { lastEntity = schema.entity(c.entity) }
            do {
                registers.append(try check(c, lastEntity))
            } catch let e as SyncError where quarantine != nil {
                setAside.append(QuarantinedChange(c, reason: e.message, schema: schema))
                refused.append(k)
                continue
            }
            if c.clock.millis > wall, c.clock.millis - wall > maxDrift {
                throw ClockError(origin: c.origin, remote: c.clock, now: wall, maxDrift: maxDrift)
            }
        }
        if !refused.isEmpty {
            for k in refused.reversed() { usable.remove(at: k) }
        }
        do {
            var result = try applyInTransaction(usable, registers: registers, wall: wall, maxDrift: maxDrift, peer: peer) { seqBefore in
                try self.saveQuarantine(setAside, source: source)
                try within?(seqBefore)
            }
            result.quarantined = setAside.count
            return result
        } catch {
            try reloadCounters()
            throw error
        }
    }

    private func applyInTransaction(
        _ changes: [Change], registers: [Int], wall: UInt64, maxDrift: UInt64, peer: (id: String, vector: [String: HLC])?,
        within: ((_ seqBefore: Int64) throws -> Void)?
    ) throws -> ApplyResult {
        try db.transaction {
            // Edits other programs made since the last kmk-sync transaction get their clocks and
            // numbers first, while the push mark is where it is (SPEC.md §4): a record left pending
            // could otherwise fall behind a mark moved below (``applyPulled(_:maxDrift:)``).
            try stampPendingInTransaction()
            // Read inside the transaction: another process may have written since this one last did.
            let seqBefore = lastSeq
            db.setTriggersEnabled(false)
            defer { db.setTriggersEnabled(true) }
            var result = ApplyResult()
            let pushed = try meta("push.seq").integer ?? 0
            var batch = ApplyBatch(db)
            // Every record the batch touches is read first, one query per entity; `at` holds
            // each change's record.
            let at = try batch.load(changes, registers: registers, table: { logTable(schema.entity($0)!) }, replica: self)
            var ledger = try LedgerWriter(db, last: try meta("ledger.n").integer ?? 0)
            let ledgerBefore = ledger.last
            // The version vector and the sequence counter are written once per batch, not per change.
            var seen: [String: HLC] = [:]
            var lastSeen: (origin: String, clock: HLC)?
            for (k, c) in changes.enumerated() {
                lastClock = try lastClock.receive(c.clock, now: wall, maxDrift: maxDrift, origin: c.origin)
                let r = at[k]
                if try applyOne(c, registers[k], batch.entity(r), r, &batch, &ledger, &result) {
                    result.applied += 1
                } else {
                    result.ignored += 1
                }
                // Changes from one origin usually come in a run, in clock order.
                if let l = lastSeen, l.origin == c.origin, l.clock >= c.clock { continue }
                if let s = seen[c.origin], s >= c.clock {
                    lastSeen = (c.origin, s)
                    continue
                }
                seen[c.origin] = c.clock
                lastSeen = (c.origin, c.clock)
            }
            try ledger.flush(stored: &result.conflicts)
            // Each touched record's row, with its register columns, is written once, from its registers
            // as they ended; each record written gets one new sequence number.
            lastSeq = try batch.writeRows(lastSeq: lastSeq, pushed: pushed, site: siteNumber)
            for (origin, clock) in seen { try noteSeen(origin: origin, clock: clock) }
            if ledger.last != ledgerBefore { try setMeta("ledger.n", .integer(ledger.last)) }
            try saveSeq(lastSeq)
            if let peer { try savePeerVector(peer.id, peer.vector) }
            try saveClock()
            try within?(seqBefore)
            #if DEBUG
            for r in batch.records.indices { try assertMaterialized(batch.entity(r), batch.records[r].id) }
            #endif
            return result
        }
    }

    /// Refuses a change this replica must not take; returns its register number (0 for the
    /// lifecycle, else the field's number). `entity` is the change's entity, nil when unknown.
    func check(_ c: Change, _ entity: EntitySpec?) throws -> Int {
        guard let e = entity else {
            throw SyncError(.invalid, "unknown entity '\(c.entity)' in a change from \(c.origin)")
        }
        switch e.scope {
        case .municipal:
            guard c.municipality == municipality.code else {
                throw SyncError(.wrongMunicipality, "\(c.entity) \(c.id) belongs to municipality \(c.municipality ?? "none"), "
                    + "but this replica is for \(municipality); a replica applies only its own municipality's records")
            }
            // A municipality's profile record is the one whose id is its kommunkod (SPEC.md §1).
            if e.name == EntitySpec.municipality.name, c.id != municipality.code {
                throw SyncError(.wrongMunicipality, "municipality \(c.id) is another municipality's profile record; "
                    + "this replica is for \(municipality) and holds only its own (id \(municipality.code))")
            }
        case .national:
            guard c.municipality == nil else {
                throw SyncError(.invalid, "\(c.entity) is national data but a change from \(c.origin) names a municipality")
            }
        }
        if c.isLifecycle {
            guard let n = c.value.integer, n >= 1 else { throw SyncError(.invalid, "a lifecycle change needs a causal length ≥ 1") }
            return 0
        }
        guard let f = e.field(c.field), !f.localOnly else {
            throw SyncError(.invalid, "\(c.entity) has no synced field '\(c.field)' (change from \(c.origin))")
        }
        do { _ = try f.check(c.value) } catch { throw SyncError(.invalid, "change from \(c.origin): \(error.message)") }
        return f.number
    }

    /// Applies one change to its register; returns whether it won. The record's domain row is
    /// written at the end of the batch (``ApplyBatch/writeRows(lastSeq:pushed:site:)``).
    private func applyOne(
        _ c: Change, _ col: Int, _ e: EntitySpec, _ r: Int, _ batch: inout ApplyBatch, _ ledger: inout LedgerWriter,
        _ result: inout ApplyResult
    ) throws -> Bool {
        let incoming = RegisterState(c)
        let stored = batch.records[r].register(col)
        let life = batch.records[r].register(0)
        let alive = batch.records[r].alive
        if c.isLifecycle {
            guard MergeRules.mergeLifecycle(stored: stored, incoming: incoming) == .replace else { return false }
            batch.records[r].setRegister(col, incoming)
            let nowAlive = incoming.causalLength % 2 == 1
            if nowAlive, !alive {
                batch.records[r].revived = true
            } else if !nowAlive, alive {
                batch.records[r].revived = false
                // Updates the deleter had not seen lose to the delete.
                for (fieldCol, state) in batch.records[r].fieldRegisters
                where MergeRules.updateConflictsWithDelete(update: state, delete: incoming) {
                    try record(LedgerEntry(entity: e.name, id: c.id, field: e.field(number: fieldCol)?.name ?? "?",
                                           deleteWon: true, winner: incoming, loser: state, resolvedAt: lastClock), &ledger, &result)
                }
            }
            return true
        }
        if let life, !alive, life.causalLength > 0, MergeRules.updateConflictsWithDelete(update: incoming, delete: life) {
            try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, deleteWon: true, winner: life, loser: incoming,
                                   resolvedAt: lastClock), &ledger, &result)
        }
        switch MergeRules.mergeField(stored: stored, incoming: incoming) {
        case .replace:
            if let stored, MergeRules.isConflict(incoming, stored) {
                try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, winner: incoming, loser: stored,
                                       resolvedAt: lastClock), &ledger, &result)
            }
            batch.records[r].setRegister(col, incoming)
            if alive { batch.records[r].noteChanged(col) }
            return true
        case .keep:
            if let stored, MergeRules.isConflict(incoming, stored) {
                try record(LedgerEntry(entity: e.name, id: c.id, field: c.field, winner: stored, loser: incoming,
                                       resolvedAt: lastClock), &ledger, &result)
            }
            return false
        }
    }

    /// Adds a merge ledger entry (written in groups, ``LedgerWriter``); the entries stored,
    /// those whose key was not there yet, join `result.conflicts`.
    private func record(_ entry: LedgerEntry, _ ledger: inout LedgerWriter, _ result: inout ApplyResult) throws {
        try ledger.add(entry, site: siteNumber, stored: &result.conflicts)
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

