import KMKModel

/// What ``Replica/repairClock(tolerance:)`` did.
public struct ClockRepair: Hashable, Sendable {
    /// Local changes that were re-stamped.
    public var restamped: Int
    /// The newest clock they had before.
    public var from: HLC?
    /// The replica's clock afterwards (the re-stamped changes carry it).
    public var to: HLC
}

extension Replica {
    /// The replica's clock: the last one it issued or received.
    public func currentClock() throws -> HLC { lastClock }

    /// Re-stamps this replica's own unpushed changes whose clocks lie ahead of the wall clock,
    /// after the machine's clock was wrong and has been fixed (SPEC.md §3, `kmk-sync clock repair`).
    ///
    /// A replica whose clock was set far ahead stamps its edits there; the hub and colleagues refuse
    /// them (clock drift), and its persisted clock keeps later edits there too, even once the
    /// machine's clock is right again. Changes that nobody else accepted can safely take a new
    /// clock: they are this replica's own (origin site 0), not yet pushed, and their clocks are more
    /// than `tolerance` milliseconds ahead of the wall clock now. They get one new clock, after
    /// every other clock the replica holds, in one transaction; the replica's clock is lowered to
    /// it. A future clock that others may hold (pushed, or received from another replica) cannot be
    /// taken back, so then nothing is changed and the error says so.
    public func repairClock(tolerance: UInt64 = 60_000) throws -> ClockRepair {
        do {
            return try db.transaction {
                let wall = now()
                let limit = HLC(millis: wall + tolerance, counter: 0).int64
                let pushed = try meta("push.seq").integer ?? 0
                // Per register: held elsewhere (future, not this replica's unpushed change), or ours to re-stamp.
                var held: (count: Int64, newest: Int64) = (0, 0)
                var ours: (count: Int64, newest: Int64) = (0, 0)
                var others: Int64 = 0
                for t in logTables {
                    let heldTerm = { (n: Int) in "ifnull(h\(n) > ?1 AND NOT (s\(n) = 0 AND q\(n) > ?2), 0)" }
                    let oursTerm = { (n: Int) in "ifnull(h\(n) > ?1 AND s\(n) = 0 AND q\(n) > ?2, 0)" }
                    let sum = { (term: (Int) -> String) in "coalesce(sum(" + t.registers.map(term).joined(separator: " + ") + "), 0)" }
                    let newest = { (term: (Int) -> String) in
                        "coalesce(max(max(" + t.registers.map { "CASE WHEN \(term($0)) THEN h\($0) ELSE 0 END" }.joined(separator: ", ") + ", 0)), 0)"
                    }
                    let below = "coalesce(max(max(" + t.registers.map { "CASE WHEN h\($0) <= ?1 THEN h\($0) ELSE 0 END" }.joined(separator: ", ")
                        + ", 0)), 0)"
                    let sql = "SELECT \(sum(heldTerm)), \(newest(heldTerm)), \(sum(oursTerm)), \(newest(oursTerm)), \(below) FROM \(t.decoded)"
                    try db.prepare(sql).each(binding: { st in
                        st.bind(limit, at: 1)
                        st.bind(pushed, at: 2)
                    }) { row in
                        held = (held.count + row.int64(0), max(held.newest, row.int64(1)))
                        ours = (ours.count + row.int64(2), max(ours.newest, row.int64(3)))
                        others = max(others, row.int64(4))
                    }
                }
                if held.count > 0 {
                    let n = held.count
                    throw ReplicaError(.refused, "\(n) change\(n == 1 ? "" : "s") with clocks up to "
                        + "\(HLC(int64: held.newest).iso) already left this replica (pushed) or came from another one, so "
                        + "\(n == 1 ? "its clock" : "their clocks") cannot be taken back; nothing was changed. "
                        + "Keep syncing: the clocks stay valid and the hub accepts them once they are within its drift limit")
                }
                guard ours.count > 0 else {
                    return ClockRepair(restamped: 0, from: nil, to: lastClock)
                }
                lastClock = HLC(int64: others)
                let clock = nextClock()
                for t in logTables {
                    for table in t.tables {
                        try db.prepare("UPDATE \(table) SET regs = kmk_restamp(regs, t, seq, ?1, ?2, ?3) WHERE seq > ?3 AND pend = 0")
                            .run([.integer(clock.int64), .integer(limit), .integer(pushed)])
                    }
                }
                try db.prepare("UPDATE kmk_seen SET hlc = ?1 WHERE origin = ?2").run([.integer(clock.int64), .text(replicaID)])
                try saveClock()
                return ClockRepair(restamped: Int(ours.count), from: HLC(int64: ours.newest), to: clock)
            }
        } catch {
            try? reloadCounters()
            throw error
        }
    }
}
