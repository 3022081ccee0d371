import KMKModel
import KMKSync

/// Writes the merge ledger entries (SPEC.md §8) of one batch being applied, in groups: one
/// multi-row `INSERT OR IGNORE` per ``groupSize`` entries instead of one statement per entry.
/// Entries are numbered in the order they are added, each above every entry stored before it;
/// an entry whose key is already there (a conflict resolved twice) is not stored, and its number
/// is not used.
///
/// The entries themselves live in the caller's list of stored entries from the moment they are
/// added (so that each is copied once); a group that stores fewer than all takes the others out.
struct LedgerWriter {
    /// Entries per statement.
    static let groupSize = 16

    private let db: Database
    /// The insert of a full group, prepared once per batch.
    private let group: Statement
    /// The number of the last entry stored (`kmk_meta.ledger.n`).
    private(set) var last: Int64
    /// The entries not yet written: their positions in the caller's list and their origins' site numbers.
    private var waiting: [(at: Int, winner: Int64, loser: Int64)] = []
    /// The texts of the group being written, bound without SQLite copying them (one buffer
    /// instead of a copy per text), and where each parameter's text is in it.
    private var texts: [UInt8] = []
    private var spans: [(parameter: Int32, start: Int, count: Int)] = []
    /// The last winner's and loser's site numbers (a batch's conflicts usually name the same two origins).
    private var winners = ApplyBatch.SiteCache()
    private var losers = ApplyBatch.SiteCache()

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

    /// Adds an entry to `stored`, the list of stored entries, its origins as site numbers (`site`
    /// gives one); each full group is written. `stored` must be the same list at every call and
    /// at ``flush(stored:)``.
    mutating func add(_ entry: LedgerEntry, site: (String) throws -> Int64, stored: inout [LedgerEntry]) throws {
        let winner = try winners.number(entry.winner.origin, site)
        let loser = try losers.number(entry.loser.origin, site)
        stored.append(entry)
        waiting.append((stored.count - 1, winner, loser))
        if waiting.count == Self.groupSize { try flush(stored: &stored) }
    }

    /// Writes the entries added since the last group; those whose key was already there leave `stored`.
    mutating func flush(stored: inout [LedgerEntry]) throws {
        guard !waiting.isEmpty else { return }
        let first = last + 1
        let statement = waiting.count == Self.groupSize ? group : try db.prepare(Self.insert(rows: waiting.count))
        texts.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        func text(_ s: String, _ parameter: Int32) {
            let start = texts.count
            texts.append(contentsOf: s.utf8)
            spans.append((parameter, start, texts.count - start))
        }
        for (k, w) in waiting.enumerated() {
            let p = Int32(12 * k)
            text(stored[w.at].entity, p + 1)
            text(stored[w.at].id, p + 2)
            text(stored[w.at].field, p + 3)
            if case .text(let s) = stored[w.at].winner.value { text(s, p + 5) }
            if case .text(let s) = stored[w.at].loser.value { text(s, p + 8) }
        }
        texts.append(0)
        try texts.withUnsafeBufferPointer { buffer in
            // The texts' bindings go before the buffer can change, whether the insert ran or threw.
            defer { statement.reset() }
            let base = buffer.baseAddress!
            try statement.run { st in
                for span in spans { st.bind(unsafeText: base + span.start, count: span.count, at: span.parameter) }
                for (k, w) in waiting.enumerated() {
                    let p = Int32(12 * k)
                    st.bind(Int64(stored[w.at].deleteWon ? 1 : 0), at: p + 4)
                    if case .text = stored[w.at].winner.value {} else { st.bind(stored[w.at].winner.value, at: p + 5) }
                    st.bind(stored[w.at].winner.clock.int64, at: p + 6)
                    st.bind(w.winner, at: p + 7)
                    if case .text = stored[w.at].loser.value {} else { st.bind(stored[w.at].loser.value, at: p + 8) }
                    st.bind(stored[w.at].loser.clock.int64, at: p + 9)
                    st.bind(w.loser, at: p + 10)
                    st.bind(stored[w.at].resolvedAt.int64, at: p + 11)
                    st.bind(first + Int64(k), at: p + 12)
                }
            }
        }
        if db.changes == waiting.count {
            last = first + Int64(waiting.count - 1)
        } else {
            // Each entry's key tells whether it has its number; the others go, last first.
            let byKey = try db.cached(Self.numberByKey)
            var kept: [Bool] = []
            for (k, w) in waiting.enumerated() {
                let e = stored[w.at]
                let found = try byKey.first([.integer(e.winner.clock.int64), .text(e.id), .text(e.field), .integer(e.loser.clock.int64),
                                             .integer(w.winner), .integer(w.loser), .text(e.entity)]) { $0.int64(0) }
                kept.append(found == first + Int64(k))
                if found == first + Int64(k) { last = first + Int64(k) }
            }
            for (k, w) in waiting.enumerated().reversed() where !kept[k] { stored.remove(at: w.at) }
        }
        waiting.removeAll(keepingCapacity: true)
    }
}
