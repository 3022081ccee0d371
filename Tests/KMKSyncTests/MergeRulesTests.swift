import KMKModel
import KMKSync
import Testing
import KMKTestSupport

@Suite("Merge rules")
struct MergeRulesTests {
    func w(_ v: Value, _ ms: UInt64, _ origin: String, base: UInt64 = 0) -> RegisterState {
        RegisterState(value: v, clock: HLC(millis: ms, counter: 0), origin: origin, base: HLC(millis: base, counter: 0))
    }

    /// Folds writes into one register the way a replica does.
    func fold(_ writes: [RegisterState], lifecycle: Bool = false) -> RegisterState? {
        writes.reduce(nil) { stored, incoming in
            let outcome = lifecycle ? MergeRules.mergeLifecycle(stored: stored, incoming: incoming)
                : MergeRules.mergeField(stored: stored, incoming: incoming)
            return outcome == .replace ? incoming : stored
        }
    }

    @Test("the later clock wins; equal clocks are ordered by origin")
    func lww() {
        #expect(fold([w(.integer(1), 10, "a"), w(.integer(2), 20, "b")])?.value == .integer(2))
        #expect(fold([w(.integer(2), 20, "b"), w(.integer(1), 10, "a")])?.value == .integer(2))
        #expect(fold([w(.integer(1), 10, "b"), w(.integer(2), 10, "a")])?.value == .integer(1))
        #expect(fold([w(.integer(2), 10, "a"), w(.integer(1), 10, "b")])?.value == .integer(1))
    }

    @Test("lifecycle: the larger causal length wins, so a delete beats a concurrent update and a restore beats the delete")
    func lifecycle() {
        let created = w(.integer(1), 10, "a")
        let deleted = w(.integer(2), 11, "a")
        let restored = w(.integer(3), 5, "b")  // an earlier clock, but a longer causal length
        #expect(fold([created, deleted])?.causalLength == 2)
        #expect(fold([deleted, created])?.causalLength == 2)
        #expect(fold([restored, deleted, created], lifecycle: true)?.causalLength == 3)
        #expect(MergeRules.updateConflictsWithDelete(update: w(.integer(5), 12, "b"), delete: w(.integer(2), 11, "a", base: 10)))
        #expect(!MergeRules.updateConflictsWithDelete(update: w(.integer(5), 9, "b"), delete: w(.integer(2), 11, "a", base: 10)))
    }

    @Test("merge is commutative, associative and idempotent over random writes", arguments: [7, 99, 2026])
    func algebra(seed: Int) {
        var local = SplitMix64(seed: UInt64(seed))
        print("merge algebra seed \(seed)")
        for _ in 0..<500 {
            // A replica never issues one clock twice, so (clock, origin) identifies a write and its value.
            let writes = (0..<Int.random(in: 1...8, using: &local)).map { _ -> RegisterState in
                let ms = UInt64.random(in: 1...5, using: &local)
                let origin = ["a", "b", "c"].randomElement(using: &local)!
                return w(.integer(Int64(ms) * 10 + Int64(origin.unicodeScalars.first!.value % 7)), ms, origin)
            }
            let reference = fold(writes)
            #expect(fold(writes.shuffled(using: &local)) == reference)
            #expect(fold(writes + writes) == reference)
            let cut = Int.random(in: 0...writes.count, using: &local)
            let left = fold(Array(writes[..<cut]))
            let right = fold(Array(writes[cut...]))
            #expect(fold([left, right].compactMap { $0 }) == reference)
            #expect(fold(writes, lifecycle: true) == fold(writes.shuffled(using: &local), lifecycle: true))
        }
    }

    @Test("concurrency: writes that saw each other are not conflicts")
    func concurrency() {
        let a = w(.text("x"), 10, "a")
        let bSaw = w(.text("y"), 20, "b", base: 10)
        let bBlind = w(.text("y"), 20, "b", base: 0)
        #expect(!MergeRules.isConflict(a, bSaw))
        #expect(MergeRules.isConflict(a, bBlind))
        #expect(!MergeRules.isConflict(a, w(.text("x"), 20, "b")), "equal values are not a conflict")
        #expect(!MergeRules.concurrent(a, w(.text("z"), 30, "a")), "one replica's writes are ordered")
    }
}
