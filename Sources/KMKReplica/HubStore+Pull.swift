import KMKModel
import KMKSync

extension HubStore {
    /// How a pull request ended.
    public enum PullOutcome: Hashable, Sendable {
        case page(PullPage)
        /// The cursor is not from this hub's current history; the reason says why.
        case stale(String)
    }

    /// The changes after `cursor` (nil: from the start) that `scope` may read, in hub order, at
    /// most `limit`. With `nationalOnly`, only national reference data (the styrgrupp's national
    /// replica pulls so).
    public func pull(cursor text: String?, scope: HubScope, limit: Int, nationalOnly: Bool = false) throws -> PullOutcome {
        // One read transaction: the page, the newest number and the tags are of one moment, even
        // while another process (a second hub) writes the file.
        try snapshot { try pullInSnapshot(cursor: text, scope: scope, limit: limit, nationalOnly: nationalOnly) }
    }

    private func pullInSnapshot(cursor text: String?, scope: HubScope, limit: Int, nationalOnly: Bool) throws -> PullOutcome {
        let lastSeq = try storedSeq()
        var after: Int64 = 0
        if let text, !text.isEmpty {
            guard let cursor = HubCursor(text: text) else { return .stale("the cursor is not one this hub issued") }
            guard cursor.hub == hubID else {
                return .stale("the cursor is from hub \(cursor.hub), but this is hub \(hubID)")
            }
            guard cursor.seq <= lastSeq else {
                return .stale("the cursor is ahead of this hub (it was restored from an older backup)")
            }
            // An empty hub issues sequence 0 with the tag "0"; any other tag was never issued.
            if cursor.seq == 0 ? cursor.tag != "0" : try tag(of: cursor.seq) != cursor.tag {
                return .stale("the cursor's history differs from this hub's (it was restored from an older backup)")
            }
            after = cursor.seq
        }
        let limit = max(1, limit)
        let rows: [(Int64, Change?)]
        switch scope {
        case _ where nationalOnly:
            rows = try db.cached("""
                SELECT seq, tbl, pk, col, muni, val, hlc, site, base FROM hub_register
                WHERE seq > ? AND muni IS NULL ORDER BY seq LIMIT ?
                """).rows([.integer(after), .integer(Int64(limit + 1))]) { self.registerRow($0) }
        case .styrgrupp:
            rows = try db.cached("""
                SELECT seq, tbl, pk, col, muni, val, hlc, site, base FROM hub_register WHERE seq > ? ORDER BY seq LIMIT ?
                """).rows([.integer(after), .integer(Int64(limit + 1))]) { self.registerRow($0) }
        case .municipality(let code):
            // Two ordered range scans of (muni, seq), merged: each reads at most limit + 1 rows.
            // (With `muni = ? OR muni IS NULL` SQLite reads every row after the cursor and sorts
            // them, so each page cost grew with what was left to pull.)
            rows = try db.cached("""
                SELECT * FROM (SELECT seq, tbl, pk, col, muni, val, hlc, site, base FROM hub_register
                               WHERE muni = ?2 AND seq > ?1 ORDER BY seq LIMIT ?3)
                UNION ALL
                SELECT * FROM (SELECT seq, tbl, pk, col, muni, val, hlc, site, base FROM hub_register
                               WHERE muni IS NULL AND seq > ?1 ORDER BY seq LIMIT ?3)
                ORDER BY 1 LIMIT ?3
                """).rows([.integer(after), .text(code), .integer(Int64(limit + 1))]) { self.registerRow($0) }
        }
        let more = rows.count > limit
        let page = rows.prefix(limit)
        let next: HubCursor
        if more, let last = page.last?.0 {
            next = HubCursor(hub: hubID, seq: last, tag: try tag(of: last) ?? "")
        } else {
            // Nothing more for this scope: jump to the newest number so the next pull skips
            // other municipalities' changes.
            next = HubCursor(hub: hubID, seq: lastSeq, tag: lastSeq == 0 ? "0" : try tag(of: lastSeq) ?? "")
        }
        return .page(PullPage(hub: hubID, schema: schema.version, changes: page.compactMap(\.1), cursor: next.text, more: more))
    }

