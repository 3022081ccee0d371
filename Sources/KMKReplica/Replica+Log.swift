import KMKModel
import KMKSync

/// One entry of the change log as `kmk-sync log` shows it.
public struct LogEntry: Hashable, Sendable {
    /// The local sequence number; nil while the change is pending (not yet clocked).
    public let seq: Int64?
    /// The change itself. For a pending change the clock is zero.
    public let change: Change
}

extension Replica {
    /// The change log, newest first. The log keeps the latest write of each field (and each
    /// row's lifecycle): a field written twice shows once, with its latest value and clock.
    public func log(limit: Int) throws -> [LogEntry] {
        let rows = try db.cached("""
            SELECT c.tbl, c.pk, c.col, c.val, c.hlc, s.replica, c.base, c.seq FROM kmk_clock c
            JOIN kmk_site s ON s.site = c.site ORDER BY c.seq IS NOT NULL, c.seq DESC LIMIT ?
            """).rows([.integer(Int64(limit))]) { row in
            (row.int64(0), row.text(1) ?? "", row.int64(2), row.value(3), row.int64(4), row.text(5) ?? "", row.int64(6),
             row.isNull(7) ? nil : row.int64(7))
        }
        return rows.compactMap { tbl, pk, col, val, hlc, origin, base, seq in
            guard let change = makeChange(tbl: tbl, pk: pk, col: col, val: val, hlc: hlc, origin: origin, base: base) else {
                return nil
            }
            return LogEntry(seq: seq, change: change)
        }
    }

    /// Changes with a local sequence number above `seq`, in sequence order, at most `limit`.
    /// Local-only fields never appear: they are never captured.
    public func changes(after seq: Int64, limit: Int) throws -> [(seq: Int64, change: Change)] {
        let rows = try db.cached("""
            SELECT c.tbl, c.pk, c.col, c.val, c.hlc, s.replica, c.base, c.seq FROM kmk_clock c
            JOIN kmk_site s ON s.site = c.site WHERE c.seq > ? ORDER BY c.seq LIMIT ?
            """).rows([.integer(seq), .integer(Int64(limit))]) { row in
            (row.int64(0), row.text(1) ?? "", row.int64(2), row.value(3), row.int64(4), row.text(5) ?? "", row.int64(6),
             row.int64(7))
        }
        return rows.compactMap { tbl, pk, col, val, hlc, origin, base, seq in
            makeChange(tbl: tbl, pk: pk, col: col, val: val, hlc: hlc, origin: origin, base: base).map { (seq, $0) }
        }
    }

    /// How many changes have a sequence number above `seq`.
    public func changeCount(after seq: Int64) throws -> Int {
        Int(try db.cached("SELECT count(*) FROM kmk_clock WHERE seq > ?").first([.integer(seq)]) { $0.int64(0) } ?? 0)
    }

    func makeChange(tbl: Int64, pk: String, col: Int64, val: Value, hlc: Int64, origin: String, base: Int64) -> Change? {
        guard let e = schema.entity(number: Int(tbl)) else { return nil }
        let field: String
        if col == 0 {
            field = Change.lifecycleField
        } else {
            guard let f = e.field(number: Int(col)), !f.localOnly else { return nil }
            field = f.name
        }
        return Change(entity: e.name, id: pk, field: field, value: val, clock: HLC(int64: hlc), origin: origin,
                      base: HLC(int64: base), municipality: e.scope == .municipal ? municipality.code : nil)
    }
}
