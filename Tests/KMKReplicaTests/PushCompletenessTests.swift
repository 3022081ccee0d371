import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// The push never skips a change (SPEC.md §4 and §11.4): with sequence numbers per record and
/// registers not yet pushed carrying their record's newest number, a push that takes whole
/// records and acknowledges up to a number must still deliver every register's latest write,
/// whatever happens between pushes.
@Suite("Push completeness (property)")
struct PushCompletenessTests {
    /// A hub reduced to its merge: the winning write of each register, by SPEC.md §7's orders.
    struct HubDouble {
        var registers: [String: Change] = [:]

        static func key(_ c: Change) -> String { "\(c.entity)|\(c.id)|\(c.field)" }

        mutating func merge(_ changes: [Change]) {
            for c in changes {
                let k = HubDouble.key(c)
                guard let held = registers[k] else {
                    registers[k] = c
                    continue
                }
                let wins = c.isLifecycle ? MergeRules.lifecycleOrder(RegisterState(c), RegisterState(held))
                    : MergeRules.fieldOrder(RegisterState(c), RegisterState(held))
                if wins { registers[k] = c }
            }
        }

        /// Pushes one batch of at most `count` changes; acknowledges it unless `lost` (the reply
        /// never arrived, so the batch stays in flight and is sent again next time).
        mutating func push(_ r: Replica, count: Int, lost: Bool = false) throws -> Bool {
            guard let (batch, upTo) = try r.nextPushBatch(maxCount: count, maxBytes: 1_000_000) else { return false }
            merge(batch.changes)
            if !lost { try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: "hub") }
            return true
        }

