import KMKModel
import KMKSync

/// Writes the merge ledger entries (SPEC.md §8) of one batch being applied, in groups: one
/// multi-row `INSERT OR IGNORE` per ``groupSize`` entries instead of one statement per entry. Entries are numbered in
/// the order they are added, each above every entry stored before it; an entry whose key is
/// already there (a conflict resolved twice) is not stored, and its number is not used.
struct LedgerWriter {
    /// Entries per statement.
    static let groupSize = 16

    private let db: Database
    /// The insert of a full group, prepared once per batch.
    private let group: Statement
    /// The number of the last entry stored (`kmk_meta.ledger.n`).
    private(set) var last: Int64
    private var waiting: [(entry: LedgerEntry, winner: Int64, loser: Int64)] = []

    init(_ db: Database, last: Int64) throws {
        self.db = db
        group = try db.cached(Self.insert(rows: Self.groupSize))
        self.last = last
        waiting.reserveCapacity(Self.groupSize)
    }

    /// The insert of `rows` entries, each numbered by its last parameter.
    static func insert(rows: Int) -> String {
        "INSERT OR IGNORE INTO kmk_ledger (entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, "
            + "lose_site, resolved_at, n) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    /// The number of the entry with a key (?1 to ?7 in the key's order), to tell which entries
    /// of a group that stored fewer than all were stored.
    static let numberByKey = """
        SELECT n FROM kmk_ledger
        WHERE win_hlc = ?1 AND pk = ?2 AND field = ?3 AND lose_hlc = ?4 AND win_site = ?5 AND lose_site = ?6 AND entity = ?7
        """

    /// Adds an entry, its origins as site numbers; each full group is written, and the entries it
    /// stored are appended to `stored` in the order they were added.
    mutating func add(_ entry: LedgerEntry, winner: Int64, loser: Int64, stored: inout [LedgerEntry]) throws {
        waiting.append((entry, winner, loser))
        if waiting.count == Self.groupSize { try flush(stored: &stored) }
    }

    /// Writes the entries added since the last group.
    mutating func flush(stored: inout [LedgerEntry]) throws {
        guard !waiting.isEmpty else { return }
        let first = last + 1
        let statement = waiting.count == Self.groupSize ? group : try db.prepare(Self.insert(rows: waiting.count))
        try statement.run { st in
            for (k, w) in waiting.enumerated() {
                let p = Int32(12 * k)
                st.bind(w.entry.entity, at: p + 1)
                st.bind(w.entry.id, at: p + 2)
                st.bind(w.entry.field, at: p + 3)
                st.bind(Int64(w.entry.deleteWon ? 1 : 0), at: p + 4)
                st.bind(w.entry.winner.value, at: p + 5)
                st.bind(w.entry.winner.clock.int64, at: p + 6)
                st.bind(w.winner, at: p + 7)
                st.bind(w.entry.loser.value, at: p + 8)
                st.bind(w.entry.loser.clock.int64, at: p + 9)
                st.bind(w.loser, at: p + 10)
                st.bind(w.entry.resolvedAt.int64, at: p + 11)
                st.bind(first + Int64(k), at: p + 12)
            }
        }
        // Usually every entry is new; otherwise each one's key tells whether it has its number.
        let byKey = db.changes == waiting.count ? nil : try db.cached(Self.numberByKey)
        for (k, w) in waiting.enumerated() {
            let n = first + Int64(k)
            if let byKey {
                let e = w.entry
                let found = try byKey.first([.integer(e.winner.clock.int64), .text(e.id), .text(e.field), .integer(e.loser.clock.int64),
                                             .integer(w.winner), .integer(w.loser), .text(e.entity)]) { $0.int64(0) }
                guard found == n else { continue }
            }
            stored.append(w.entry)
            last = n
        }
        waiting.removeAll(keepingCapacity: true)
    }
}
