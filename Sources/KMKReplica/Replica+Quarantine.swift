import KMKModel
import KMKSync

/// A change kept in the quarantine (``Replica/quarantine()``), as listed by `status` and `check`.
public struct QuarantineEntry: Hashable, Sendable {
    /// Its number in the quarantine.
    public var n: Int64
    /// When it was set aside (ms since 1970) and where it came from (`pull`, `bundle FILE`).
    public var at: UInt64
    public var source: String
    public var change: QuarantinedChange
}

extension Replica {
    /// The quarantine's table (SPEC.md §2); files made before it have it made when first needed.
    static let quarantineTable = """
        CREATE TABLE IF NOT EXISTS kmk_quarantine (
            n INTEGER PRIMARY KEY, at INTEGER NOT NULL, source TEXT NOT NULL, change TEXT NOT NULL UNIQUE, reason TEXT NOT NULL,
            entity TEXT, pk TEXT, field TEXT
        ) STRICT;
        """

    /// Keeps changes this replica cannot apply, with their reasons (inside the caller's
    /// transaction). A change already kept is kept once, with its newest reason.
    func saveQuarantine(_ changes: [QuarantinedChange], source: String) throws {
        guard !changes.isEmpty else { return }
        try db.execute(Replica.quarantineTable)
        let put = try db.cached("""
            INSERT INTO kmk_quarantine (at, source, change, reason, entity, pk, field) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (change) DO UPDATE SET reason = excluded.reason
            """)
        for q in changes {
            try put.run([.integer(Int64(now())), .text(source), .text(q.text), .text(q.reason),
                         q.entity.map(Value.text) ?? .null, q.id.map(Value.text) ?? .null, q.field.map(Value.text) ?? .null])
        }
    }

    /// Whether the file has a quarantine table (files made before it have none until needed).
    private func hasQuarantineTable() throws -> Bool {
        try db.cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kmk_quarantine'").first { _ in true } ?? false
    }

    /// The changes set aside because this replica cannot apply them, oldest first. Reads only.
    public func quarantine(limit: Int = 1_000) throws -> [QuarantineEntry] {
        guard try hasQuarantineTable() else { return [] }
        return try db.cached("SELECT n, at, source, change, reason, entity, pk, field FROM kmk_quarantine ORDER BY n LIMIT ?")
            .rows([.integer(Int64(limit))]) { row in
                QuarantineEntry(n: row.int64(0), at: UInt64(max(0, row.int64(1))), source: row.text(2) ?? "",
                                change: QuarantinedChange(text: row.text(3) ?? "", reason: row.text(4) ?? "", entity: row.text(5),
                                                          id: row.text(6), field: row.text(7)))
            }
    }

    /// How many changes are set aside. Reads only.
    public func quarantineCount() throws -> Int {
        guard try hasQuarantineTable() else { return 0 }
        return Int(try db.cached("SELECT count(*) FROM kmk_quarantine").first { $0.int64(0) } ?? 0)
    }

    /// What to do when this replica's checksum differs from the hub's (SPEC.md §10): changes set
    /// aside explain it; changes waiting, or newer ones on the hub, a sync repairs; anything else
    /// a full resync.
    public func differenceAdvice(pending: Int) throws -> String {
        let setAside = try quarantineCount()
        if setAside > 0 {
            return "\(setAside) change\(setAside == 1 ? "" : "s") from the hub \(setAside == 1 ? "is" : "are") set aside here "
                + "(see the quarantine), which a sync cannot change; an upgrade of kmk-sync or a repair on the hub (kmk-sync hub check) can"
        }
        if pending > 0 { return "run kmk-sync sync, then check again" }
        return "run kmk-sync sync, then check again; if they still differ, run kmk-sync sync --full"
    }

    /// Tries the quarantined changes again (at the start of every pull: after an upgrade, or once
    /// the reason is gone, they may apply): those that now decode and pass the checks are applied
    /// and leave the quarantine; the others stay, with their reasons brought up to date. Returns
    /// what the apply did.
    @discardableResult
    public func retryQuarantine(maxDrift: UInt64 = Replica.defaultMaxDrift) throws -> ApplyResult {
        let kept = try quarantine(limit: 100_000)
        guard !kept.isEmpty else { return ApplyResult() }
        var changes: [Change] = []
        var applying: [String] = []
        var still: [QuarantinedChange] = []
        for entry in kept {
            var q = entry.change
            do {
                let c = try Change(json: try JSONValue.parse(q.text), schema: schema)
                _ = try check(c, schema.entity(c.entity))
                changes.append(c)
                applying.append(q.text)
            } catch let e as SyncError {
                q.reason = e.message
                still.append(q)
            } catch {
                still.append(q)
            }
        }
        guard !changes.isEmpty else { return ApplyResult() }
        // Those still refused stay, with their reasons brought up to date; the others leave.
        return try apply(changes, maxDrift: maxDrift, quarantine: still, source: "retry") { _ in
            let remove = try self.db.cached("DELETE FROM kmk_quarantine WHERE change = ?")
            for text in applying { try remove.run([.text(text)]) }
        }
    }
}