    /// Runs `body` in one read transaction (a consistent view of the file).
    func snapshot<T>(_ body: () throws -> T) throws -> T {
        try db.execute("BEGIN")
        do {
            let result = try body()
            try db.execute("COMMIT")
            return result
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    /// SQLite's virtual-machine steps since the last call (see ``Database/takeVMSteps()``); for
    /// tests that check a pull's work does not grow with the history.
    package func takeVMSteps() -> Int64 { db.takeVMSteps() }

    private func registerRow(_ row: Statement) -> (Int64, Change?) {
        (row.int64(0), change(tbl: row.int64(1), pk: row.text(2) ?? "", col: row.int64(3), muni: row.isNull(4) ? nil : row.text(4),
                              val: row.value(5), hlc: row.int64(6), site: row.int64(7), base: row.int64(8)))
    }

    /// The tag of the commit that issued sequence number `seq`.
    func tag(of seq: Int64) throws -> String? {
        try db.cached("SELECT tag, last_seq FROM hub_commit WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1")
            .first([.integer(seq)]) { row in row.int64(1) >= seq ? row.text(0) : nil } ?? nil
    }

    /// The checksum of one municipality's records as the hub holds them (see ``ChangeSetChecksum``),
    /// and how many registers it covers.
    /// `national` names the national reference data.
    public func checksum(municipality: String) throws -> (checksum: String, count: Int) {
        let select = "SELECT 0, tbl, pk, col, muni, val, hlc, site, base FROM hub_register WHERE "
        let changes = municipality == "national"
            ? try db.cached(select + "muni IS NULL").rows { self.registerRow($0) }.compactMap(\.1)
            : try db.cached(select + "muni = ?").rows([.text(municipality)]) { self.registerRow($0) }.compactMap(\.1)
        return (ChangeSetChecksum.hex(changes, schema: schema), changes.count)
    }

    /// Per municipality: the records alive of each entity, the replicas that pushed and the
    /// newest push. National data is listed under the municipality "national".
    public func summary(scope: HubScope) throws -> [HubSummaryRow] {
        var rows: [String: HubSummaryRow] = [:]
        let alive = try db.cached("""
            SELECT coalesce(muni, 'national'), tbl, count(*) FROM hub_register WHERE col = 0 AND val % 2 = 1 GROUP BY 1, 2
            """).rows { ($0.text(0) ?? "", $0.int64(1), Int($0.int64(2))) }
        for (muni, tbl, alive) in alive {
            guard let e = schema.entity(number: Int(tbl)) else { continue }
            rows[muni, default: HubSummaryRow(municipality: muni)].records[e.name] = alive
        }
        let pushes = try db.cached("""
            SELECT municipality, count(*), max(last_push_at) FROM hub_replica GROUP BY 1
            """).rows { ($0.text(0) ?? "", Int($0.int64(1)), UInt64($0.int64(2))) }
        for (muni, replicas, lastPush) in pushes {
            rows[muni, default: HubSummaryRow(municipality: muni)].replicas = replicas
            rows[muni, default: HubSummaryRow(municipality: muni)].lastPush = lastPush
        }
        return rows.values.filter { scope.mayRead(municipality: $0.municipality == "national" ? nil : $0.municipality) }
            .sorted { $0.municipality < $1.municipality }
    }

    /// How many registers the hub holds, and the newest sequence number.
    /// The scope a replica pushes under and the last batch applied from it; nil when it never pushed.
    public func replica(_ id: String) throws -> (scope: String, lastBatch: Int64)? {
        try db.cached("SELECT municipality, last_batch FROM hub_replica WHERE replica = ?").first([.text(id)]) {
            ($0.text(0) ?? "", $0.int64(1))
        }
    }

    public func counts() throws -> (registers: Int, seq: Int64) {
        try snapshot { (Int(try db.cached("SELECT count(*) FROM hub_register").first { $0.int64(0) } ?? 0), try storedSeq()) }
    }
}

/// One municipality's line in the hub's national summary.
public struct HubSummaryRow: Hashable, Sendable {
    /// A kommunkod, or "national" for national reference data.
    public var municipality: String
    /// Records alive, by entity name.
    public var records: [String: Int] = [:]
    /// Replicas that pushed for this municipality.
    public var replicas = 0
    /// When the newest push arrived (ms since 1970), 0 when none.
    public var lastPush: UInt64 = 0
}
