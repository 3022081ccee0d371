import Foundation
import Testing

/// Wrong wall clocks (SPEC.md §3, §7): replicas a day off still converge, by the merge rules and not
/// by the order of real time; a clock far in the future is refused, naming its replica; a replica
/// offline for 60 days catches up.
@Suite("clock skew end to end", .serialized)
struct ClockSkewTests {
    static let day: Int64 = 86_400_000

    /// The change log of a replica as (entity, id, field) → (value, clock, origin).
    func log(_ cli: CLI, _ replica: String) throws -> [String: (value: String, clock: String, origin: String)] {
        let r = try cli.run("log", "--json", "--limit", "100000", "--replica", replica)
        #expect(r.status == 0, "\(r.stderr)")
        var out: [String: (String, String, String)] = [:]
        let entries = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(!entries.isEmpty)
        for o in entries {
            let key = "\(o["entity"] ?? "")/\(o["id"] ?? "")/\(o["field"] ?? "")"
            out[key] = ("\(o["value"] ?? "null")", "\(o["clock"] ?? "")", "\(o["origin"] ?? "")")
        }
        return out
    }

    func replicaID(_ cli: CLI, _ replica: String) throws -> String {
        try cli.status(replica)["replica"] as? String ?? ""
    }

    func run(_ cli: CLI, offset: Int64, _ args: String...) throws -> CLI.Result {
        var c = cli
        c.environment["KMK_CLOCK_OFFSET_MS"] = String(offset)
        return try c.run(args)
    }

