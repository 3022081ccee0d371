import KMKModel
import KMKSync
import Testing

@Suite("Hub protocol wire types")
struct WireTests {
    let change = Change(entity: "venue", id: "00000000-0000-4000-8000-000000000001", field: "name", value: .text("Krogen Åkerö"),
                        clock: HLC(millis: 1_000, counter: 1), origin: "11111111-2222-4333-8444-555555555555", municipality: "0484")

    @Test("a push batch and a pull page read back what was written")
    func roundTrip() throws {
        let batch = PushBatch(replica: change.origin, batch: 3, schema: 1, changes: [change])
        let env = try PushBatch.envelope(try JSONValue.parse(batch.json()))
        #expect(env.replica == change.origin && env.batch == 3 && env.schema == 1)
        #expect(try PushBatch.decodeChanges(env.changes) == [change])
        let page = PullPage(hub: "h", schema: 1, changes: [change], cursor: "c1.h.5.ab", more: true)
        #expect(try PullPage(json: try JSONValue.parse(page.json())) == page)
        let reply = PushReply(hub: "h", schema: 1, batch: 3, duplicate: true, lastBatch: 4, applied: 0, ignored: 1)
        #expect(try PushReply(json: try JSONValue.parse(reply.json())) == reply)
        let error = WireError(status: 409, code: "batch_gap", message: "expects 2", hub: "h", schema: 1, expectedBatch: 2)
        #expect(WireError(status: 409, body: error.json()) == error)
        #expect(WireError(status: 502, body: "<html>bad gateway</html>") == nil)
    }

    @Test("changes encoded once give the same body as changes encoded when sent")
    func encodedOnce() {
        var other = change
        other.id = "00000000-0000-4000-8000-000000000002"
        other.value = .text("a \"quoted\" name\n")
        let changes = [change, other, change]
        var encoded = EncodedChanges()
        let sizes = changes.map { encoded.append($0) }
        #expect(sizes == changes.map { $0.json().utf8.count + 2 })
        encoded.append(other)
        encoded.removeLast()
        let once = PushBatch(replica: change.origin, batch: 2, schema: 1, changes: changes, encoded: encoded)
        let plain = PushBatch(replica: change.origin, batch: 2, schema: 1, changes: changes)
        #expect(once == plain && once.body() == plain.body() && once.json() == plain.json())
        #expect(PushBatch(body: once.body()) == plain)
        var shorter = once
        shorter.changes.removeLast()
        #expect(shorter.body() == PushBatch(replica: change.origin, batch: 2, schema: 1, changes: Array(changes.prefix(2))).body())
        let empty = PushBatch(replica: change.origin, batch: 1, schema: 1, changes: [], encoded: EncodedChanges())
        #expect(empty.json() == PushBatch(replica: change.origin, batch: 1, schema: 1, changes: []).json())
    }

    @Test("bad envelopes are refused with a message naming the member")
    func badEnvelopes() {
        for (body, word) in [("[]", "object"), ("{\"replica\":\"x\"}", "replica"),
                             ("{\"replica\":\"\(change.origin)\",\"batch\":0}", "batch"),
                             ("{\"replica\":\"\(change.origin)\",\"batch\":1,\"schema\":1}", "changes")] {
            #expect { try PushBatch.envelope(try JSONValue.parse(body)) } throws: { ($0 as? SyncError)?.message.contains(word) == true }
        }
    }

    @Test("scopes: a municipality writes its own records only, the styrgrupp national data only")
    func scopes() {
        let esk = HubScope.municipality("0484")
        #expect(esk.mayWrite(municipality: "0484") && !esk.mayWrite(municipality: "1780") && !esk.mayWrite(municipality: nil))
        #expect(esk.mayRead(municipality: "0484") && esk.mayRead(municipality: nil) && !esk.mayRead(municipality: "1780"))
        #expect(HubScope.styrgrupp.mayWrite(municipality: nil) && !HubScope.styrgrupp.mayWrite(municipality: "0484"))
        #expect(HubScope.styrgrupp.mayRead(municipality: "1780"))
        #expect(HubScope(text: "styrgrupp") == .styrgrupp && HubScope(text: "0484") == esk && HubScope(text: "9999") == nil)
    }

    @Test("cursors parse back; anything else is not a cursor")
    func cursors() {
        let c = HubCursor(hub: "abc", seq: 42, tag: "f00")
        #expect(HubCursor(text: c.text) == c)
        for bad in ["", "c1.abc.x.f00", "c2.abc.1.f", "c1..1.f", "c1.abc.-1.f"] { #expect(HubCursor(text: bad) == nil) }
    }

    @Test("gzip round-trips, and refuses damage and bodies that inflate past the limit")
    func gzip() throws {
        let text = Array(String(repeating: "Krogar mot knark — ÅÄÖ ", count: 2_000).utf8)
        let packed = Gzip.compress(text)
        #expect(Gzip.isGzip(packed) && packed.count < text.count / 10)
        #expect(try Gzip.decompress(packed, limit: text.count) == text)
        #expect(throws: SyncError.self) { try Gzip.decompress(packed, limit: text.count - 1) }
        var damaged = packed
        damaged[damaged.count / 2] ^= 0xFF
        #expect(throws: SyncError.self) { try Gzip.decompress(damaged, limit: 1 << 20) }
        #expect(throws: SyncError.self) { try Gzip.decompress(Array(packed.prefix(packed.count - 8)), limit: 1 << 20) }
    }

    @Test("the checksum does not depend on order and changes with any value")
    func checksum() {
        var other = change
        other.id = "00000000-0000-4000-8000-000000000002"
        #expect(ChangeSetChecksum.hex([change, other]) == ChangeSetChecksum.hex([other, change]))
        other.value = .text("Annat")
        #expect(ChangeSetChecksum.hex([change, other]) != ChangeSetChecksum.hex([change]))
    }
}
