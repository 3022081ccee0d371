import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Convergence through the hub (its store, without HTTP) under random edits and random push/pull
/// schedules with random batch and page sizes, lost acknowledgements and cut pulls.
///
/// `KMK_SYNC_SCHEDULES` sets how many schedules run (default 200); `KMK_SYNC_SEED` replays one.
@Suite("Sync through the hub (property)")
struct SyncPropertyTests {
    static let schedules = Int(ProcessInfo.processInfo.environment["KMK_SYNC_SCHEDULES"] ?? "") ?? 200
    static let seed = UInt64(ProcessInfo.processInfo.environment["KMK_SYNC_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))

    struct Totals { var batches = 0; var duplicates = 0; var pages = 0; var lostAcks = 0; var cutPulls = 0 }

    @Test("random edits, pushes and pulls with lost acks and cut pulls converge on every replica and the hub")
    func converge() throws {
        print("sync property test: seed \(Self.seed), \(Self.schedules) schedules (replay: KMK_SYNC_SEED=\(Self.seed))")
        let started = Date()
        var totals = Totals()
        for n in 0..<Self.schedules {
            var rng = SplitMix64(seed: Self.seed &+ UInt64(n) &* 0x9E37_79B9)
            try runSchedule(&rng, label: "seed \(Self.seed) schedule \(n)", &totals)
            if Date().timeIntervalSince(started) > 900 {
                Issue.record("stopped after \(n + 1) schedules: over 15 minutes")
                break
            }
        }
        print("sync property test: \(Self.schedules) schedules, \(totals.batches) batches (\(totals.duplicates) duplicates), "
            + "\(totals.pages) pages, \(totals.lostAcks) lost acks, \(totals.cutPulls) cut pulls, "
            + String(format: "%.1f s", Date().timeIntervalSince(started)))
        #expect(totals.duplicates > 0 && totals.cutPulls > 0, "the schedules should exercise resends and cut pulls")
    }

    func runSchedule(_ rng: inout SplitMix64, label: String, _ totals: inout Totals) throws {
        let clock = ManualClock()
        let hub = try HubStore.open(at: ":memory:", now: clock.clock)
        let municipalities = [Municipality.byCode["0484"]!, Municipality.byCode["1780"]!].prefix(Int.random(in: 1...2, using: &rng))
        var replicas: [Replica] = []
        for i in 0..<Int.random(in: 2...4, using: &rng) {
            let skew = Int64.random(in: -600_000...600_000, using: &rng)
            let base = clock
            replicas.append(try Replica.create(at: ":memory:", municipality: municipalities[i % municipalities.count],
                                               replicaID: RecordID.make(using: &rng), now: { UInt64(Int64(base.millis) + skew) }))
        }
        for _ in 0..<Int.random(in: 5...25, using: &rng) {
            clock.advance(seconds: Double.random(in: 0...3, using: &rng))
            let r = replicas.randomElement(using: &rng)!
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5: try RandomEdits.edit(r, &rng)
            case 5..<8: try push(r, hub, &rng, label, &totals, loseAcks: true)
            default: try pull(r, hub, &rng, label, &totals, cut: true)
            }
        }
        // Everyone syncs until nothing moves (bounded): push, pull, for each replica, twice.
        for _ in 0..<3 {
            for r in replicas {
                try push(r, hub, &rng, label, &totals, loseAcks: false)
                try pull(r, hub, &rng, label, &totals, cut: false)
            }
        }
        for m in municipalities {
            let group = replicas.filter { $0.municipality == m }
            let hubSum = try hub.checksum(municipality: m.code).checksum
            for r in group {
                #expect(try r.pendingOutgoing() == 0, "\(label)")
                #expect(try r.checksum().checksum == hubSum, "\(label): \(m) replica and hub differ")
            }
            #expect(Set(try group.map { try $0.export().encoded() }).count == 1, "\(label): exports differ for \(m)")
        }
        for r in replicas { r.close() }
        hub.close()
    }

    /// Pushes everything pending in random-sized batches; with `loseAcks`, some acknowledgements
    /// are "lost" (the client does not record them, as after a crash) and the batch is resent.
    func push(_ r: Replica, _ hub: HubStore, _ rng: inout SplitMix64, _ label: String, _ totals: inout Totals, loseAcks: Bool) throws {
        let scope = HubScope.municipality(r.municipality.code)
        for _ in 0..<1_000 {
            guard let (batch, upTo) = try r.nextPushBatch(maxCount: Int.random(in: 1...40, using: &rng), maxBytes: 1_000_000) else { return }
            switch try hub.push(batch, scope: scope, maxDrift: 3_600_000) {
            case .accepted(let reply):
                totals.batches += 1
                if reply.duplicate { totals.duplicates += 1 }
                #expect(reply.lastBatch == batch.batch, "\(label): the replica's batch numbers follow the hub's")
                if loseAcks, Int.random(in: 0..<4, using: &rng) == 0 {
                    totals.lostAcks += 1
                    continue
                }
                try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: reply.hub)
            case .gap(let expected):
                Issue.record("\(label): unexpected batch gap, expected \(expected), sent \(batch.batch)")
                return
            }
        }
        Issue.record("\(label): push did not finish in 1000 batches")
    }

    /// Pulls pages of random size; with `cut`, may stop after any page (as an interrupted pull).
    func pull(_ r: Replica, _ hub: HubStore, _ rng: inout SplitMix64, _ label: String, _ totals: inout Totals, cut: Bool) throws {
        let scope = HubScope.municipality(r.municipality.code)
        for _ in 0..<1_000 {
            switch try hub.pull(cursor: try r.remoteState().cursor, scope: scope, limit: Int.random(in: 1...(cut ? 5 : 50), using: &rng)) {
            case .page(let page):
                totals.pages += 1
                #expect(page.changes.allSatisfy { $0.municipality == nil || $0.municipality == r.municipality.code }, "\(label)")
                try r.applyPulled(page, maxDrift: 3_600_000)
                if !page.more { return }
                if cut, Int.random(in: 0..<3, using: &rng) == 0 {
                    totals.cutPulls += 1
                    return
                }
            case .stale(let why):
                Issue.record("\(label): stale cursor: \(why)")
                return
            }
        }
        Issue.record("\(label): pull did not finish in 1000 pages")
    }
}
