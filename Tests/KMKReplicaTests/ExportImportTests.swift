import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Export and import")
struct ExportImportTests {
    func sampleRecords() -> [Record] {
        let v1 = "11111111-1111-4111-8111-111111111111"
        let v2 = "22222222-2222-4222-8222-222222222222"
        return [
            Record(entity: "venue", id: v1, fields: ["name": .text("Krogen Ärlig"), "membership": .text("member"),
                                                     "has_drug_policy": .integer(1), "staff_count": .integer(12)]),
            Record(entity: "venue", id: v2, fields: ["name": .text("Nattklubben 🦉"), "membership": .text("applicant")]),
            Record(entity: "round", id: "33333333-3333-4333-8333-333333333333",
                   fields: ["venue": .text(v1), "held_on": .text("2016-03-01"), "participants": .text("municipality,police")]),
            Record(entity: "indicator", id: "44444444-4444-4444-8444-444444444444",
                   fields: ["name": .text("Avloppsvatten"), "period": .text("2024"), "value": .real(12.5)]),
        ]
    }

    @Test("two replicas given the same records in a different order export the same bytes")
    func identicalExport() throws {
        let dir = try TempDir()
        let a = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let b = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let records = sampleRecords()
        // a: one import; b: one record at a time, in reverse order of entities where references allow.
        try a.importRecords(records, mode: .replace)
        for r in [records[0], records[3], records[1], records[2]] {
            try b.set(r.entity, id: r.id, fields: r.fields)
        }
        let ea = try a.export().encoded()
        let eb = try b.export().encoded()
        #expect(ea == eb)
        #expect(ea.contains("\"name\":\"Nattklubben 🦉\""))
        // And the export reads back to the same records.
        let doc = try ExportDocument.decode(ea, file: "a.json")
        #expect(doc.records.count == records.count + 1)  // + the municipality profile
        let c = try Replica.create(at: dir.path("c.kmk"), municipality: eskilstuna)
        try c.importRecords(doc.records, mode: .replace)
        #expect(try c.export().encoded() == ea)
    }

    @Test("a CSV venue list with one bad row is rejected whole")
    func csvRejectedWhole() throws {
        let dir = try TempDir()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        let csv = """
            namn;adress;medlemskap;drogpolicy
            Krogen Ett;Storgatan 1;member;ja
            Krogen Två;Storgatan 2;medlem;nej
            Krogen Tre;Storgatan 3;applicant;ja
            """
        let seq = try r.maxSeq()
        do {
            let records = try CSVImport.records(csv, file: "krogar.csv", makeID: { RecordID.make() })
            try r.importRecords(records, mode: .merge)
            Issue.record("the import should fail")
        } catch let e as ModelError {
            #expect(e.message.contains("krogar.csv:3"))
            #expect(e.message.contains("membership"))
        }
        #expect(try r.records("venue").isEmpty)
        #expect(try r.maxSeq() == seq)
    }

    @Test("an import whose record breaks a rule writes nothing")
    func importAllOrNothing() throws {
        let dir = try TempDir()
        let r = try Replica.create(at: dir.path("a.kmk"), municipality: eskilstuna)
        var records = sampleRecords()
        records.append(Record(entity: "round", id: "55555555-5555-4555-8555-555555555555",
                              fields: ["venue": .text("99999999-9999-4999-8999-999999999999"), "held_on": .text("2016-03-01")]))
        let error = #expect(throws: ReplicaError.self) { try r.importRecords(records, mode: .replace) }
        #expect(error?.message.contains("round 55555555-5555-4555-8555-555555555555: field 'venue' points at venue 99999999") == true,
                "\(error?.message ?? "no error")")
        #expect(try r.records("venue").isEmpty)
        // A new record needs its required fields, named in the message.
        let nameless = Record(entity: "venue", id: "77777777-7777-4777-8777-777777777777", fields: ["address": .text("Storgatan 1")])
        let missing = #expect(throws: ReplicaError.self) { try r.importRecords([nameless], mode: .merge) }
        #expect(missing?.message.hasPrefix("a new venue needs name (") == true && missing?.message.contains(", membership (") == true,
                "\(missing?.message ?? "no error")")
        // National reference data in a municipality's import (its own export holds what it pulled)
        // is passed over: it arrives by pull (SPEC.md §5). The styrgrupp's replica imports none.
        let criterion = Record(entity: "criterion", id: "66666666-6666-4666-8666-666666666666", fields: [:])
        let national = try Replica.create(at: dir.path("n.kmk"), municipality: .national)
        let refused = #expect(throws: ReplicaError.self) { try national.importRecords([criterion], mode: .replace) }
        #expect(refused?.message.contains("kmk-sync criteria") == true, "\(refused?.message ?? "no error")")
        let imported = try r.importRecords(sampleRecords() + [criterion], mode: .replace)
        #expect(imported.created == sampleRecords().count)
        #expect(try r.record("criterion", id: criterion.id) == nil)
        // A failed import leaves the connection's capture triggers on: a write after it is captured.
        let seqBefore = try r.maxSeq()
        let venue = try r.insert("venue", fields: ["name": .text("Efteråt"), "membership": .text("member")])
        #expect(try r.log(limit: 100).contains { $0.change.id == venue && $0.change.field == "name" && $0.seq == seqBefore + 1 })
    }
}
