import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Issue 24 §1: a record belongs to the municipality it was first written for, and the hub
/// authorises every change against that municipality, not the one the change claims. Each test
/// is an attack by a token that may write *something*, never a malformed request.
@Suite("Hub record ownership")
struct HubOwnershipTests {
    static let eskilstuna = "0484"
    static let karlstad = "1780"
    let replicaA = "aaaaaaaa-2222-4333-8444-555555555555"
    let replicaB = "bbbbbbbb-2222-4333-8444-555555555555"
    let replicaS = "cccccccc-2222-4333-8444-555555555555"
    let drift: UInt64 = 3_600_000

    /// A deterministic record id.
    static func rid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// A record id for `entity`: a municipality profile's id is its kommunkod.
    func id(_ entity: EntitySpec, _ n: Int, municipality: String?) -> String {
        entity.name == "municipality" ? municipality ?? Self.eskilstuna : Self.rid(n)
    }

    func lifecycle(_ entity: EntitySpec, id: String, cl: Int64, millis: UInt64, origin: String, municipality: String?) -> Change {
        Change(entity: entity.name, id: id, field: Change.lifecycleField, value: .integer(cl),
               clock: HLC(millis: millis, counter: 0), origin: origin, municipality: municipality)
    }

    func venueName(_ id: String, _ name: String, millis: UInt64, origin: String, municipality: String) -> Change {
        Change(entity: "venue", id: id, field: "name", value: .text(name), clock: HLC(millis: millis, counter: 0),
               origin: origin, municipality: municipality)
    }

    /// Everything the hub holds, as change lines (a refused batch must leave this as it was).
    func state(_ hub: HubStore) throws -> [Change] {
        guard case .page(let page) = try hub.pull(cursor: nil, scope: .styrgrupp, limit: 100_000) else { return [] }
        return page.changes
    }

    func pulled(_ hub: HubStore, _ scope: HubScope) throws -> [Change] {
        guard case .page(let page) = try hub.pull(cursor: nil, scope: scope, limit: 100_000) else { return [] }
        return page.changes
    }

