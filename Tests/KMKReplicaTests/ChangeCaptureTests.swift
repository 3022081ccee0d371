import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Change capture")
struct ChangeCaptureTests {
    @Test("library insert, update, delete and restore each become changes with clocks")
    func libraryWrites() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna, now: clock.clock)
        let before = try r.maxSeq()
        clock.advance(seconds: 1)
        let id = try r.insert("venue", fields: ["name": .text("Krogen Påhitt"), "membership": .text("member"),
                                                "staff_count": .integer(12)])
        let created = try r.changes(after: before, limit: 100)
        #expect(Set(created.map(\.change.field)) == [Change.lifecycleField, "name", "membership", "staff_count"])
        #expect(created.allSatisfy { $0.change.id == id && $0.change.origin == r.replicaID })
        #expect(created.first { $0.change.isLifecycle }?.change.value == .integer(1))
        let createClock = created[0].change.clock
        #expect(createClock.millis == clock.millis)

        clock.advance(seconds: 1)
        let seqAfterCreate = try r.maxSeq()
        try r.update("venue", id: id, fields: ["staff_count": .integer(14), "name": .text("Krogen Påhitt")])
        // Nothing was pushed, so the record's other registers take its new sequence number too
        // (SPEC.md §4), keeping their clocks: only staff_count is a new write.
        let updated = try r.changes(after: seqAfterCreate, limit: 100)
        #expect(Set(updated.map(\.change.field)) == Set(created.map(\.change.field)))
        #expect(Set(updated.map(\.seq)).count == 1, "one record, one sequence number")
        let rewritten = updated.filter { $0.change.clock > createClock }
        #expect(rewritten.map(\.change.field) == ["staff_count"], "an unchanged value is not a change")
        #expect(rewritten.first?.change.value == .integer(14))
        #expect(rewritten.first?.change.base == createClock, "base is the clock of the overwritten value")
        #expect(updated.first { $0.change.field == "name" }?.change.clock == createClock)
        let updateClock = try #require(rewritten.first?.change.clock)

        let seqAfterUpdate = try r.maxSeq()
        try r.delete("venue", id: id)
        let deleted = try r.changes(after: seqAfterUpdate, limit: 100).filter { $0.change.clock > updateClock }
        #expect(deleted.count == 1)
        #expect(deleted.first?.change.isLifecycle == true && deleted.first?.change.value == .integer(2))
        #expect(try r.record("venue", id: id) == nil)

        try r.restore("venue", id: id)
        #expect(try r.record("venue", id: id)?["staff_count"] == .integer(14), "restore brings back the synced fields")
        let restored = try r.changes(after: seqAfterUpdate, limit: 100)
        #expect(restored.first { $0.change.isLifecycle }?.change.value == .integer(3))
        #expect(restored.filter { $0.change.clock > updateClock }.map(\.change.field) == [Change.lifecycleField],
                "the restored values equal the kept ones: only the lifecycle is written")
    }

    @Test("UPDATE, DELETE and INSERT from the sqlite3 shell are captured and clocked at the next open")
    func externalSQL() throws {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        let clock = ManualClock()
        var r = try Replica.create(at: path, municipality: eskilstuna, now: clock.clock)
        let created = clock.millis
        let a = try r.insert("venue", fields: ["name": .text("Krogen Ett"), "membership": .text("member")])
        let b = try r.insert("venue", fields: ["name": .text("Krogen Två"), "membership": .text("applicant")])
        let lastLocal = try r.log(limit: 1)[0].change.clock
        let seq = try r.maxSeq()
        r.close()

        let result = try sqlite3Shell(path, """
            UPDATE venue SET staff_count = 30, membership = 'member' WHERE id = '\(b)';
            DELETE FROM venue WHERE id = '\(a)';
            INSERT INTO venue (name, membership) VALUES ('Krogen Tre', 'applicant');
            """)
        #expect(result.status == 0, "sqlite3 failed: \(result.stderr)")

        clock.advance(seconds: 60)
        r = try Replica.open(at: path, now: clock.clock)
        // The touched records' unpushed registers share their record's new number (SPEC.md §4);
        // those the SQL did not write keep their clocks.
        let all = try r.changes(after: seq, limit: 100).map(\.change)
        let kept = all.filter { $0.clock <= lastLocal }.map { "\($0.id == b ? "b" : $0.id == a ? "a" : "new").\($0.field)" }
        #expect(Set(kept) == ["b.$cl", "b.name", "a.name", "a.membership"])
        let changes = all.filter { $0.clock > lastLocal }
        #expect(changes.count == 6 && changes.allSatisfy { $0.clock.millis == clock.millis })
        let byField = Dictionary(grouping: changes, by: { "\($0.id == b ? "b" : $0.id == a ? "a" : "new").\($0.field)" })
        #expect(byField["b.staff_count"]?.first?.value == .integer(30))
        #expect(byField["b.membership"]?.first?.value == .text("member"))
        #expect(byField["a.$cl"]?.first?.value == .integer(2), "the DELETE is a lifecycle change to an even length")
        #expect(byField["new.$cl"]?.first?.value == .integer(1))
        #expect(byField["new.name"]?.first?.value == .text("Krogen Tre"))
        let newID = changes.first { $0.field == "name" && $0.value == .text("Krogen Tre") }!.id
        #expect(RecordID.isValid(newID) && newID.count == 36, "the SQL default gives a UUID id")
        // A version-7 id from the SQL default, with the system's time (not the replica's clock)...
        let sqlMillis = RecordID.millis(of: newID) ?? 0
        let wall = UInt64(Date().timeIntervalSince1970 * 1_000)
        #expect(Array(newID)[14] == "7" && sqlMillis <= wall && wall - sqlMillis < 600_000, "\(newID) against \(wall)")
        // ...and from the replica's insert, with the replica's clock at the time.
        #expect(Array(a)[14] == "7" && RecordID.millis(of: a) == created)
        #expect(try r.log(limit: 100).allSatisfy { $0.seq != nil }, "nothing is left pending")
    }

    @Test("an external UPDATE of a local-only field is not a change; an id cannot be changed")
    func externalLocalOnlyAndIdGuard() throws {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        var r = try Replica.create(at: path, municipality: eskilstuna)
        let a = try r.insert("venue", fields: ["name": .text("Krogen"), "membership": .text("member")])
        let seq = try r.maxSeq()
        r.close()
        #expect(try sqlite3Shell(path, "UPDATE venue SET contact_person = 'Anna Andersson' WHERE id = '\(a)';").status == 0)
        let guarded = try sqlite3Shell(path, "UPDATE venue SET id = '00000000-0000-4000-8000-000000000000' WHERE id = '\(a)';")
        #expect(guarded.status != 0)
        #expect(guarded.stderr.contains("a record id cannot change"))
        r = try Replica.open(at: path)
        #expect(try r.changes(after: seq, limit: 10).isEmpty)
        #expect(try r.record("venue", id: a)?["contact_person"] == .text("Anna Andersson"))
    }

    @Test("an invalid value from another program is refused by the table's CHECK constraints")
    func externalInvalidValue() throws {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        var r = try Replica.create(at: path, municipality: eskilstuna)
        let a = try r.insert("venue", fields: ["name": .text("Krogen"), "membership": .text("member")])
        r.close()
        for sql in [
            "UPDATE venue SET membership = 'medlem' WHERE id = '\(a)'",
            "UPDATE venue SET joined_on = '2016-02-30' WHERE id = '\(a)'",
            "UPDATE venue SET staff_count = -1 WHERE id = '\(a)'",
            "UPDATE venue SET has_drug_policy = 2 WHERE id = '\(a)'",
        ] {
            #expect(try sqlite3Shell(path, sql).status != 0, "\(sql) should be refused")
        }
        r = try Replica.open(at: path)
        #expect(try r.record("venue", id: a)?["membership"] == .text("member"))
    }

    @Test("local-only fields never enter the outgoing changes")
    func localOnlyStaysHome() throws {
        let dir = try TempDir()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let venue = try r.insert("venue", fields: [
            "name": .text("Krogen"), "membership": .text("member"), "contact_person": .text("Anna Andersson"),
            "contact_phone": .text("070-123 45 67"), "contact_email": .text("anna@example.se"), "notes": .text("Anna vet"),
        ])
        try r.update("municipality", id: "0484", fields: ["coordinator_name": .text("Bo Berg"), "has_coordinator": .integer(1)])
        _ = try r.insert("round", fields: ["venue": .text(venue), "held_on": .text("2016-03-01"), "notes": .text("Bo såg")])
        let changes = try r.changes(after: 0, limit: 1000).map(\.change)
        let localNames = Set(Schema.current.entities.flatMap { e in e.fields.filter(\.localOnly).map { "\(e.name).\($0.name)" } })
        #expect(!changes.isEmpty)
        #expect(changes.allSatisfy { !localNames.contains("\($0.entity).\($0.field)") })
        for secret in ["Anna Andersson", "070-123 45 67", "anna@example.se", "Anna vet", "Bo Berg", "Bo såg"] {
            #expect(!changes.contains { $0.value == .text(secret) })
        }
        // They are stored locally and exported only on request.
        #expect(try r.record("venue", id: venue)?["contact_person"] == .text("Anna Andersson"))
        #expect(!(try r.export().encoded().contains("Anna")))
        #expect(try r.export(includeLocal: true).encoded().contains("Anna Andersson"))
    }
}