    @Test("replicas a day behind, a day ahead and on time edit the same fields offline, converge, and the greatest (clock, origin) wins")
    func dayOff() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let offsets: [String: Int64] = ["behind.kmk": -Self.day, "ahead.kmk": Self.day, "ontime.kmk": 0]
        var replicas: [String: String] = [:]
        for name in offsets.keys.sorted() {
            let p = cli.path(name)
            #expect(try run(cli, offset: offsets[name]!, "init", p, "--municipality", "0484").status == 0)
            #expect(try cli.run("remote", "set", hub.url, "--replica", p).status == 0)
            FileManager.default.createFile(atPath: p + ".token", contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
            replicas[name] = p
        }
        let ontime = replicas["ontime.kmk"]!
        let add = try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", ontime)
        #expect(add.status == 0)
        let venue = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for name in ["ontime.kmk", "behind.kmk", "ahead.kmk", "ontime.kmk"] {
            let r = try run(cli, offset: offsets[name]!, "sync", "--replica", replicas[name]!)
            #expect(r.status == 0, "\(name): \(r.stderr)")
        }

        // Offline, in this real-time order: ahead, behind, on time; each writes staff_count, and
        // the replica behind also writes a field nobody else touches.
        var writes: [(value: String, clock: String, origin: String)] = []
        for (name, value) in [("ahead.kmk", "20"), ("behind.kmk", "10"), ("ontime.kmk", "30")] {
            let p = replicas[name]!
            #expect(try run(cli, offset: offsets[name]!, "venue", "update", venue, "staff_count=\(value)", "--replica", p).status == 0)
            let w = try log(cli, p)["venue/\(venue)/staff_count"]
            #expect(w?.value == value)
            if let w { writes.append(w) }
        }
        #expect(try run(cli, offset: -Self.day, "venue", "update", venue, "door_staff_count=3", "--replica", replicas["behind.kmk"]!).status == 0)
        // The SPEC's rule, computed from the clocks the writes carry: the greatest (clock, origin).
        let expected = writes.max { ($0.clock, $0.origin) < ($1.clock, $1.origin) }!
        #expect(expected.value == "20", "the replica a day ahead stamps the greatest clock, though it wrote first")

        for _ in 0..<2 {
            for name in ["behind.kmk", "ontime.kmk", "ahead.kmk"] {
                let r = try run(cli, offset: offsets[name]!, "sync", "--replica", replicas[name]!)
                #expect(r.status == 0, "\(name): \(r.stderr)")
            }
        }
        let exports = try offsets.keys.sorted().map { try cli.run("export", "--replica", replicas[$0]!).stdout }
        #expect(Set(exports).count == 1, "all three export the same bytes")
        for name in offsets.keys {
            let l = try log(cli, replicas[name]!)
            #expect(l["venue/\(venue)/staff_count"]?.value == expected.value)
            #expect(l["venue/\(venue)/staff_count"]?.clock == expected.clock)
            #expect(l["venue/\(venue)/door_staff_count"]?.value == "3", "an edit nobody contested survives, though stamped a day late")
            #expect(try cli.status(replicas[name]!)["in_step"] as? Bool == true)
        }
        // The losers' replicas name the winner in their ledger.
        let conflicts = try cli.run("conflicts", "--json", "--replica", replicas["behind.kmk"]!).stdout
        let aheadID = try replicaID(cli, replicas["ahead.kmk"]!)
        #expect(conflicts.contains("\"staff_count\"") && conflicts.contains(aheadID), "\(conflicts)")

        // After the sync every replica's clock has moved past the one a day ahead, so a later edit
        // made on time wins: causality, not wall time, orders writes that saw each other.
        #expect(try cli.run("venue", "update", venue, "staff_count=31", "--replica", ontime).status == 0)
        let later = try log(cli, ontime)["venue/\(venue)/staff_count"]!
        #expect(later.clock > expected.clock)
        for name in ["ontime.kmk", "behind.kmk", "ahead.kmk"] {
            #expect(try run(cli, offset: offsets[name]!, "sync", "--replica", replicas[name]!).status == 0)
        }
        for name in offsets.keys { #expect(try log(cli, replicas[name]!)["venue/\(venue)/staff_count"]?.value == "31") }
    }

    @Test("a replica whose clock is far in the future is refused by the hub and by a colleague's bundle apply, naming it; nothing is written")
    func farFuture() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let wrong = try cli.replica("wrong.kmk", "0484", hub: hub, token: token)
        let good = try cli.replica("good.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("sync", "--replica", good).status == 0)
        let registers = try cli.status(good)["hub_checksum"] as? String
        let id = try replicaID(cli, wrong)
        // Thirty days ahead: a laptop whose date was set wrong.
        #expect(try run(cli, offset: 30 * Self.day, "venue", "add", "name=Framtidsbaren", "membership=member", "--replica", wrong).status == 0)
        let push = try run(cli, offset: 30 * Self.day, "sync", "--replica", wrong)
        #expect(push.status == 65, "\(push.stderr)")
        #expect(push.stderr.contains("clock_ahead") && push.stderr.contains(id), "\(push.stderr)")
        #expect(try cli.status(good)["hub_checksum"] as? String == registers, "the hub wrote nothing")
        #expect((try cli.status(wrong)["pending"] as? Int ?? 0) > 0, "the changes stay pending, to push once the clock is fixed")

        let bundle = cli.path("wrong.bundle")
        #expect(try cli.run("bundle", "create", "--out", bundle, "--replica", wrong).status == 0)
        let before = try cli.run("export", "--replica", good).stdout
        let apply = try cli.run("bundle", "apply", bundle, "--replica", good)
        #expect(apply.status == 65 && apply.stderr.contains(id), "\(apply.stderr)")
        #expect(try cli.run("export", "--replica", good).stdout == before)

        // Once the clock is right, the replica is still ahead: a new edit would be stamped there too.
        let show = try cli.run("clock", "show", "--replica", wrong)
        #expect(show.stdout.contains("ahead of this machine's") && show.stdout.contains("clock repair"), "\(show.stdout)")
        #expect(try cli.run("sync", "--replica", wrong).status == 65)
        let repair = try cli.run("clock", "repair", "--replica", wrong)
        #expect(repair.status == 0 && repair.stdout.contains("re-stamped"), "\(repair.stdout)\(repair.stderr)")
        #expect(try cli.run("clock", "repair", "--replica", wrong).stdout.contains("nothing to repair"))
        #expect(try cli.run("check", "--offline", "--replica", wrong).status == 0)
        let fixed = try cli.run("sync", "--replica", wrong)
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(try cli.run("sync", "--replica", good).status == 0)
        #expect(try cli.run("export", "--replica", good).stdout.contains("Framtidsbaren"), "nothing was lost")
        #expect(try cli.status(wrong)["in_step"] as? Bool == true)
    }

    @Test("a replica offline for 60 days syncs: its old edits lose to newer ones field by field, its untouched ones arrive")
    func sixtyDaysOffline() throws {
        var cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "1283"], file: "hbg.token")
        let office = try cli.replica("office.kmk", "1283", hub: hub, token: token)
        let field = try cli.replica("field.kmk", "1283", hub: hub, token: token)
        let add = try cli.run("venue", "add", "name=Hamnkrogen", "membership=member", "--replica", office)
        let venue = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("sync", "--replica", office).status == 0)
        #expect(try cli.run("sync", "--replica", field).status == 0)

        // 60 days ago the field laptop went offline after these edits (its clock then was right).
        let sixtyDaysAgo = Int64(Date().timeIntervalSince1970 * 1000) - 60 * Self.day
        cli.environment["KMK_NOW"] = String(sixtyDaysAgo)
        #expect(try cli.run("venue", "update", venue, "staff_count=8", "shows_signage=ja", "--replica", field).status == 0)
        let round = try cli.run("round", "add", "venue=\(venue)", "held_on=2026-09-20", "time_of_day=evening", "--replica", field)
        #expect(round.status == 0, "\(round.stderr)")
        cli.environment.removeValue(forKey: "KMK_NOW")
        // Meanwhile the office keeps working and syncing: 300 changes of history, one on the same field.
        #expect(try cli.run("venue", "update", venue, "staff_count=12", "--replica", office).status == 0)
        var csv = "name,membership\n"
        for i in 0..<150 { csv += "Krog \(i),member\n" }
        try csv.write(toFile: cli.path("more.csv"), atomically: true, encoding: .utf8)
        #expect(try cli.run("import", cli.path("more.csv"), "--replica", office).status == 0)
        #expect(try cli.run("sync", "--replica", office).status == 0)

        // Back online today: small pages, so the catch-up runs over many of them.
        cli.environment["KMK_PAGE_LIMIT"] = "40"
        let s = try cli.run("sync", "--replica", field)
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try cli.run("sync", "--replica", office).status == 0)
        let e = try cli.run("export", "--replica", field).stdout
        #expect(e == (try cli.run("export", "--replica", office).stdout))
        #expect(e.contains("\"staff_count\":12"), "the office's newer write wins the field both wrote")
        #expect(e.contains("\"shows_signage\":true"), "the field's uncontested edit arrives")
        #expect(e.contains("2026-09-20") && e.contains("Krog 149"))
        for r in [office, field] { #expect(try cli.status(r)["in_step"] as? Bool == true) }
    }
}