        /// Pushes one batch as ``SyncEngine`` does: using the batch read ahead during the previous
        /// push (`ahead`, dropped by the replica when it no longer starts at the push mark), and
        /// reading the next one ahead before this one is acknowledged.
        mutating func pushReadingAhead(_ r: Replica, count: Int, lost: Bool, ahead: inout PreparedPushBatch?) throws -> Bool {
            let prepared = ahead
            ahead = nil
            guard let (batch, upTo) = try r.nextPushBatch(maxCount: count, maxBytes: 1_000_000, prepared: prepared) else { return false }
            let next = try r.preparePushBatch(after: upTo, maxCount: count, maxBytes: 1_000_000)
            merge(batch.changes)
            if !lost {
                try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: "hub")
                ahead = next
            }
            return true
        }

        /// Pushes until nothing is pending (at most 1,000 batches).
        mutating func pushAll(_ r: Replica) throws {
            for _ in 0..<1_000 {
                guard try push(r, count: 1_000) else { return }
            }
            Issue.record("1,000 batches and still pushing")
        }

        /// A pull of everything the hub holds, as one page.
        func page() -> PullPage {
            PullPage(hub: "hub", schema: 1, changes: registers.values.sorted { HubDouble.key($0) < HubDouble.key($1) },
                     cursor: "c1.hub.1.t", more: false)
        }
        /// A page of some of the hub's field writes and none of its lifecycle changes (as a pull
        /// that resumes mid-way gets): the replica reads only the registers these name.
        func fieldPage(_ rng: inout SplitMix64) -> PullPage {
            var changes: [Change] = []
            for c in registers.values.sorted(by: { HubDouble.key($0) < HubDouble.key($1) }) where !c.isLifecycle && rng.next() % 2 == 0 {
                changes.append(c)
            }
            return PullPage(hub: "hub", schema: 1, changes: changes, cursor: "c1.hub.1.t", more: false)
        }
    }

    let fields: [(String, (inout SplitMix64) -> Value)] = [
        ("address", { .text("Gatan \($0.next() % 50)") }),
        ("staff_count", { .integer(Int64($0.next() % 40)) }),
        ("door_staff_count", { .integer(Int64($0.next() % 5)) }),
        ("membership", { .text(["applicant", "member", "left"][Int($0.next() % 3)]) }),
        ("has_drug_policy", { $0.next() % 2 == 0 ? .integer(1) : .null }),
    ]

    func edit(_ r: Replica, _ ids: inout [String], _ rng: inout SplitMix64) throws {
        let alive = try r.records("venue").map(\.id)
        let deleted = try r.deletedIDs("venue")
        let pick = rng.next() % 6
        if pick < 2 || alive.isEmpty {
            var values: [String: Value] = ["name": .text("Krog \(rng.next() % 1000)"), "membership": .text("member")]
            for (name, make) in fields where rng.next() % 2 == 0 { values[name] = make(&rng) }
            ids.append(try r.insert("venue", fields: values))
        } else if pick < 4 {
            var values: [String: Value] = [:]
            for (name, make) in fields where rng.next() % 3 == 0 { values[name] = make(&rng) }
            try r.update("venue", id: alive[Int(rng.next() % UInt64(alive.count))], fields: values)
        } else if pick == 4 {
            try r.delete("venue", id: alive[Int(rng.next() % UInt64(alive.count))])
        } else if !deleted.isEmpty {
            try r.restore("venue", id: deleted[Int(rng.next() % UInt64(deleted.count))])
        }
    }

    @Test("random edits, merges, whole pulls and pulls of some field writes, partial, lost and restarted pushes: the hub ends with every register's latest write",
          arguments: [false, true])
    func everyChangeArrives(readAhead: Bool) throws {
        let seed = SplitMix64.seed(from: "KMK_PUSH_SEED")
        print("push completeness\(readAhead ? " (batches read ahead)" : ""): seed \(seed), 20 histories of 80 steps "
            + "(replay: KMK_PUSH_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        for history in 0..<20 {
            let dir = try TempDir()
            let clock = ManualClock()
            let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, now: clock.clock)
            let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna, now: clock.clock)
            defer {
                a.close()
                b.close()
            }
            var hub = HubDouble()
            var ids: [String] = []
            // With readAhead, the batch read during the last push stays around while edits, pulls
            // and restarts happen (as another program's edits can during a push).
            var ahead: PreparedPushBatch?
            for _ in 0..<80 {
                clock.advance(seconds: Double(rng.next() % 3))
                switch rng.next() % 10 {
                case 0, 1, 2, 3: try edit(a, &ids, &rng)
                case 4: try edit(b, &ids, &rng)
                case 5:
                    let count = 1 + Int(rng.next() % 12)
                    let lost = rng.next() % 4 == 0
                    _ = readAhead ? try hub.pushReadingAhead(a, count: count, lost: lost, ahead: &ahead)
                        : try hub.push(a, count: count, lost: lost)
                case 6:
                    try hub.pushAll(b)
                    try a.applyPulled(rng.next() % 2 == 0 ? hub.page() : hub.fieldPage(&rng))
                case 7: try b.applyPulled(rng.next() % 2 == 0 ? hub.page() : hub.fieldPage(&rng))
                case 8: if rng.next() % 3 == 0 { try a.restartPush(nextBatch: 1) }
                default: try hub.pushAll(a)
                }
            }
            try hub.pushAll(b)
            try a.applyPulled(hub.page())
            try hub.pushAll(a)
            let held = Dictionary(uniqueKeysWithValues: try a.changes(after: 0, limit: Int.max).map { (HubDouble.key($0.change), $0.change) })
            #expect(Set(held.keys) == Set(hub.registers.keys), "seed \(seed), history \(history)")
            for (k, c) in held {
                let h = hub.registers[k]
                #expect(h?.value == c.value && h?.clock == c.clock && h?.origin == c.origin,
                        "seed \(seed), history \(history): \(k) is \(c.value) at \(c.clock) on the replica, \(String(describing: h?.value)) on the hub")
            }
            #expect(try a.pendingOutgoing() == 0)
            #expect(try a.check().filter { !$0.ok }.map(\.detail) == [], "seed \(seed), history \(history)")
        }
    }

    @Test("a batch read ahead is used only when it starts at the push mark: not after a restart, nor while one is in flight")
    func readAheadDropped() throws {
        let dir = try TempDir()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        defer { r.close() }
        for i in 0..<6 { _ = try r.insert("venue", fields: ["name": .text("Krog \(i)"), "membership": .text("member")]) }
        func ids(_ b: PushBatch) -> [String] { b.changes.map(\.id) }
        let (first, upTo) = try #require(try r.nextPushBatch(maxCount: 4, maxBytes: 1_000_000))
        let ahead = try #require(try r.preparePushBatch(after: upTo, maxCount: 4, maxBytes: 1_000_000))
        #expect(ahead.after == upTo && ahead.upTo > upTo)
        // Not acknowledged: the batch in flight is sent again, not the one read ahead.
        let again = try #require(try r.nextPushBatch(maxCount: 4, maxBytes: 1_000_000, prepared: ahead))
        #expect(again.batch.batch == first.batch && ids(again.batch) == ids(first))
        try r.acknowledgePush(batch: first.batch, upTo: upTo, hubID: "hub")
        // The push mark moved back (a restored hub): the whole log is read again from the start.
        try r.restartPush(nextBatch: 1)
        let fresh = try #require(try r.nextPushBatch(maxCount: 4, maxBytes: 1_000_000, prepared: ahead))
        #expect(ids(fresh.batch) == ids(first), "a restart must resend from the start, not the batch read ahead")
        try r.acknowledgePush(batch: fresh.batch.batch, upTo: fresh.upTo, hubID: "hub")
        // At the push mark: the batch read ahead is the one sent, the same as reading it now.
        let next = try #require(try r.preparePushBatch(after: fresh.upTo, maxCount: 4, maxBytes: 1_000_000))
        let used = try #require(try r.nextPushBatch(maxCount: 4, maxBytes: 1_000_000, prepared: next))
        #expect(used.upTo == next.upTo && !used.batch.changes.isEmpty)
        #expect(used.batch.body() == PushBatch(replica: used.batch.replica, batch: used.batch.batch, schema: used.batch.schema,
                                                 changes: used.batch.changes).body())
    }
}
