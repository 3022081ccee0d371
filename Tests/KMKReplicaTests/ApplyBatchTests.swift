import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Apply batches")
struct ApplyBatchTests {
    static let one = "11111111-0000-4000-8000-000000000000"
    static let two = "22222222-0000-4000-8000-000000000000"

    func change(_ id: String, _ field: String, _ value: Value, ms: UInt64, origin: String) -> Change {
        Change(entity: "venue", id: id, field: field, value: value, clock: HLC(millis: ms, counter: 0), origin: origin,
               municipality: eskilstuna.code)
    }

    func creation(_ id: String, name: String, ms: UInt64, origin: String) -> [Change] {
        [change(id, Change.lifecycleField, .integer(1), ms: ms, origin: origin), change(id, "name", .text(name), ms: ms, origin: origin),
         change(id, "membership", .text("member"), ms: ms, origin: origin)]
    }

    /// A new replica of Eskilstuna in `dir`, on `clock`.
    func replica(in dir: TempDir, _ clock: ManualClock) throws -> Replica {
        try Replica.create(at: dir.path("r.kmk"), municipality: eskilstuna, replicaID: "rrrrrrrr-0000-4000-8000-000000000000",
                           now: clock.clock)
    }

    /// Apply reads the registers of a batch's records with one query per entity and up to 10,000
    /// ids (a JSON array). A known record it failed to find would look new: its remote write
    /// would win without a ledger entry and its row would not be updated.
    @Test("known and new records in one batch, more ids than one read takes, ids that JSON must escape: every known record is found")
    func knownAndNew() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let r = try replica(in: dir, clock)
        let t0 = clock.millis
        // Record ids are 36 characters long (the domain table checks it).
        func id(_ s: String) -> String { s + String(repeating: "x", count: 36 - s.unicodeScalars.count) }
        let odd = ["quote\"id", "back\\slash", "tab\tid", "new\nline", "åäö-\u{1F600}", "[1,2]", "\u{1}ctl"].map(id)
        let ids = odd + (0..<10_050).map { id("v" + String($0)) }
        let created = try r.apply(ids.flatMap { creation($0, name: "one", ms: t0 - 2000, origin: Self.one) })
        #expect(created.applied == 3 * ids.count && created.conflicts.isEmpty)
        // Origin two had seen none of origin one's writes: each of its names conflicts and wins
        // (later clock). New records come between them, and the first record comes back at the end.
        let fresh = [id("fresh\"1"), id("fresh2")]
        var update: [Change] = []
        for (k, id) in ids.enumerated() {
            update.append(change(id, "name", .text("two"), ms: t0 - 1000, origin: Self.two))
            if k < fresh.count { update += creation(fresh[k], name: "new", ms: t0 - 1000, origin: Self.two) }
        }
        update.append(change(ids[0], "membership", .text("left"), ms: t0 - 1000, origin: Self.two))
        let merged = try r.apply(update)
        #expect(merged.applied == update.count)
        #expect(merged.conflicts.count == ids.count + 1)
        #expect(Set(merged.conflicts.map(\.id)) == Set(ids))
        #expect(merged.conflicts.allSatisfy { $0.winner.origin == Self.two && $0.loser.origin == Self.one })
        for id in odd + [ids[odd.count], ids.last!] {
            #expect(try r.record("venue", id: id)?["name"] == .text("two"), "\(id.debugDescription)")
        }
        #expect(try r.record("venue", id: ids[0])?["membership"] == .text("left"))
        for id in fresh { #expect(try r.record("venue", id: id)?["name"] == .text("new")) }
        #expect(try r.conflicts(since: nil).count == ids.count + 1)
        // The same batch again: every change is already here.
        let again = try r.apply(update)
        #expect(again.applied == 0 && again.conflicts.isEmpty)
    }

    /// The ledger keys each entry by its parts (SPEC.md §8): a losing write that arrives again
    /// records nothing new, and a conflict between the same writes in another field, or with
    /// another losing origin, is its own entry. Origins are stored as site numbers and listed as
    /// replica ids, this replica's own included.
    @Test("a conflict resolved twice is one ledger entry; origins come back as replica ids")
    func ledgerKey() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let r = try replica(in: dir, clock)
        let t0 = clock.millis
        let id = "0c2f0000-0000-4000-8000-000000000000"
        #expect(try r.apply(creation(id, name: "first", ms: t0 - 5000, origin: Self.one)).applied == 3)
        try r.update("venue", id: id, fields: ["name": .text("mine"), "membership": .text("left")])
        // Two origins that had not seen the local edit write both fields earlier: each loses.
        let losing = [change(id, "name", .text("two's"), ms: t0 - 1000, origin: Self.two),
                      change(id, "membership", .text("member"), ms: t0 - 1000, origin: Self.two),
                      change(id, "name", .text("one's"), ms: t0 - 900, origin: Self.one)]
        let first = try r.apply(losing)
        #expect(first.applied == 0 && first.conflicts.count == 3)
        for again in 1...2 {
            let repeated = try r.apply(losing)
            #expect(repeated.conflicts.isEmpty, "apply \(again + 1)")
        }
        let entries = try r.conflicts(since: nil)
        // As the apply reported them (bases are not kept in the ledger).
        func parts(_ e: LedgerEntry) -> String {
            "\(e.entity) \(e.id) \(e.field) \(e.deleteWon) \(e.winner.value) \(e.winner.clock) \(e.winner.origin) "
                + "\(e.loser.value) \(e.loser.clock) \(e.loser.origin) \(e.resolvedAt)"
        }
        #expect(entries.map(parts) == first.conflicts.map(parts))
        #expect(entries.map(\.field) == ["name", "membership", "name"])
        #expect(entries.allSatisfy { $0.winner.origin == r.replicaID && $0.winner.value != $0.loser.value })
        #expect(entries.map(\.loser.origin) == [Self.two, Self.two, Self.one])
        #expect(entries.map(\.loser.value) == [.text("two's"), .text("member"), .text("one's")])
        #expect(try r.record("venue", id: id)?["name"] == .text("mine"))
        r.close()
    }
}
