import KMKModel
import KMKSync

/// One batch the hub applied, as `kmk-sync hub audit` lists it (SPEC.md §11.8).
public struct HubBatchRecord: Hashable, Sendable {
    /// The batch's row in the hub (not the replica's batch number).
    public var id: Int64
    /// When the hub applied it (ms since 1970).
    public var at: UInt64
    /// The id of the token that sent it (nil: applied in-process, without a token), and its label.
    public var token: String?
    public var label: String?
    /// The replica the batch said it came from, and the municipality (or `styrgrupp`) of the token.
    public var replica: String
    public var scope: String
    /// The replica's own batch number.
    public var batch: Int64
    /// The changes the batch held, and how many of them won.
    public var changes: Int
    public var applied: Int
}

/// One register of a record as the hub holds it, with the batch that wrote its current value.
public struct HubAuditRegister: Hashable, Sendable {
    /// The register as a change line (§6).
    public var change: Change
    /// Nil when the value was written before the hub kept batches.
    public var batch: HubBatchRecord?
}

extension HubStore {
    static let batchColumns = """
        b.id, b.at, b.token, t.label, b.replica, b.municipality, b.batch, b.changes, b.applied
        """

    /// The newest `limit` batches, newest first; of one municipality (a kommunkod or `styrgrupp`)
    /// when given. One row per batch, so the audit costs the same however many changes a batch held.
    public func auditBatches(municipality: String?, limit: Int) throws -> [HubBatchRecord] {
        let from = "SELECT \(HubStore.batchColumns) FROM hub_batch b LEFT JOIN hub_token t ON t.id = b.token"
        if let municipality {
            return try db.cached(from + " WHERE b.municipality = ? ORDER BY b.id DESC LIMIT ?")
                .rows([.text(municipality), .integer(Int64(max(1, limit)))]) { HubStore.batchRecord($0, at: 0) }
        }
        return try db.cached(from + " ORDER BY b.id DESC LIMIT ?").rows([.integer(Int64(max(1, limit)))]) {
            HubStore.batchRecord($0, at: 0)
        }
    }

    /// Every register of the records with id `id` (of any entity; records are keyed by entity and
    /// id), each with the batch that wrote its current value; of one municipality when given.
    public func auditRecord(_ id: String, municipality: String?) throws -> [HubAuditRegister] {
        // One key lookup per entity (the key is (tbl, pk, col)), not a scan of every register.
        let tables = schema.entities.map { String($0.number) }.joined(separator: ", ")
        return try snapshot {
            try db.cached("""
                SELECT r.tbl, r.pk, r.col, r.muni, r.val, r.hlc, r.site, r.base, \(HubStore.batchColumns)
                FROM hub_register r LEFT JOIN hub_batch b ON b.id = r.batch LEFT JOIN hub_token t ON t.id = b.token
                WHERE r.tbl IN (\(tables)) AND r.pk = ? ORDER BY r.tbl, r.col
                """).rows([.text(id.lowercased())]) { row -> HubAuditRegister? in
                let muni = row.isNull(3) ? nil : row.text(3)
                if let municipality, muni != municipality { return nil }
                guard let change = change(tbl: row.int64(0), pk: row.text(1) ?? "", col: row.int64(2), muni: muni, val: row.value(4),
                                          hlc: row.int64(5), site: row.int64(6), base: row.int64(7)) else { return nil }
                return HubAuditRegister(change: change, batch: row.isNull(8) ? nil : HubStore.batchRecord(row, at: 8))
            }.compactMap { $0 }
        }
    }

    static func batchRecord(_ row: Statement, at i: Int32) -> HubBatchRecord {
        HubBatchRecord(id: row.int64(i), at: UInt64(row.int64(i + 1)), token: row.text(i + 2), label: row.text(i + 3),
                       replica: row.text(i + 4) ?? "", scope: row.text(i + 5) ?? "", batch: row.int64(i + 6),
                       changes: Int(row.int64(i + 7)), applied: Int(row.int64(i + 8)))
    }
}
