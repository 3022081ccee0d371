import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Issue 24 §2 at the hub: a push with a value no replica can store, or clearing a required
/// field, is refused by the decoders the hub's push route uses (so the hub answers 400 and
/// writes nothing); a replica refuses the same change on pull.
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
}
