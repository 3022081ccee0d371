import KMKModel
import KMKSync

extension Replica {
    /// Merge ledger entries, oldest first; only those resolved at or after `since` (ms since 1970) when given.
    public func conflicts(since: UInt64?) throws -> [LedgerEntry] {
        let from = HLC(millis: since ?? 0, counter: 0).int64
        return try db.cached("""
            SELECT entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, lose_site, resolved_at
            FROM kmk_ledger WHERE resolved_at >= ? ORDER BY resolved_at, n
            """).rows([.integer(from)]) { row in
            LedgerEntry(entity: row.text(0) ?? "", id: row.text(1) ?? "", field: row.text(2) ?? "",
                        deleteWon: row.int64(3) != 0,
                        winner: RegisterState(value: row.value(4), clock: HLC(int64: row.int64(5)), origin: siteID(row.int64(6)),
                                              base: .zero),
                        loser: RegisterState(value: row.value(7), clock: HLC(int64: row.int64(8)), origin: siteID(row.int64(9)),
                                             base: .zero),
                        resolvedAt: HLC(int64: row.int64(10)))
        }
    }
}
