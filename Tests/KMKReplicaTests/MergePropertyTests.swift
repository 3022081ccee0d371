import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Convergence of replicas under random edits and random exchange schedules.
///
/// `KMK_PROPERTY_SCHEDULES` sets how many schedules run (default 1000); `KMK_PROPERTY_SEED`
/// replays one run. The seed is printed.
@Suite("Merge convergence (property)")
struct MergePropertyTests {
    static let schedules = Int(ProcessInfo.processInfo.environment["KMK_PROPERTY_SCHEDULES"] ?? "") ?? 1000
    static let seed = UInt64(ProcessInfo.processInfo.environment["KMK_PROPERTY_SEED"] ?? "")
        ?? UInt64.random(in: 1...UInt64(UInt32.max))

    @Test("random scripts and exchange schedules converge to identical exports and winners")
    func converge() throws {
        print("merge property test: seed \(Self.seed), \(Self.schedules) schedules (replay: KMK_PROPERTY_SEED=\(Self.seed))")
        let started = Date()
        var totals = (changes: 0, conflicts: 0, refusedForeign: 0)
        for n in 0..<Self.schedules {
            var rng = SplitMix64(seed: Self.seed &+ UInt64(n) &* 0x9E37_79B9)
            let outcome = try runSchedule(&rng, label: "seed \(Self.seed) schedule \(n)")
            totals.changes += outcome.changes
            totals.conflicts += outcome.conflicts
            totals.refusedForeign += outcome.refusedForeign
            // Bounded in time as well as count: stop early (and say so) rather than run away.
            if Date().timeIntervalSince(started) > 1_800 {
                Issue.record("stopped after \(n + 1) schedules: over 30 minutes")
                break
            }
        }
        print("merge property test: \(Self.schedules) schedules, \(totals.changes) changes applied, "
            + "\(totals.conflicts) ledger entries, \(totals.refusedForeign) foreign batches refused, "
            + String(format: "%.1f s", Date().timeIntervalSince(started)))
        #expect(totals.conflicts > 0, "the schedules should produce real conflicts")
    }

    struct Outcome { var changes = 0; var conflicts = 0; var refusedForeign = 0 }

    func runSchedule(_ rng: inout SplitMix64, label: String) throws -> Outcome {
        var outcome = Outcome()
        let clock = ManualClock()
        let municipalities = [eskilstuna, karlstad].prefix(Int.random(in: 1...2, using: &rng))
        let count = Int.random(in: 2...5, using: &rng)
        var replicas: [Replica] = []
        for i in 0..<count {
            // Replica i gets a clock skewed by up to ±1 day, to exercise the HLC.
            let skew = Int64.random(in: -86_400_000...86_400_000, using: &rng)
            let base = clock
            let now: Replica.WallClock = { UInt64(Int64(base.millis) + skew) }
            replicas.append(try Replica.create(at: ":memory:", municipality: municipalities[i % municipalities.count],
                                               replicaID: RecordID.make(using: &rng), now: now))
        }
        let steps = Int.random(in: 5...30, using: &rng)
        for _ in 0..<steps {
            clock.advance(seconds: Double.random(in: 0...3, using: &rng))
            if Bool.random(using: &rng) || replicas.count < 2 {
                let r = replicas.randomElement(using: &rng)!
                try RandomEdits.edit(r, &rng)
            } else {
                let src = replicas.randomElement(using: &rng)!
                let dst = replicas.randomElement(using: &rng)!
                guard src !== dst else { continue }
                if src.municipality != dst.municipality {
                    // A batch of another municipality's records is refused whole.
                    let changes = try src.changes(after: 0, limit: 10_000).map(\.change).filter { $0.municipality != nil }
                    if !changes.isEmpty {
                        let before = try dst.export(includeLocal: true).encoded()
                        #expect(throws: SyncError.self, "\(label)") { try dst.apply(changes, maxDrift: 3 * 86_400_000) }
                        #expect(try dst.export(includeLocal: true).encoded() == before, "\(label)")
                        outcome.refusedForeign += 1
                    }
                    continue
                }
                try randomExchange(from: src, to: dst, &rng, &outcome)
            }
        }
        // Full exchange: every replica sends everything to every replica of its municipality,
        // until nothing more is applied (bounded by the number of replicas).
        for _ in 0..<(count + 1) {
            var applied = 0
            for src in replicas {
                for dst in replicas where dst !== src && dst.municipality == src.municipality {
                    let r = try dst.apply(try src.changes(after: 0, limit: 1_000_000).map(\.change), maxDrift: 3 * 86_400_000)
                    applied += r.applied
                    outcome.conflicts += r.conflicts.count
                    outcome.changes += r.applied
                }
            }
            if applied == 0 { break }
        }
        for m in municipalities {
            let group = replicas.filter { $0.municipality == m }
            let exports = try group.map { try $0.export().encoded() }
            #expect(Set(exports).count == 1, "\(label): exports differ for \(m)")
            let winners = try group.map { r in
                Set(try r.changes(after: 0, limit: 1_000_000).map { "\($0.change.json())" })
            }
            #expect(winners.allSatisfy { $0 == winners[0] }, "\(label): winners differ for \(m)")
            for r in group {
                for entry in try r.conflicts(since: nil) {
                    // The ledger's winner really wins under the rules; the loser came from another replica.
                    #expect(entry.winner.origin != entry.loser.origin, "\(label)")
                    if entry.deleteWon {
                        #expect(MergeRules.updateConflictsWithDelete(update: entry.loser, delete: entry.winner), "\(label)")
                    } else {
                        #expect(MergeRules.fieldOrder(entry.winner, entry.loser), "\(label): ledger winner must win")
                        #expect(MergeRules.isConflict(entry.winner, entry.loser), "\(label)")
                    }
                }
            }
        }
        for r in replicas { r.close() }
        return outcome
    }

    /// Sends a random selection of src's changes in random chunks, some duplicated, in random order.
    func randomExchange(from src: Replica, to dst: Replica, _ rng: inout SplitMix64, _ outcome: inout Outcome) throws {
        let all = try src.changes(after: 0, limit: 1_000_000).map(\.change)
        guard !all.isEmpty else { return }
        let start = Int.random(in: 0..<all.count, using: &rng)
        let slice = Array(all[start...].prefix(Int.random(in: 1...all.count, using: &rng)))
        var chunks: [[Change]] = []
        var i = 0
        while i < slice.count {
            let size = Int.random(in: 1...max(1, slice.count - i), using: &rng)
            chunks.append(Array(slice[i..<min(slice.count, i + size)]))
            i += size
        }
        if let dup = chunks.randomElement(using: &rng), Bool.random(using: &rng) { chunks.append(dup) }
        chunks.shuffle(using: &rng)
        for chunk in chunks {
            let r = try dst.apply(chunk, maxDrift: 3 * 86_400_000)
            outcome.changes += r.applied
            outcome.conflicts += r.conflicts.count
        }
    }
}
