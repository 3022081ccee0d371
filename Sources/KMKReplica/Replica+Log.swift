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
    /// Pending changes come first; changes that share a sequence number (one record's) newest
    /// clock first.
    public func log(limit: Int) throws -> [LogEntry] {
        // A register's sequence number is at most its record's, so the newest `limit` records of
        // each table hold the newest `limit` registers.
        var entries: [LogEntry] = []
        for t in logTables {
            let st = try db.cached("SELECT * FROM (\(t.select("true"))) ORDER BY pend = 0, seq DESC LIMIT ?1")
            try st.each(binding: { $0.bind(Int64(limit), at: 1) }) { row in
                for (seq, change) in try logChanges(t, row, after: nil) { entries.append(LogEntry(seq: seq, change: change)) }
            }
        }
        entries.sort { a, b in
            switch (a.seq, b.seq) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?): return x != y ? x > y : a.change.clock > b.change.clock
            }
        }
        return Array(entries.prefix(limit))
    }

    /// Changes with a local sequence number above `seq`, in sequence order, at most `limit`, and
    /// never part of the changes of a record that share one number (SPEC.md §4), so a push that
    /// stops at the last number returned leaves nothing of it behind. (A single record with more
    /// changes than `limit` is returned whole.)
    /// Local-only fields never appear: they are never captured.
    public func changes(after seq: Int64, limit: Int) throws -> [(seq: Int64, change: Change)] {
        // A k-way merge of each table's records in sequence order, read one row at a time.
        var cursors: [(LogTable, Statement)] = []
        defer { for (_, st) in cursors { st.reset() } }
        var heads: [Int64?] = []
        for t in logTables {
            let st = try db.cached(t.selectAfter)
            st.reset()
            st.bind(seq, at: 1)
            cursors.append((t, st))
            heads.append(try st.step() ? st.int64(2) : nil)
        }
        var out: [(seq: Int64, change: Change)] = []
        while out.count < limit {
            var next: Int?
            for (i, h) in heads.enumerated() {
                guard let h else { continue }
                if let n = next, heads[n]! <= h { continue }
                next = i
            }
            guard let i = next else { break }
            let (t, st) = cursors[i]
            let recordSeq = heads[i]!
            let record = try logChanges(t, st, after: seq)
            if !out.isEmpty, out.count + record.count > limit { break }
            for (_, change) in record { out.append((recordSeq, change)) }
            heads[i] = try st.step() ? st.int64(2) : nil
        }
        return out
    }

    /// How many changes have a sequence number above `seq`.
    public func changeCount(after seq: Int64) throws -> Int {
        var total: Int64 = 0
        for t in logTables { total += try db.cached(t.count).first([.integer(seq)]) { $0.int64(0) } ?? 0 }
        return Int(total)
    }

    /// The changes of one record row of ``LogTable/select(_:order:)``: its registers that were written,
    /// with a sequence number above `after` when given (pending ones have none). Lifecycle first.
    /// A row whose registers cannot be read (a damaged `regs` blob) is an error.
    func logChanges(_ t: LogTable, _ row: Statement, after: Int64?) throws -> [(Int64?, Change)] {
        let e = t.entity
        guard let registers = row.registerRow(at: LogTable.registerColumn, count: t.registers.count) else {
            throw ReplicaError.damagedRegisters(path, e.name, row.text(0) ?? "?")
        }
        let id = row.text(0) ?? ""
        let municipalityCode = e.scope == .municipal ? municipality.code : nil
        var out: [(Int64?, Change)] = []
        for (i, n) in t.registers.enumerated() {
            guard let d = registers.decoded(i) else { continue }
            let seq: Int64? = d.q < 0 ? nil : d.q
            if let after, (seq ?? Int64.min) <= after { continue }
            let field = n == 0 ? Change.lifecycleField : t.fields[i - 1].name
            let value = n == 0 ? Value.integer(registers.cl) : row.value(t.valueColumn(i - 1))
            out.append((seq, Change(entity: e.name, id: id, field: field, value: value, clock: HLC(int64: d.h ?? 0),
                                    origin: siteID(d.s), base: HLC(int64: d.b), municipality: municipalityCode)))
        }
        return out
    }
}
