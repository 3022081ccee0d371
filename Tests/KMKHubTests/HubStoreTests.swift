import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

@Suite("Hub store")
struct HubStoreTests {
    let replica = "11111111-2222-4333-8444-555555555555"

    func change(_ n: Int, municipality: String? = "0484", entity: String = "venue", value: String = "Krog") -> Change {
        Change(entity: entity, id: "00000000-0000-4000-8000-00000000000\(n)", field: entity == "venue" ? "name" : "code",
               value: .text(value), clock: HLC(millis: 1_000 + UInt64(n), counter: 0), origin: replica, municipality: municipality)
    }

    func reply(_ outcome: HubStore.PushOutcome) -> PushReply? {
        if case .accepted(let r) = outcome { return r }
        return nil
    }

    @Test("batches apply once: a duplicate is a no-op, a gap names the expected number")
    func exactlyOnce() throws {
        let clock = ManualClock()
        let hub = try HubStore.open(at: ":memory:", now: clock.clock)
        let scope = HubScope.municipality("0484")
        let first = PushBatch(replica: replica, batch: 1, schema: 1, changes: [change(1), change(2)])
        #expect(reply(try hub.push(first, scope: scope, maxDrift: 3_600_000))?.applied == 2)
        let again = reply(try hub.push(first, scope: scope, maxDrift: 3_600_000))
        #expect(again?.duplicate == true && again?.applied == 0 && again?.lastBatch == 1)
        #expect(try hub.counts().registers == 2)
        let skip = PushBatch(replica: replica, batch: 3, schema: 1, changes: [change(3)])
        #expect(try hub.push(skip, scope: scope, maxDrift: 3_600_000) == .gap(expected: 2))
        #expect(try hub.counts().registers == 2)
    }

    @Test("a batch touching another municipality or national data is refused whole; the replica stays bound to its municipality")
    func scopes() throws {
        let hub = try HubStore.open(at: ":memory:", now: ManualClock().clock)
        let mixed = PushBatch(replica: replica, batch: 1, schema: 1, changes: [change(1), change(2, municipality: "1780")])
        #expect(throws: ReplicaError.self) { try hub.push(mixed, scope: .municipality("0484"), maxDrift: 3_600_000) }
        let national = PushBatch(replica: replica, batch: 1, schema: 1, changes: [change(1), change(3, municipality: nil, entity: "criterion")])
        #expect(throws: ReplicaError.self) { try hub.push(national, scope: .municipality("0484"), maxDrift: 3_600_000) }
        #expect(try hub.counts().registers == 0)
        _ = try hub.push(PushBatch(replica: replica, batch: 1, schema: 1, changes: [change(1)]), scope: .municipality("0484"), maxDrift: 3_600_000)
        let karlstad = PushBatch(replica: replica, batch: 2, schema: 1, changes: [change(2, municipality: "1780")])
        #expect(throws: ReplicaError.self) { try hub.push(karlstad, scope: .municipality("1780"), maxDrift: 3_600_000) }
    }

    @Test("a clock too far ahead of the hub is refused, naming the origin")
    func drift() throws {
        let clock = ManualClock()
        let hub = try HubStore.open(at: ":memory:", now: clock.clock)
        var c = change(1)
        c.clock = HLC(millis: clock.millis + 7_200_000, counter: 0)
        #expect { try hub.push(PushBatch(replica: replica, batch: 1, schema: 1, changes: [c]), scope: .municipality("0484"), maxDrift: 3_600_000) }
            throws: { ($0 as? ClockError)?.description.contains(replica) == true }
    }

