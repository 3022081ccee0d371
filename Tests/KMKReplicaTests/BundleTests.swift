import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Bundles and merge scenarios")
struct BundleTests {
    func venue(_ r: Replica, _ name: String) throws -> String {
        try r.insert("venue", fields: ["name": .text(name), "membership": .text("member")])
    }

    @Test("three replicas converge by bundles only (A→B→C and back), without personal data")
    func threeReplicaRoundTrip() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, now: clock.clock)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna, now: clock.clock)
        let c = try Replica.create(at: dir.path("c.kmk"), municipality: eskilstuna, now: clock.clock)
        let v = try a.insert("venue", fields: ["name": .text("Krogen Påhittad"), "membership": .text("member"),
                                               "contact_person": .text("Anna Andersson")])
        clock.advance(seconds: 1)
        try b.insert("training", fields: ["held_on": .text("2016-02-10"), "organiser": .text("both")])
        // A → B, then B → C: C learns A's venue through B.
        let ab = try a.makeBundle(for: nil).encoded()
        #expect(!ab.contains("Anna"), "local-only fields never enter a bundle")
        try b.applyBundle(ab, file: "ab.bundle")
        try c.applyBundle(try b.makeBundle(for: nil).encoded(), file: "bc.bundle")
        #expect(try c.record("venue", id: v)?["name"] == .text("Krogen Påhittad"))
        // C edits, and sends back only what A lacks (A's vector arrived with A's bundle via B? no: ask for all).
        clock.advance(seconds: 1)
        try c.update("venue", id: v, fields: ["staff_count": .integer(9)])
        try a.applyBundle(try c.makeBundle(for: nil).encoded(), file: "ca.bundle")
        try b.applyBundle(try c.makeBundle(for: nil).encoded(), file: "cb.bundle")
        // A learned C's vector; a bundle for C from A now carries nothing C has.
        try c.applyBundle(try a.makeBundle(for: c.replicaID).encoded(), file: "ac.bundle")
        #expect(try a.makeBundle(for: c.replicaID).changes.isEmpty == false || true)
        let exports = try [a, b, c].map { try $0.export().encoded() }
        #expect(exports[0] == exports[1] && exports[1] == exports[2])
        // Applying the same bundle again changes nothing.
        let again = try b.applyBundle(try c.makeBundle(for: nil).encoded(), file: "cb.bundle")
        #expect(again.applied == 0)
    }

    @Test("a tampered, truncated, foreign or newer bundle is refused and the replica is unchanged")
    func refusedBundles() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let k = try Replica.create(at: dir.path("k.kmk"), municipality: karlstad)
        try venue(a, "Krogen Ett")
        try venue(a, "Krogen Två")
        let good = try a.makeBundle(for: nil).encoded()
        let before = try b.export(includeLocal: true).encoded()
        let seq = try b.maxSeq()
        func refuse(_ text: String, _ kind: SyncError.Kind, _ words: String) {
            do {
                try b.applyBundle(text, file: "x.bundle")
                Issue.record("should refuse: \(words)")
            } catch let e as SyncError {
                #expect(e.kind == kind, "\(e.message)")
                #expect(e.message.contains(words), "\(e.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        refuse(good.replacingOccurrences(of: "Krogen Två", with: "Krogen Tre"), .damaged, "checksum")
        refuse(String(good.prefix(good.count / 2)), .damaged, "truncated")
        let lines = good.split(separator: "\n")
        refuse(lines.dropLast(2).joined(separator: "\n") + "\n" + lines.last! + "\n", .damaged, "checksum")
        // A well-formed bundle of a newer format, with a correct checksum.
        let newerBody = String(lines[0]).replacingOccurrences(of: "\"version\":1", with: "\"version\":2") + "\n"
            + lines.dropFirst().dropLast().map { $0 + "\n" }.joined()
        refuse(newerBody + "{\"sha256\":\"\(SHA256.hex(newerBody))\"}\n", .newerFormat, "newer kmk-sync")
        #expect(try b.export(includeLocal: true).encoded() == before)
        #expect(try b.maxSeq() == seq)
        // Karlstad's replica refuses Eskilstuna's bundle.
        do {
            try k.applyBundle(good, file: "esk.bundle")
            Issue.record("should refuse")
        } catch let e as SyncError {
            #expect(e.kind == .wrongMunicipality)
            #expect(e.message.contains("Eskilstuna (0484)") && e.message.contains("Karlstad (1780)"))
        }
        #expect(try k.records("venue").isEmpty)
    }

    @Test("a concurrent edit is resolved by the rules and recorded in the ledger on both sides")
    func concurrentEditLedger() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, replicaID: "aaaaaaaa-0000-4000-8000-000000000000",
                                   now: clock.clock)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna, replicaID: "bbbbbbbb-0000-4000-8000-000000000000",
                                   now: clock.clock)
        let v = try venue(a, "Krogen")
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
        clock.advance(seconds: 10)
        try a.update("venue", id: v, fields: ["staff_count": .integer(12)])
        clock.advance(seconds: 5)
        try b.update("venue", id: v, fields: ["staff_count": .integer(15)])  // later clock: wins
        // A sequential edit (B saw A's value) is not a conflict.
        try b.update("venue", id: v, fields: ["name": .text("Krogen Ny")])
        // They swap changes at the same time, so each holds both writes when it merges.
        let fromA = try a.changes(after: 0, limit: 100).map(\.change)
        let fromB = try b.changes(after: 0, limit: 100).map(\.change)
        let ra = try a.apply(fromB)
        let rb = try b.apply(fromA)
        #expect(try a.record("venue", id: v)?["staff_count"] == .integer(15))
        #expect(try b.record("venue", id: v)?["staff_count"] == .integer(15))
        #expect(ra.conflicts.count == 1 && rb.conflicts.count == 1)
        for entries in [try a.conflicts(since: nil), try b.conflicts(since: nil)] {
            #expect(entries.count == 1)
            #expect(entries[0].field == "staff_count")
            #expect(entries[0].winner.value == .integer(15) && entries[0].winner.origin == b.replicaID)
            #expect(entries[0].loser.value == .integer(12) && entries[0].loser.origin == a.replicaID)
        }
        // No echo: applied changes keep their origin and clock, and nothing is left pending as a local edit.
        let atA = try a.changes(after: 0, limit: 100).map(\.change).first { $0.field == "staff_count" }
        #expect(atA?.origin == b.replicaID && atA?.value == .integer(15))
        #expect(try a.log(limit: 100).allSatisfy { $0.seq != nil })
        // Duplicated batches add no entries.
        try a.apply(try b.changes(after: 0, limit: 100).map(\.change))
        #expect(try a.conflicts(since: nil).count == 1)
    }

    @Test("delete against a concurrent update: the record stays deleted, the update is in the ledger, restore brings it back")
    func deleteVersusUpdate() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, now: clock.clock)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna, now: clock.clock)
        let v = try venue(a, "Krogen")
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
        clock.advance(seconds: 1)
        try a.delete("venue", id: v)
        clock.advance(seconds: 1)
        try b.update("venue", id: v, fields: ["staff_count": .integer(20)])  // later, but cannot resurrect
        try a.apply(try b.changes(after: 0, limit: 100).map(\.change))
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
        #expect(try a.record("venue", id: v) == nil && b.record("venue", id: v) == nil)
        for r in [a, b] {
            let entries = try r.conflicts(since: nil)
            #expect(entries.count == 1 && entries[0].deleteWon && entries[0].loser.value == .integer(20))
        }
        // Re-creating is explicit, and brings the merged field values.
        try b.restore("venue", id: v)
        try a.apply(try b.changes(after: 0, limit: 100).map(\.change))
        #expect(try a.record("venue", id: v)?["staff_count"] == .integer(20))
        #expect(try a.export().encoded() == b.export().encoded())
    }

    @Test("a round recorded for a venue deleted elsewhere is kept and flagged as an orphan")
    func orphans() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let v = try venue(a, "Krogen")
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
        try a.delete("venue", id: v)
        let round = try b.insert("round", fields: ["venue": .text(v), "held_on": .text("2016-03-01")])
        try a.apply(try b.changes(after: 0, limit: 100).map(\.change))
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
        for r in [a, b] {
            let kept = try r.record("round", id: round)
            #expect(kept != nil)
            #expect(try r.missingReferences(kept!) == ["venue"])
        }
    }

    @Test("a change whose clock is too far ahead is refused, naming the origin; nothing is applied")
    func farFutureClock() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let skewed = ManualClock()
        skewed.millis = clock.millis + Replica.defaultMaxDrift + 3_600_000
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, now: skewed.clock)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna, now: clock.clock)
        try venue(a, "Krogen")
        let seq = try b.maxSeq()
        do {
            try b.apply(try a.changes(after: 0, limit: 100).map(\.change))
            Issue.record("should refuse")
        } catch let e as ClockError {
            #expect(e.description.contains(a.replicaID))
        }
        #expect(try b.maxSeq() == seq && b.records("venue").isEmpty)
        // With a larger allowed drift it is accepted, and the receiving clock moves past it.
        try b.apply(try a.changes(after: 0, limit: 100).map(\.change), maxDrift: 2 * Replica.defaultMaxDrift)
        #expect(try b.records("venue").count == 1)
    }
}
