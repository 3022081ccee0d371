import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Issue 24 §4: per batch the hub keeps the token, replica, municipality, time and change count,
/// and each register names the batch that wrote its current value.
@Suite("Hub audit")
struct HubAuditTests {
    let anna = "aaaaaaaa-2222-4333-8444-555555555555"
    let bo = "bbbbbbbb-2222-4333-8444-555555555555"
    let venue = "00000000-0000-4000-8000-000000000001"

    func name(_ value: String, millis: UInt64, origin: String) -> Change {
        Change(entity: "venue", id: venue, field: "name", value: .text(value), clock: HLC(millis: millis, counter: 0), origin: origin,
               municipality: "0484")
    }

    @Test("who last changed this venue's name, with which token, when: the batch of the value that won")
    func whoWroteWhat() throws {
        let dir = try TempDir()
        let clock = ManualClock()
        let hub = try HubStore.open(at: dir.path("hub.db"), now: clock.clock)
        let (annaToken, _) = try hub.createToken(scope: .municipality("0484"), label: "Anna, miljökontoret")
        let (boToken, _) = try hub.createToken(scope: .municipality("0484"), label: "Bo")
        let created = Change(entity: "venue", id: venue, field: Change.lifecycleField, value: .integer(1),
                             clock: HLC(millis: 1_000_000, counter: 0), origin: anna, municipality: "0484")
        _ = try hub.push(PushBatch(replica: anna, batch: 1, schema: 1, changes: [created, name("Krogen", millis: 1_000_000, origin: anna)]),
                         scope: .municipality("0484"), token: annaToken, maxDrift: 3_600_000)
        clock.advance(seconds: 60)
        // Bo renames it; later Anna re-sends the old name (a relay, ignored) and an older rename (loses).
        _ = try hub.push(PushBatch(replica: bo, batch: 1, schema: 1, changes: [name("Krogen Nya", millis: 2_000_000, origin: bo)]),
                         scope: .municipality("0484"), token: boToken, maxDrift: 3_600_000)
        clock.advance(seconds: 60)
        _ = try hub.push(PushBatch(replica: anna, batch: 2, schema: 1,
                                   changes: [created, name("Krogen gamla", millis: 1_500_000, origin: anna)]),
                         scope: .municipality("0484"), token: annaToken, maxDrift: 3_600_000)

        let registers = try hub.auditRecord(venue.uppercased(), municipality: nil)
        #expect(registers.map(\.change.field) == [Change.lifecycleField, "name"])
        let nameBatch = try #require(registers.last?.batch)
        #expect(registers.last?.change.value == .text("Krogen Nya"))
        #expect(nameBatch.token == boToken && nameBatch.label == "Bo" && nameBatch.replica == bo && nameBatch.scope == "0484")
        #expect(nameBatch.batch == 1 && nameBatch.changes == 1 && nameBatch.applied == 1)
        #expect(nameBatch.at == clock.millis - 60_000)
        #expect(registers.first?.batch?.token == annaToken && registers.first?.batch?.label == "Anna, miljökontoret")
        #expect(try hub.auditRecord(venue, municipality: "1780").isEmpty)

        // Batches, newest first: Anna's second (2 changes, none won), Bo's, Anna's first.
        let batches = try hub.auditBatches(municipality: "0484", limit: 10)
        #expect(batches.map(\.replica) == [anna, bo, anna])
        #expect(batches.map(\.applied) == [0, 1, 2] && batches.map(\.changes) == [2, 1, 2])
        #expect(try hub.auditBatches(municipality: "0484", limit: 1).count == 1)
        #expect(try hub.auditBatches(municipality: "1780", limit: 10).isEmpty)
        // A refused batch leaves no trace.
        let forged = name("Hackad", millis: 3_000_000, origin: bo)
        #expect(throws: ReplicaError.self) {
            try hub.push(PushBatch(replica: "cccccccc-2222-4333-8444-555555555555", batch: 1, schema: 1, changes: [forged]),
                         scope: .municipality("1780"), token: "t-kar", maxDrift: 3_600_000)
        }
        #expect(try hub.auditBatches(municipality: nil, limit: 10).count == 3)
    }

    @Test("a store made before the audit gets hub_batch and hub_register.batch when opened; older values say so")
    func upgradesOldStore() throws {
        let dir = try TempDir()
        let path = dir.path("hub.db")
        let hub = try HubStore.open(at: path, now: ManualClock().clock)
        _ = try hub.push(PushBatch(replica: anna, batch: 1, schema: 1, changes: [name("Krogen", millis: 1_000_000, origin: anna)]),
                         scope: .municipality("0484"), maxDrift: 3_600_000)
        hub.close()
        // Back to the layout of the stores before this version.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [path, "DROP TABLE hub_batch; ALTER TABLE hub_register DROP COLUMN batch;"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)

        let old = try HubStore.open(at: path, now: ManualClock().clock)
        #expect(try old.auditRecord(venue, municipality: nil).map(\.batch) == [nil])
        _ = try old.push(PushBatch(replica: anna, batch: 2, schema: 1, changes: [name("Krogen 2", millis: 2_000_000, origin: anna)]),
                         scope: .municipality("0484"), token: "t-x", maxDrift: 3_600_000)
        #expect(try old.auditRecord(venue, municipality: nil).first?.batch?.token == "t-x")
        #expect(try old.auditBatches(municipality: nil, limit: 5).map(\.batch) == [2])
    }
}