    /// Pushes and expects a 403-kind refusal naming the record; checks that nothing changed.
    func expectRefused(_ hub: HubStore, _ batch: PushBatch, _ scope: HubScope, naming change: Change,
                       _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try state(hub)
        let seq = try hub.counts().seq
        do {
            let outcome = try hub.push(batch, scope: scope, maxDrift: drift)
            Issue.record("\(comment): accepted (\(outcome)); expected a refusal", sourceLocation: sourceLocation)
        } catch let e as ReplicaError {
            #expect(e.kind == .permission, "\(comment): \(e)", sourceLocation: sourceLocation)
            #expect(e.message.contains(change.entity) && e.message.contains(change.id),
                    "\(comment): the message must name the record: \(e.message)", sourceLocation: sourceLocation)
            #expect(e.message.contains("nothing in the batch was written"), "\(comment): \(e.message)", sourceLocation: sourceLocation)
        }
        #expect(try state(hub) == before, "\(comment): the refused batch changed the hub", sourceLocation: sourceLocation)
        #expect(try hub.counts().seq == seq, "\(comment)", sourceLocation: sourceLocation)
    }

    @Test("for every entity: another municipality's token can neither update, delete nor claim a record it does not own")
    func everyEntity() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let a = HubScope.municipality(Self.eskilstuna)
        let b = HubScope.municipality(Self.karlstad)
        var batchA: Int64 = 0
        var batchB: Int64 = 0
        var batchS: Int64 = 0
        var millis: UInt64 = 1_000_000
        for (n, e) in Schema.current.entities.enumerated() {
            millis += 1_000
            switch e.scope {
            case .municipal:
                // Eskilstuna creates the record.
                let rid = id(e, n + 1, municipality: Self.eskilstuna)
                let create = lifecycle(e, id: rid, cl: 1, millis: millis, origin: replicaA, municipality: Self.eskilstuna)
                batchA += 1
                _ = try hub.push(PushBatch(replica: replicaA, batch: batchA, schema: 1, changes: [create]), scope: a, maxDrift: drift)
                // Karlstad deletes it, claiming the record is Karlstad's: refused, and with it Karlstad's own valid change.
                let delete = lifecycle(e, id: rid, cl: 2, millis: millis + 1, origin: replicaB, municipality: Self.karlstad)
                let own = venueName(Self.rid(500 + n), "Karlstads krog", millis: millis + 1, origin: replicaB, municipality: Self.karlstad)
                try expectRefused(hub, PushBatch(replica: replicaB, batch: batchB + 1, schema: 1, changes: [own, delete]), b,
                                  naming: delete, "\(e.name): Karlstad deletes Eskilstuna's record claiming Karlstad")
                // Claiming Eskilstuna (the truth) does not help Karlstad's token either.
                var honest = delete
                honest.municipality = Self.eskilstuna
                try expectRefused(hub, PushBatch(replica: replicaB, batch: batchB + 1, schema: 1, changes: [honest]), b,
                                  naming: honest, "\(e.name): Karlstad deletes Eskilstuna's record naming Eskilstuna")
                // Eskilstuna's token may not move its own record to Karlstad.
                var moved = lifecycle(e, id: rid, cl: 2, millis: millis + 2, origin: replicaA, municipality: Self.karlstad)
                if e.name == "municipality" { moved.municipality = Self.karlstad }
                try expectRefused(hub, PushBatch(replica: replicaA, batch: batchA + 1, schema: 1, changes: [moved]), a,
                                  naming: moved, "\(e.name): Eskilstuna moves its record to Karlstad")
                // The styrgrupp writes no municipal record.
                let styr = lifecycle(e, id: rid, cl: 2, millis: millis + 3, origin: replicaS, municipality: Self.eskilstuna)
                try expectRefused(hub, PushBatch(replica: replicaS, batch: batchS + 1, schema: 1, changes: [styr]), .styrgrupp,
                                  naming: styr, "\(e.name): the styrgrupp deletes a municipal record")
                // The owner still can.
                let ownDelete = lifecycle(e, id: rid, cl: 2, millis: millis + 4, origin: replicaA, municipality: Self.eskilstuna)
                batchA += 1
                let r = try hub.push(PushBatch(replica: replicaA, batch: batchA, schema: 1, changes: [ownDelete]), scope: a, maxDrift: drift)
                #expect(r == .accepted(PushReply(hub: hub.hubID, schema: 1, batch: batchA, duplicate: false, lastBatch: batchA,
                                                 applied: 1, ignored: 0)), "\(e.name)")
                #expect(try pulled(hub, b).allSatisfy { $0.municipality != Self.eskilstuna }, "\(e.name)")
            case .national:
                let rid = id(e, n + 1, municipality: nil)
                let create = lifecycle(e, id: rid, cl: 1, millis: millis, origin: replicaS, municipality: nil)
                // A municipality token creates no national record.
                try expectRefused(hub, PushBatch(replica: replicaA, batch: batchA + 1, schema: 1, changes: [create]), a,
                                  naming: create, "\(e.name): Eskilstuna creates national data")
                batchS += 1
                _ = try hub.push(PushBatch(replica: replicaS, batch: batchS, schema: 1, changes: [create]), scope: .styrgrupp, maxDrift: drift)
                // Nor deletes one, under any claim.
                let delete = lifecycle(e, id: rid, cl: 2, millis: millis + 1, origin: replicaA, municipality: nil)
                try expectRefused(hub, PushBatch(replica: replicaA, batch: batchA + 1, schema: 1, changes: [delete]), a,
                                  naming: delete, "\(e.name): Eskilstuna deletes national data")
                var claimed = delete
                claimed.municipality = Self.eskilstuna
                try expectRefused(hub, PushBatch(replica: replicaA, batch: batchA + 1, schema: 1, changes: [claimed]), a,
                                  naming: claimed, "\(e.name): Eskilstuna deletes national data claiming it is Eskilstuna's")
                #expect(try pulled(hub, a).contains(create), "\(e.name): still served to every municipality")
            }
        }
    }

    @Test("Eskilstuna's token renames and deletes a Karlstad venue, claiming Eskilstuna: 403, Karlstad's venue unchanged")
    func renameAnothersVenue() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let venue = Self.rid(1)
        let created = [
            lifecycle(Schema.current.entity("venue")!, id: venue, cl: 1, millis: 1_000_000, origin: replicaB, municipality: Self.karlstad),
            venueName(venue, "Karlstads krog", millis: 1_000_000, origin: replicaB, municipality: Self.karlstad),
        ]
        _ = try hub.push(PushBatch(replica: replicaB, batch: 1, schema: 1, changes: created), scope: .municipality(Self.karlstad),
                         maxDrift: drift)
        let rename = venueName(venue, "Eskilstunas nu", millis: 2_000_000, origin: replicaA, municipality: Self.eskilstuna)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 1, schema: 1, changes: [rename]), .municipality(Self.eskilstuna),
                          naming: rename, "rename")
        // Also when it pretends to be Karlstad's own replica (origin) and a first change is a new record of its own.
        var forged = rename
        forged.origin = replicaB
        let own = venueName(Self.rid(2), "Egen", millis: 2_000_000, origin: replicaA, municipality: Self.eskilstuna)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 1, schema: 1, changes: [own, forged]),
                          .municipality(Self.eskilstuna), naming: forged, "rename with a forged origin")
        #expect(try pulled(hub, .municipality(Self.karlstad)) == created)
        #expect(try pulled(hub, .municipality(Self.eskilstuna)).isEmpty)
    }

    @Test("a municipality profile's id is its kommunkod: a token of A cannot create B's profile")
    func profileOfAnother() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let profile = Schema.current.entity("municipality")!
        let squat = lifecycle(profile, id: Self.karlstad, cl: 1, millis: 1_000_000, origin: replicaA, municipality: Self.eskilstuna)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 1, schema: 1, changes: [squat]), .municipality(Self.eskilstuna),
                          naming: squat, "Eskilstuna creates Karlstad's profile")
        // Its own profile under another id is no profile either.
        let odd = lifecycle(profile, id: Self.rid(9), cl: 1, millis: 1_000_000, origin: replicaA, municipality: Self.eskilstuna)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 1, schema: 1, changes: [odd]), .municipality(Self.eskilstuna),
                          naming: odd, "a profile whose id is not a kommunkod")
        // Karlstad's own profile goes through and is served to Karlstad only.
        let own = lifecycle(profile, id: Self.karlstad, cl: 1, millis: 1_000_000, origin: replicaB, municipality: Self.karlstad)
        _ = try hub.push(PushBatch(replica: replicaB, batch: 1, schema: 1, changes: [own]), scope: .municipality(Self.karlstad), maxDrift: drift)
        #expect(try pulled(hub, .municipality(Self.karlstad)) == [own])
        #expect(try pulled(hub, .municipality(Self.eskilstuna)).isEmpty)
    }

    @Test("records are keyed by entity and id: the same id under another entity is another record, owned by its writer")
    func sameIDOtherEntity() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let shared = Self.rid(7)
        let venue = lifecycle(Schema.current.entity("venue")!, id: shared, cl: 1, millis: 1_000_000, origin: replicaB,
                              municipality: Self.karlstad)
        _ = try hub.push(PushBatch(replica: replicaB, batch: 1, schema: 1, changes: [venue]), scope: .municipality(Self.karlstad), maxDrift: drift)
        let training = lifecycle(Schema.current.entity("training")!, id: shared, cl: 1, millis: 1_000_001, origin: replicaA,
                                 municipality: Self.eskilstuna)
        _ = try hub.push(PushBatch(replica: replicaA, batch: 1, schema: 1, changes: [training]), scope: .municipality(Self.eskilstuna),
                         maxDrift: drift)
        #expect(try pulled(hub, .municipality(Self.karlstad)) == [venue])
        #expect(try pulled(hub, .municipality(Self.eskilstuna)) == [training])
        // The venue with that id is still Karlstad's.
        var delete = venue
        delete.value = .integer(2)
        delete.clock = HLC(millis: 2_000_000, counter: 0)
        delete.origin = replicaA
        delete.municipality = Self.eskilstuna
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 2, schema: 1, changes: [delete]), .municipality(Self.eskilstuna),
                          naming: delete, "Eskilstuna deletes Karlstad's venue that shares an id with its training")
    }

    @Test("relay: a change equal to what the hub holds is ignored, never refused; the same change with another value is 403")
    func relayOfPulledNationalData() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let criterion = Change(entity: "criterion", id: Self.rid(3), field: "code", value: .text("K1"),
                               clock: HLC(millis: 1_000_000, counter: 0), origin: replicaS, municipality: nil)
        let created = lifecycle(Schema.current.entity("criterion")!, id: criterion.id, cl: 1, millis: 1_000_000, origin: replicaS,
                                municipality: nil)
        _ = try hub.push(PushBatch(replica: replicaS, batch: 1, schema: 1, changes: [created, criterion]), scope: .styrgrupp, maxDrift: drift)
        let pulled = try pulled(hub, .municipality(Self.eskilstuna))
        #expect(pulled == [created, criterion])
        // Eskilstuna's replica re-sends its whole log (hub restored, or its own restore): the
        // pulled criterion comes back unchanged beside its own new venue.
        let venue = venueName(Self.rid(4), "Krogen", millis: 1_500_000, origin: replicaA, municipality: Self.eskilstuna)
        let outcome = try hub.push(PushBatch(replica: replicaA, batch: 1, schema: 1, changes: pulled + [venue]),
                                   scope: .municipality(Self.eskilstuna), maxDrift: drift)
        #expect(outcome == .accepted(PushReply(hub: hub.hubID, schema: 1, batch: 1, duplicate: false, lastBatch: 1,
                                               applied: 1, ignored: 2)))
        // The same change with another value is a write of national data: refused.
        var edited = criterion
        edited.value = .text("K1-hacked")
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 2, schema: 1, changes: [edited]), .municipality(Self.eskilstuna),
                          naming: edited, "a municipal token edits a pulled criterion")
        // Or with a newer clock and the same value, or an older clock: not equal, refused.
        var newer = criterion
        newer.clock = HLC(millis: 1_000_001, counter: 0)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 2, schema: 1, changes: [newer]), .municipality(Self.eskilstuna),
                          naming: newer, "a municipal token re-stamps a pulled criterion")
        var older = criterion
        older.clock = HLC(millis: 999_999, counter: 0)
        try expectRefused(hub, PushBatch(replica: replicaA, batch: 2, schema: 1, changes: [older]), .municipality(Self.eskilstuna),
                          naming: older, "a municipal token sends an older criterion value")
    }
}
