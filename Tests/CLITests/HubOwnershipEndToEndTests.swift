import Foundation
import KMKTestSupport
import Testing

/// Issue 24 §1 through a real hub: a valid token of one municipality attacks another
/// municipality's records with well-formed requests.
@Suite("hub end to end: record ownership", .serialized)
struct HubOwnershipEndToEndTests {
    /// The changes a token may pull, as JSON objects.
    func pull(_ hub: HubProcess, token: String) async throws -> [[String: Any]] {
        let r = try await RawHTTP.send("GET", hub.url + "/v1/changes?schema=1", token: token)
        #expect(r.status == 200, "\(r.body)")
        let json = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
        return json?["changes"] as? [[String: Any]] ?? []
    }

    func push(_ hub: HubProcess, token: String, replica: String, batch: Int, _ changes: [[String: Any]]) async throws -> RawHTTP.Reply {
        let body: [String: Any] = ["replica": replica, "batch": batch, "schema": 1, "changes": changes]
        return try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: try JSONSerialization.data(withJSONObject: body))
    }

    @Test("Eskilstuna's token renames and deletes a Karlstad venue: 403 naming the venue, Karlstad's data unchanged; an unchanged relay is ignored")
    func renameAndDelete() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let kar = try cli.token(hub: hub, ["--municipality", "1780"], file: "kar.token")
        let karlstad = try cli.replica("karlstad.kmk", "1780", hub: hub, token: kar)
        let venue = try cli.run("venue", "add", "name=Karlstads krog", "membership=member", "--replica", karlstad).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("sync", "--replica", karlstad).status == 0)
        let sum = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=1780", token: kar)

        // The attacker learnt the venue's registers (say, from a leaked export).
        let registers = try await pull(hub, token: kar).filter { $0["entity"] as? String == "venue" && $0["id"] as? String == venue }
        let name = try #require(registers.first { $0["field"] as? String == "name" })
        let lifecycle = try #require(registers.first { $0["field"] as? String == "$cl" })
        let attacker = "eeeeeeee-2222-4333-8444-555555555555"
        let later = String(format: "%016llx", UInt64(Date().timeIntervalSince1970 * 1000) << 16)
        var rename = name
        rename["value"] = "Eskilstunas nu"
        rename["clock"] = later
        rename["origin"] = attacker
        rename["municipality"] = "0484"
        var delete = lifecycle
        delete["value"] = 2
        delete["clock"] = later
        delete["origin"] = attacker
        delete["municipality"] = "0484"
        for (what, change) in [("rename", rename), ("delete", delete)] {
            let r = try await push(hub, token: esk, replica: attacker, batch: 1, [change])
            #expect(r.status == 403, "\(what): \(r.status) \(r.body)")
            #expect(r.body.contains("\"error\":\"forbidden\"") && r.body.contains("venue \(venue)") && r.body.contains("nothing in the batch"),
                    "\(what): \(r.body)")
        }
        // Claiming Karlstad does not help.
        rename["municipality"] = "1780"
        let claimed = try await push(hub, token: esk, replica: attacker, batch: 1, [rename])
        #expect(claimed.status == 403, "\(claimed.body)")

        // An unchanged copy of what the hub holds is a relay: ignored, never refused.
        let relay = try await push(hub, token: esk, replica: attacker, batch: 1, [name])
        #expect(relay.status == 200 && relay.body.contains("\"applied\":0") && relay.body.contains("\"ignored\":1"), "\(relay.body)")

        let after = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=1780", token: kar)
        #expect(after.body == sum.body)
        #expect(try cli.run("sync", "--replica", karlstad).status == 0)
        let shown = try cli.run("venue", "show", venue, "--replica", karlstad).stdout
        #expect(shown.contains("Karlstads krog") && !shown.contains("Eskilstunas"), "\(shown)")
        #expect(try await pull(hub, token: esk).allSatisfy { $0["municipality"] as? String != "1780" })
    }

    @Test("hub audit: who last changed a venue's name, with which token (by label), when; bounded by batches")
    func audit() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let annaToken = try cli.token(hub: hub, ["--municipality", "0484", "--label", "Anna"], file: "anna.token")
        let boToken = try cli.token(hub: hub, ["--municipality", "0484", "--label", "Bo på miljö"], file: "bo.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: annaToken)
        let bo = try cli.replica("bo.kmk", "0484", hub: hub, token: boToken)
        let venue = try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", anna).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("venue", "update", venue, "name=Krogen Nya", "--replica", bo).status == 0)
        #expect(try cli.run("sync", "--replica", bo).status == 0)

        let record = try cli.run("hub", "audit", "--db", hub.db, "--record", venue)
        #expect(record.status == 0, "\(record.stderr)")
        let line = try #require(record.stdout.split(separator: "\n").first { $0.contains(" name ") }, "\(record.stdout)")
        #expect(line.contains("Krogen Nya") && line.contains("Bo på miljö"), "\(line)")
        let json = try cli.run("hub", "audit", "--db", hub.db, "--municipality", "Eskilstuna", "--json", "--limit", "2")
        #expect(json.status == 0, "\(json.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let batches = try #require(parsed?["batches"] as? [[String: Any]])
        #expect(batches.count == 2 && batches.first?["label"] as? String == "Bo på miljö", "\(json.stdout)")
        #expect(batches.allSatisfy { $0["scope"] as? String == "0484" })
        let none = try cli.run("hub", "audit", "--db", hub.db, "--record", "00000000-0000-4000-8000-00000000beef")
        #expect(none.status != 0 && none.stderr.contains("no record with id"), "\(none.stderr)")
    }
}
