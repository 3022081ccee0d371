import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// One rule for what a replica cannot apply (SPEC.md §6): a change of a pull page or a bundle that
/// the replica cannot apply is set aside in its quarantine with the reason; the rest of the page
/// or bundle is applied and the cursor moves on, so one bad change never blocks a municipality.
@Suite("Quarantine")
struct QuarantineTests {
    /// A page of `good` changes and hostile ones, as the hub would send it (its JSON text).
    func page(_ good: [Change], hostile: [String]) throws -> PullPage {
        let changes = good.map { $0.json() } + hostile
        let text = "{\"hub\":\"hub\",\"schema\":1,\"cursor\":\"c1.hub.9.t\",\"more\":false,\"changes\":[" + changes.joined(separator: ",") + "]}"
        #expect(PullPage(body: Array(text.utf8)) == nil, "the fast reader must not accept the hostile page")
        return try PullPage(json: try JSONValue.parse(text))
    }

    func hostileChanges(origin: String) -> [String] {
        let clock = "\"clock\":\"01a205a86ba50000\",\"origin\":\"\(origin)\",\"base\":\"0000000000000000\""
        return [
            // a value the field's rule refuses
            "{\"entity\":\"venue\",\"id\":\"0c0c0c0c-0000-4000-8000-000000000001\",\"field\":\"membership\",\"value\":\"bogus\",\(clock),\"municipality\":\"0484\"}",
            // a field this schema does not know (a newer replica's)
            "{\"entity\":\"venue\",\"id\":\"0c0c0c0c-0000-4000-8000-000000000002\",\"field\":\"plaque_on\",\"value\":\"2026-01-01\",\(clock),\"municipality\":\"0484\"}",
            // an entity this schema does not know
            "{\"entity\":\"plaque\",\"id\":\"0c0c0c0c-0000-4000-8000-000000000003\",\"field\":\"$cl\",\"value\":1,\(clock),\"municipality\":\"0484\"}",
            // a record of another municipality
            "{\"entity\":\"venue\",\"id\":\"0c0c0c0c-0000-4000-8000-000000000004\",\"field\":\"name\",\"value\":\"Karlstads krog\",\(clock),\"municipality\":\"1780\"}",
            // another municipality's profile record under this municipality's code
            "{\"entity\":\"municipality\",\"id\":\"1780\",\"field\":\"name\",\"value\":\"Karlstad\",\(clock),\"municipality\":\"0484\"}",
        ]
    }

    @Test("a pull page with changes the replica cannot apply: the rest is applied, the cursor moves, the bad ones are kept with reasons")
    func pullPage() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let v = try b.insert("venue", fields: ["name": .text("Krogen Bra"), "membership": .text("member")])
        let good = try b.changes(after: 0, limit: 1_000).map(\.change)
        let p = try page(good, hostile: hostileChanges(origin: b.replicaID))
        #expect(p.quarantined.count == 3)
        let result = try a.applyPulled(p)
        #expect(result.quarantined == 5, "\(result)")
        #expect(try a.record("venue", id: v)?.fields["name"] == .text("Krogen Bra"))
        #expect(try a.remoteState().cursor == "c1.hub.9.t")
        let kept = try a.quarantine()
        #expect(kept.count == 5)
        let reasons = kept.map(\.change.reason).joined(separator: "\n")
        for word in ["membership", "plaque_on", "plaque", "1780", "profile"] {
            #expect(reasons.contains(word), "no reason names \(word): \(reasons)")
        }
        #expect(!reasons.lowercased().contains("sqlite"), "\(reasons)")
        let check = try a.check()
        #expect(check.first { $0.name == "quarantine" }?.ok == false)
        let others = check.filter { $0.name != "quarantine" }
        #expect(others.allSatisfy { $0.ok }, "\(check)")
        // The same page again (a resumed pull) keeps each change once; a retry keeps what still cannot apply.
        try a.applyPulled(p)
        #expect(try a.quarantineCount() == 5)
        try a.retryQuarantine()
        #expect(try a.quarantineCount() == 5)
        // Nothing of the quarantine is pushed or counted as this replica's.
        #expect(try a.changes(after: 0, limit: 1_000).allSatisfy { $0.change.id != "0c0c0c0c-0000-4000-8000-000000000001" })
    }

    @Test("a clock or base with the sign bit set is refused by both decoders; on pull it is set aside, no crash")
    func signBitClock() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let v = try b.insert("venue", fields: ["name": .text("Krogen Bra"), "membership": .text("member")])
        let good = try b.changes(after: 0, limit: 1_000).map(\.change)
        var hostile: [String] = []
        for (clock, base) in [("01a205a86ba50000", "8000000000000000"), ("01a205a86ba50000", "ffffffffffffffff"),
                              ("8000000000000001", "0000000000000000")] {
            hostile.append("{\"entity\":\"venue\",\"id\":\"\(v)\",\"field\":\"name\",\"value\":\"x\",\"clock\":\"\(clock)\","
                + "\"origin\":\"\(b.replicaID)\",\"base\":\"\(base)\",\"municipality\":\"0484\"}")
        }
        let p = try page(good, hostile: hostile)
        #expect(p.quarantined.count == 3)
        #expect(p.quarantined.allSatisfy { $0.reason.contains("7fffffffffffffff") }, "\(p.quarantined.map(\.reason))")
        try a.applyPulled(p)
        #expect(try a.record("venue", id: v)?.fields["name"] == .text("Krogen Bra"))
        #expect(try a.check().filter { $0.name != "quarantine" }.allSatisfy { $0.ok })
    }

    @Test("a bundle with a change the replica cannot apply is applied but for it; a tampered bundle is still refused whole")
    func bundle() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let v = try b.insert("venue", fields: ["name": .text("Krogen Bra"), "membership": .text("member")])
        let bundle = try b.makeBundle(for: nil)
        var text = bundle.encoded()
        // A line a newer or foreign writer put in, with the checksum made anew over it.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast(2)  // the checksum line and the empty one after it
        let hostile = hostileChanges(origin: b.replicaID)[0]
        lines.insert(hostile, at: 1)
        lines[0] = lines[0].replacingOccurrences(of: "\"count\":\(bundle.changes.count)", with: "\"count\":\(bundle.changes.count + 1)")
        let body = lines.joined(separator: "\n") + "\n"
        text = body + "{\"sha256\":\"" + SHA256.hex(body) + "\"}\n"
        let result = try a.applyBundle(text, file: "usb.bundle")
        #expect(result.quarantined == 1)
        #expect(try a.record("venue", id: v) != nil)
        #expect(try a.quarantine().first?.source == "bundle usb.bundle")
        // Tampered after writing: refused whole, nothing applied.
        let c = try Replica.create(at: dir.path("c.kmk"), municipality: eskilstuna)
        let tampered = text.replacingOccurrences(of: "Krogen Bra", with: "Krogen Dålig")
        #expect(throws: SyncError.self) { try c.applyBundle(tampered, file: "usb.bundle") }
        #expect(try c.record("venue", id: v) == nil)
        #expect(try c.quarantineCount() == 0)
    }
}
