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

    /// The sequence number of each register of venue `id` in the change log, by field.
    func numbers(_ r: Replica, _ id: String) throws -> [String: Int64?] {
        Dictionary(uniqueKeysWithValues: try r.log(limit: 10_000).filter { $0.change.id == id }.map { ($0.change.field, $0.seq) })
    }

    /// A batch of field writes reads only the registers it names (with the lifecycle) when a live
    /// record is settled (SPEC.md §4), and the whole row otherwise; either way the record ends as
    /// if every register had been read.
    @Test("a pulled field write: a settled record's other registers take its new number, a pushed record's keep theirs, and another program's pending edit is clocked first")
    func fieldWritesKeepTheRest() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let r = try replica(in: dir, clock)
        let pushed = try r.insert("venue", fields: ["name": .text("Pushad"), "membership": .text("member"), "staff_count": .integer(3)])
        let batch = try #require(try r.nextPushBatch(maxCount: 100, maxBytes: 1_000_000))
        try r.acknowledgePush(batch: batch.batch.batch, upTo: batch.upTo, hubID: "hub")
        clock.advance(seconds: 1)
        let createdAt = clock.millis
        let settled = try r.insert("venue", fields: ["name": .text("Ny"), "membership": .text("member"), "staff_count": .integer(4)])
        let pending = try r.insert("venue", fields: ["name": .text("Skal"), "membership": .text("member"), "staff_count": .integer(5)])
        let before = (pushed: try numbers(r, pushed), settled: try numbers(r, settled))
        #expect(before.pushed.count == 4 && before.settled.count == 4)
        // Another program edits one venue's address: the row is pending (no number) until clocked.
        let shell = try sqlite3Shell(dir.path("r.kmk"), "UPDATE venue SET address = 'Skalgatan 1' WHERE id = '\(pending)';")
        #expect(shell.status == 0, "\(shell.stderr)")

        clock.advance(seconds: 1)
        let ms = clock.millis - 500
        // Origin one had seen none of the local writes, so each staff count is a conflict that it
        // wins; an older write of the settled record's name, which had not seen it either, loses.
        // The ledger names the values read with the registers.
        let result = try r.apply([pushed, settled, pending].map { change($0, "staff_count", .integer(40), ms: ms, origin: Self.one) }
            + [change(settled, "name", .text("Gammal"), ms: createdAt - 100, origin: Self.two)])
        #expect(result.applied == 3)
        #expect(result.conflicts.map { "\($0.id) \($0.field) \($0.winner.value) \($0.loser.value)" }
            == ["\(pushed) staff_count 40 3", "\(settled) staff_count 40 4", "\(pending) staff_count 40 5", "\(settled) name Ny Gammal"])
        let after = (pushed: try numbers(r, pushed), settled: try numbers(r, settled))
        // The pushed record's written register takes its new number; the others keep theirs.
        let newPushed = try #require(after.pushed["staff_count"] ?? nil)
        #expect(newPushed > (before.pushed["staff_count"] ?? nil) ?? 0)
        #expect(after.pushed.filter { $0.key != "staff_count" } == before.pushed.filter { $0.key != "staff_count" })
        // The settled record was never pushed: every register carries its new number.
        let newSettled = try #require(after.settled["staff_count"] ?? nil)
        #expect(after.settled.values.allSatisfy { $0 == newSettled } && after.settled.count == 4)
        #expect(try r.record("venue", id: settled)?["staff_count"] == .integer(40))
        #expect(try r.record("venue", id: settled)?["name"] == .text("Ny"))
        // To push: the settled record's four registers, the pushed one's written register, and the
        // pending record's five (never pushed, so all carry the number it took): the other
        // program's edit was clocked as the apply began, before the push mark could move
        // (SPEC.md §4, "The push mark").
        #expect(try r.pendingOutgoing() == 4 + 1 + 5)
        let clocked = try #require(try r.log(limit: 10_000).first { $0.change.id == pending && $0.change.field == "address" })
        #expect(clocked.seq != nil && clocked.change.origin == r.replicaID)
        r.close()
        let again = try Replica.open(at: dir.path("r.kmk"), now: clock.clock)
        defer { again.close() }
        let address = try #require(try again.log(limit: 10_000).first { $0.change.id == pending && $0.change.field == "address" })
        #expect(address.seq != nil && address.change.value == .text("Skalgatan 1") && address.change.origin == again.replicaID)
        #expect(try again.record("venue", id: pending)?["staff_count"] == .integer(40))
        #expect(try again.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
    }

    /// Ledger entries are written in groups of several rows per statement (``LedgerWriter``): the
    /// entries whose key is already there must be told apart from the new ones in the same group.
    @Test("ledger entries written in groups: a batch mixing conflicts already recorded with new ones stores and reports only the new, numbered in order")
    func ledgerGroups() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let r = try replica(in: dir, clock)
        let old = clock.millis - 60_000
        let ids = try (0..<40).map { k in try r.insert("venue", fields: ["name": .text("Lokal \(k)"), "membership": .text("member")]) }
        // Older names from origin one, which had not seen the local ones: each conflicts and loses.
        func name(_ k: Int) -> Change { change(ids[k], "name", .text("Fjärran \(k)"), ms: old + UInt64(k), origin: Self.one) }
        let first = try r.apply(stride(from: 0, to: 40, by: 3).map(name))
        #expect(first.conflicts.map(\.id) == stride(from: 0, to: 40, by: 3).map { ids[$0] })
        clock.advance(seconds: 1)
        let second = try r.apply((0..<40).map(name))
        let fresh = (0..<40).filter { $0 % 3 != 0 }.map { ids[$0] }
        #expect(second.conflicts.map(\.id) == fresh, "only the conflicts not yet recorded, in the batch's order")
        #expect(second.conflicts.allSatisfy { $0.loser.origin == Self.one && $0.winner.origin == r.replicaID })
        #expect(try r.apply((0..<40).map(name)).conflicts.isEmpty)
        let numbers = try sqlite3Shell(dir.path("r.kmk"), "SELECT n FROM kmk_ledger ORDER BY n;").stdout.split(separator: "\n").compactMap { Int64($0) }
        #expect(numbers.count == 40 && Set(numbers).count == 40)
        #expect(try r.meta("ledger.n") == .integer(numbers.max() ?? -1))
        // The listing: the first batch's entries, then the second's, each in the order resolved.
        #expect(try r.conflicts(since: nil).map(\.id) == stride(from: 0, to: 40, by: 3).map { ids[$0] } + fresh)
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
