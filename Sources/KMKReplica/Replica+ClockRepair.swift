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
                let held = try db.prepare("""
                    SELECT count(*), max(hlc) FROM kmk_clock WHERE hlc > ?1 AND NOT (site = 0 AND seq > ?2)
                    """).first([.integer(limit), .integer(pushed)]) { ($0.int64(0), $0.int64(1)) } ?? (0, 0)
                if held.0 > 0 {
                    throw ReplicaError(.refused, "\(held.0) change\(held.0 == 1 ? "" : "s") with clocks up to "
                        + "\(HLC(int64: held.1).iso) already left this replica (pushed) or came from another one, so "
                        + "\(held.0 == 1 ? "its clock" : "their clocks") cannot be taken back; nothing was changed. "
                        + "Keep syncing: the clocks stay valid and the hub accepts them once they are within its drift limit")
                }
                let (count, newest) = try db.prepare("""
                    SELECT count(*), coalesce(max(hlc), 0) FROM kmk_clock WHERE hlc > ?1 AND site = 0 AND seq > ?2
                    """).first([.integer(limit), .integer(pushed)]) { ($0.int64(0), $0.int64(1)) } ?? (0, 0)
                guard count > 0 else {
                    return ClockRepair(restamped: 0, from: nil, to: lastClock)
                }
                let others = try db.prepare("SELECT coalesce(max(hlc), 0) FROM kmk_clock WHERE hlc <= ?1")
                    .first([.integer(limit)]) { $0.int64(0) } ?? 0
                lastClock = HLC(int64: others)
                let clock = nextClock()
                try db.prepare("UPDATE kmk_clock SET hlc = ?1 WHERE hlc > ?2 AND site = 0 AND seq > ?3")
                    .run([.integer(clock.int64), .integer(limit), .integer(pushed)])
                try db.prepare("UPDATE kmk_seen SET hlc = ?1 WHERE origin = ?2").run([.integer(clock.int64), .text(replicaID)])
                try saveClock()
                return ClockRepair(restamped: Int(count), from: HLC(int64: newest), to: clock)
            }
        } catch {
            try? reloadCounters()
            throw error
        }
    }
}
