import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Issue 24 §2 at the hub: a push with a value no replica can store, or clearing a required
/// field, is refused by the decoders the hub's push route uses (so the hub answers 400 and
/// writes nothing); a replica refuses the same change on pull; and `HubStore.check()` lists what
/// an older hub accepted, until a newer valid write replaces it.
@Suite("Hub: one field rule")
struct HubFieldRuleTests {
    let replica = "11111111-2222-4333-8444-555555555555"
    let venueID = "019b7a3c-5de2-76f3-b90c-676ccd62e74a"

    func change(_ id: String, _ field: String, _ value: Value, millis: UInt64 = 1_000) -> Change {
        Change(entity: "venue", id: id, field: field, value: value, clock: HLC(millis: millis, counter: 0), origin: replica,
               municipality: "0484")
    }

    /// The push route's two readers: the byte reader, else the tree with its message.
    func decode(_ changes: [Change]) -> Result<[Change], SyncError> {
        let body = PushBatch(replica: replica, batch: 1, schema: 1, changes: changes).body()
        if let read = PushBatch(body: body) { return .success(read.changes) }
        do {
            let json = try JSONValue.parse(String(decoding: body, as: UTF8.self))
            return .success(try PushBatch.decodeChanges(try PushBatch.envelope(json).changes))
        } catch let e as SyncError {
            return .failure(e)
        } catch {
            return .failure(SyncError(.invalid, "\(error)"))
        }
    }

    @Test("a push of text over its limit in code points, a NUL, or a cleared required field is refused, naming the field")
    func pushRefused() {
        let cases: [(String, Change, [String])] = [
            ("150 characters of 300 code points", change(venueID, "name", .text(String(repeating: "a\u{308}", count: 150))),
             ["name", "300 characters long", "at most 200"]),
            ("a NUL", change(venueID, "name", .text("Kro\u{0}gen")), ["name", "NUL"]),
            ("name cleared", change(venueID, "name", .null), ["name", "required"]),
            ("membership cleared", change(venueID, "membership", .null), ["membership", "required"]),
        ]
        for (label, c, needles) in cases {
            switch decode([change(venueID, "address", .text("Storgatan 1")), c]) {
            case .success: Issue.record("\(label): the hub's decoders accepted it")
            case .failure(let e):
                #expect(e.kind == .invalid, "\(label)")
                for n in needles { #expect(e.message.contains(n), "\(label): \(e.message)") }
                #expect(e.message.contains("changes[1]"), "\(label): names the change: \(e.message)")
            }
        }
        // Clearing an optional field is fine; at the limit in code points is fine.
        let fine = [change(venueID, "address", .null), change(venueID, "name", .text(String(repeating: "e\u{301}", count: 100)))]
        #expect((try? decode(fine).get())?.count == 2)
    }

    @Test("a replica refuses a pulled change that clears a required field or holds a NUL")
    func pullRefused() throws {
        let dir = try TempDir()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: Municipality.byCode["0484"]!)
        defer { r.close() }
        for bad in [change(venueID, "name", .null), change(venueID, "name", .text("a\u{0}b"))] {
            let create = Change(entity: "venue", id: venueID, field: Change.lifecycleField, value: .integer(1),
                                clock: HLC(millis: 1_000, counter: 0), origin: replica, municipality: "0484")
            #expect(throws: SyncError.self) { try r.apply([create, change(venueID, "membership", .text("member")), bad]) }
        }
        #expect(try r.records("venue").isEmpty, "nothing of the batch was applied")
    }

    @Test("hub check lists the values an older hub accepted, and a newer valid write clears them")
    func hubCheck() throws {
        let clock = ManualClock()
        let hub = try HubStore.open(at: ":memory:", now: clock.clock)
        #expect(try hub.check().isEmpty)
        let ids = (1...4).map { "019b7a3c-5de2-76f3-b90c-676ccd62e7\(String(format: "%02d", $0))" }
        func create(_ id: String) -> Change {
            Change(entity: "venue", id: id, field: Change.lifecycleField, value: .integer(1), clock: HLC(millis: 1_000, counter: 0),
                   origin: replica, municipality: "0484")
        }
        // HubStore.push takes decoded changes: this is what a hub without the rule stored.
        let accepted = [
            create(ids[0]), change(ids[0], "name", .text(String(repeating: "a\u{308}", count: 150))),
            change(ids[0], "membership", .text("member")),
            create(ids[1]), change(ids[1], "name", .text("Kro\u{0}gen")), change(ids[1], "membership", .text("member")),
            create(ids[2]), change(ids[2], "name", .text("Krogen")), change(ids[2], "membership", .null),
            create(ids[3]), change(ids[3], "membership", .text("member")),  // no name at all
        ]
        _ = try hub.push(PushBatch(replica: replica, batch: 1, schema: 1, changes: accepted), scope: .municipality("0484"),
                         maxDrift: 3_600_000)
        let found = try hub.check()
        let summary = found.map { "\($0.entity) \($0.id) \($0.field)" }
        #expect(summary == ["venue \(ids[0]) name", "venue \(ids[1]) name", "venue \(ids[2]) membership", "venue \(ids[3]) name"],
                "\(found)")
        try #require(found.count == 4)
        #expect(found.allSatisfy { $0.municipality == "0484" })
        #expect(found[0].why.contains("300 characters long") && found[0].why.contains("at most 200"), "\(found[0].why)")
        #expect(found[1].why.contains("NUL"), "\(found[1].why)")
        #expect(found[2].why.contains("required"), "\(found[2].why)")
        #expect(found[3].why.contains("no value"), "\(found[3].why)")
        #expect(found.map(\.blocksPulls) == [true, true, true, false])
        #expect(found[0].fix.contains("kmk-sync set venue \(ids[0]) name=") && found[0].fix.contains("0484"), "\(found[0].fix)")

        // The repair: newer valid writes (here pushed directly, as a replica's sync would).
        let repair = [
            change(ids[0], "name", .text("Krogen Ä"), millis: 2_000), change(ids[1], "name", .text("Krogen"), millis: 2_000),
            change(ids[2], "membership", .text("left"), millis: 2_000), change(ids[3], "name", .text("Baren"), millis: 2_000),
        ]
        _ = try hub.push(PushBatch(replica: replica, batch: 2, schema: 1, changes: repair), scope: .municipality("0484"),
                         maxDrift: 3_600_000)
        #expect(try hub.check().isEmpty)
    }
}
