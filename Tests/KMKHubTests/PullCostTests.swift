import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// P4 of the benchmark, as a test of work rather than time: the SQLite virtual-machine steps of
/// one pull page must not grow with how much history lies after the cursor. (A pull query that
/// read and sorted every remaining row per page made a long pull quadratic.)
@Suite("Pull cost")
struct PullCostTests {
    let replica = "11111111-2222-4333-8444-555555555555"
    let styrgrupp = "99999999-2222-4333-8444-555555555555"

    /// A hub holding `count` venue names of Örebro (0484), then a few national criteria, pushed
    /// in batches of 500.
    func hub(count: Int) throws -> HubStore {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        var batch: Int64 = 0
        for start in stride(from: 0, to: count, by: 500) {
            batch += 1
            let changes = (start..<min(count, start + 500)).map { n in
                Change(entity: "venue", id: String(format: "00000000-0000-4000-8000-%012d", n), field: "name", value: .text("Krog \(n)"),
                       clock: HLC(millis: 1_000 + UInt64(n), counter: 0), origin: replica, municipality: "0484")
            }
            _ = try hub.push(PushBatch(replica: replica, batch: batch, schema: Schema.current.version, changes: changes),
                             scope: .municipality("0484"), maxDrift: 3_600_000)
        }
        let national = (0..<3).map { n in
            Change(entity: "criterion", id: String(format: "00000000-0000-4000-9000-%012d", n), field: "code", value: .text("K\(n)"),
                   clock: HLC(millis: 900_000 + UInt64(n), counter: 0), origin: styrgrupp, municipality: nil)
        }
        _ = try hub.push(PushBatch(replica: styrgrupp, batch: 1, schema: Schema.current.version, changes: national),
                         scope: .styrgrupp, maxDrift: 3_600_000)
        return hub
    }

    /// The steps of the first page of 100 from the start, for a municipality and for the styrgrupp.
    func firstPageSteps(_ hub: HubStore) throws -> (municipality: Int64, styrgrupp: Int64) {
        _ = hub.takeVMSteps()
        guard case .page(let page) = try hub.pull(cursor: nil, scope: .municipality("0484"), limit: 100) else {
            Issue.record("an empty cursor is never stale")
            return (0, 0)
        }
        #expect(page.changes.count == 100 && page.more)
        let municipality = hub.takeVMSteps()
        guard case .page(let all) = try hub.pull(cursor: nil, scope: .styrgrupp, limit: 100) else { return (0, 0) }
        #expect(all.changes.count == 100)
        return (municipality, hub.takeVMSteps())
    }

    @Test("a page of 100 costs the same after 600 and after 6,000 changes of remaining history")
    func pageCostIsFlat() throws {
        let small = try firstPageSteps(try hub(count: 600))
        let big = try firstPageSteps(try hub(count: 6_000))
        print("pull page steps: municipality \(small.municipality) → \(big.municipality), styrgrupp \(small.styrgrupp) → \(big.styrgrupp)")
        #expect(small.municipality > 0 && small.styrgrupp > 0)
        // Ten times the history; a query that reads the rest would cost about ten times more.
        #expect(Double(big.municipality) < 1.5 * Double(small.municipality))
        #expect(Double(big.styrgrupp) < 1.5 * Double(small.styrgrupp))
    }
}