    @Test("pull pages follow hub order, hide other municipalities, and detect cursors of another history")
    func paging() throws {
        let dir = try TempDir()
        let path = dir.path("hub.db")
        let hub = try HubStore.open(at: path, now: ManualClock().clock)
        let other = "22222222-2222-4333-8444-555555555555"
        _ = try hub.push(PushBatch(replica: replica, batch: 1, schema: 1, changes: (1...5).map { change($0) }),
                         scope: .municipality("0484"), maxDrift: 3_600_000)
        var k = change(6, municipality: "1780")
        k.origin = other
        _ = try hub.push(PushBatch(replica: other, batch: 1, schema: 1, changes: [k]), scope: .municipality("1780"), maxDrift: 3_600_000)
        var seen: [Change] = []
        var cursor: String?
        for _ in 0..<10 {
            guard case .page(let page) = try hub.pull(cursor: cursor, scope: .municipality("0484"), limit: 2) else {
                Issue.record("stale")
                return
            }
            seen += page.changes
            cursor = page.cursor
            if !page.more { break }
        }
        #expect(seen.map(\.id) == (1...5).map { change($0).id })
        guard case .page(let all) = try hub.pull(cursor: nil, scope: .styrgrupp, limit: 100) else { return }
        #expect(all.changes.count == 6)
        hub.close()

        // A backup taken now, more pushes, then the backup restored: the later cursor is stale.
        try FileManager.default.copyItem(atPath: path, toPath: dir.path("backup.db"))
        let live = try HubStore.open(at: path, now: ManualClock().clock)
        _ = try live.push(PushBatch(replica: replica, batch: 2, schema: 1, changes: [change(7)]), scope: .municipality("0484"), maxDrift: 3_600_000)
        guard case .page(let late) = try live.pull(cursor: cursor, scope: .municipality("0484"), limit: 10) else { return }
        live.close()
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: dir.path("backup.db"), toPath: path)
        let restored = try HubStore.open(at: path, now: ManualClock().clock)
        guard case .stale = try restored.pull(cursor: late.cursor, scope: .municipality("0484"), limit: 10) else {
            Issue.record("a cursor from after the backup must be stale")
            return
        }
        // The restored hub issues the same number again under another tag: still stale.
        _ = try restored.push(PushBatch(replica: other, batch: 2, schema: 1, changes: [{ var c = k; c.clock = HLC(millis: 5_000, counter: 0); return c }()]),
                              scope: .municipality("1780"), maxDrift: 3_600_000)
        guard case .stale = try restored.pull(cursor: late.cursor, scope: .municipality("0484"), limit: 10) else {
            Issue.record("a cursor whose number was issued again must be stale")
            return
        }
        guard case .page = try restored.pull(cursor: cursor, scope: .municipality("0484"), limit: 10) else {
            Issue.record("a cursor from before the backup is still good")
            return
        }
        #expect(try restored.pull(cursor: "nonsense", scope: .styrgrupp, limit: 1) == .stale("the cursor is not one this hub issued"))
        // Sequence 0 is issued only as "c1.HUB.0.0" (an empty hub); with another tag it is from nowhere.
        let zero = HubCursor(hub: restored.hubID, seq: 0, tag: "0").text
        guard case .page = try restored.pull(cursor: zero, scope: .styrgrupp, limit: 1) else {
            Issue.record("the empty hub's cursor is good")
            return
        }
        guard case .stale = try restored.pull(cursor: HubCursor(hub: restored.hubID, seq: 0, tag: "beef").text, scope: .styrgrupp, limit: 1) else {
            Issue.record("a sequence-0 cursor with a tag the hub never issued must be stale")
            return
        }
    }

    @Test("tokens: shown once, stored hashed, revocable")
    func tokens() throws {
        let dir = try TempDir()
        let hub = try HubStore.open(at: dir.path("hub.db"), now: ManualClock().clock)
        let (id, token) = try hub.createToken(scope: .municipality("0484"), label: "Anna")
        #expect(try hub.authenticate(token) == .municipality("0484"))
        #expect(try hub.authenticate(token + "0") == nil)
        hub.close()
        #expect(!(String(decoding: FileManager.default.contents(atPath: dir.path("hub.db")) ?? Data(), as: UTF8.self).contains(token)))
        let again = try HubStore.open(at: dir.path("hub.db"), now: ManualClock().clock)
        try again.revokeToken(id: id)
        #expect(try again.authenticate(token) == nil)
        #expect(try again.tokens().first?.revokedAt != nil)
        #expect(throws: ReplicaError.self) { try again.revokeToken(id: "t-none") }
    }

    @Test("two stores on one file (a second hub process, hub token create) never reuse a hub seq or a site number")
    func twoStoresOneFile() throws {
        let dir = try TempDir()
        let path = dir.path("hub.db")
        let one = try HubStore.open(at: path, now: ManualClock().clock)
        let two = try HubStore.open(at: path, now: ManualClock().clock)
        defer {
            one.close()
            two.close()
        }
        // Each replica is first seen by one store and later pushes through the other.
        let replicas = (1...5).map { n in "0000000\(n)-2222-4333-8444-555555555555" }
        var batches: [String: Int64] = [:]
        var pushed: [Change] = []
        for round in 0..<20 {
            let store = round % 2 == 0 ? one : two
            let replica = replicas[round % replicas.count]
            batches[replica, default: 0] += 1
            if round % 7 == 3 { _ = try (round % 2 == 0 ? two : one).createToken(scope: .municipality("0484"), label: "r\(round)") }
            let changes = (0..<3).map { k in
                Change(entity: "venue", id: "00000000-0000-4000-8000-\(String(format: "%012d", round * 10 + k))", field: "name",
                       value: .text("v\(round).\(k)"), clock: HLC(millis: 1_000_000 + UInt64(round * 10 + k), counter: 0),
                       origin: replica, municipality: "0484")
            }
            let outcome = try store.push(PushBatch(replica: replica, batch: batches[replica]!, schema: 1, changes: changes),
                                         scope: .municipality("0484"), maxDrift: 3_600_000)
            #expect(reply(outcome)?.applied == 3, "round \(round): \(outcome)")
            pushed += changes
        }
        for store in [one, two] {
            #expect(try store.counts() == (registers: pushed.count, seq: Int64(pushed.count)))
            // One change per page: each cursor's number is above the last, and every change comes back
            // with the origin it was pushed with (a reused site number would name another replica).
            var cursor: String?
            var seqs: [Int64] = []
            var pulled: [Change] = []
            while true {
                guard case .page(let page) = try store.pull(cursor: cursor, scope: .municipality("0484"), limit: 1) else {
                    Issue.record("stale cursor")
                    break
                }
                pulled += page.changes
                cursor = page.cursor
                seqs.append(HubCursor(text: page.cursor)?.seq ?? -1)
                if !page.more { break }
            }
            #expect(pulled == pushed)
            #expect(seqs == (1...Int64(pushed.count)).map { $0 })
        }
    }
}
