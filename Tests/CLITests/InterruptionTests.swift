import Foundation
import Testing

/// Transfers cut short by killing the hub or the client (at a fixed point, through the
/// KMK_HUB_FAULT / KMK_CLIENT_FAULT hooks, which exit at once as a kill would) resume with no
/// change lost or duplicated.
@Suite("interrupted transfers", .serialized)
struct InterruptionTests {
    /// A hub, a token, and Anna's replica with `venues` new venues (about 4 changes each).
    func setUp(_ cli: CLI, hub: HubProcess, venues: Int) throws -> (token: String, anna: String) {
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        var csv = "name,membership,staff_count\n"
        for i in 0..<venues { csv += "Krog \(i),member,\(i)\n" }
        try csv.write(toFile: cli.path("venues.csv"), atomically: true, encoding: .utf8)
        let imported = try cli.run("import", cli.path("venues.csv"), "--replica", anna)
        #expect(imported.status == 0, "\(imported.stderr)")
        return (token, anna)
    }

    func metric(_ name: String, _ hub: HubProcess) async throws -> Int? {
        let text = try await RawHTTP.send("GET", hub.url + "/metrics").body
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
    }

    func registers(_ hub: HubProcess, token: String) async throws -> Int? {
        let body = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=0484", token: token).body
        return (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["registers"] as? Int
    }

    @Test("a push interrupted by killing the hub after it committed a batch resumes exactly")
    func pushHubKilled() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_BATCH_CHANGES"] = "10"
        cli.environment["KMK_RETRY_BASE_MS"] = "10"
        let first = try HubProcess(cli: cli, environment: ["KMK_HUB_FAULT": "exit-after-push-commit:2"])
        let (token, anna) = try setUp(cli, hub: first, venues: 10)
        let cut = try cli.run("push", "--replica", anna, "--retries", "2")
        #expect(cut.status == 69, "\(cut.stderr)")
        #expect(first.waitForExit() == 137)
        let pendingAfterCut = try #require(try cli.status(anna)["pending"] as? Int)

        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        #expect(try cli.run("remote", "set", hub.url, "--replica", anna).status == 0)
        let resumed = try cli.run("push", "--replica", anna)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // Batch 2 was committed before the kill: it is resent and acknowledged as a duplicate.
        #expect(try await metric("kmk_hub_push_duplicates_total", hub) == 1)
        let applied = try #require(try await metric("kmk_hub_changes_applied_total", hub))
        let held = try #require(try await registers(hub, token: token))
        // Batches hold whole records (SPEC.md §4), at most 10 changes: batch 1 is the
        // municipality (2 changes) and two venues (4 each), batch 2 two more venues. Both were on
        // the hub before the kill; every other change is applied once by the new process, and
        // the pending count after the cut covered batch 2.
        #expect(applied == held - 18)
        #expect(pendingAfterCut == held - 10)
        #expect(try cli.status(anna)["in_step"] as? Bool == true)
        let bo = try cli.replica("bo.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        #expect(try cli.run("export", "--replica", anna).stdout == (try cli.run("export", "--replica", bo).stdout))
    }

    @Test("a push interrupted by killing the client after the hub acknowledged a batch resumes exactly")
    func pushClientKilled() async throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_BATCH_CHANGES"] = "10"
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let (token, anna) = try setUp(cli, hub: hub, venues: 10)
        cli.environment["KMK_CLIENT_FAULT"] = "exit-after-push-reply:2"
        let cut = try cli.run("push", "--replica", anna)
        #expect(cut.status == 137, "\(cut.stderr)")
        cli.environment["KMK_CLIENT_FAULT"] = nil
        #expect(try cli.run("push", "--replica", anna).status == 0)
        // Every change was applied exactly once: applied count equals the registers held.
        let registers = try #require(try await registers(hub, token: token))
        #expect(try await metric("kmk_hub_changes_applied_total", hub) == registers)
        #expect(try await metric("kmk_hub_push_duplicates_total", hub) == 1)
        #expect(try cli.status(anna)["in_step"] as? Bool == true)
        #expect(try cli.status(anna)["pending"] as? Int == 0)
    }

    @Test("a pull interrupted by killing the hub or the client resumes from the last applied page", arguments: ["hub", "client"])
    func pullInterrupted(_ who: String) async throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_RETRY_BASE_MS"] = "10"
        let seed = try HubProcess(cli: cli)
        let (token, anna) = try setUp(cli, hub: seed, venues: 10)
        #expect(try cli.run("push", "--replica", anna).status == 0)
        let bo = try cli.replica("bo.kmk", "0484", hub: seed, token: token)
        #expect(seed.stop() == 0)

        let faulty = try HubProcess(cli: cli, arguments: ["--page-limit", "10"],
                                    environment: who == "hub" ? ["KMK_HUB_FAULT": "exit-before-pull-reply:3"] : [:])
        #expect(try cli.run("remote", "set", faulty.url, "--replica", bo).status == 0)
        if who == "client" { cli.environment["KMK_CLIENT_FAULT"] = "exit-before-pull-apply:3" }
        let cut = try cli.run("pull", "--replica", bo, "--retries", "2")
        #expect(cut.status == (who == "hub" ? 69 : 137), "\(cut.stderr)")
        cli.environment["KMK_CLIENT_FAULT"] = nil
        // Two pages (20 changes) were applied with their cursor before the cut.
        let partial = try cli.run("log", "--limit", "1000", "--replica", bo).stdout.split(separator: "\n").count
        #expect(partial > 20)
        if who == "hub" { #expect(faulty.waitForExit() == 137) } else { faulty.stop() }

        let hub = try HubProcess(cli: cli, arguments: ["--page-limit", "10"])
        defer { hub.stop() }
        #expect(try cli.run("remote", "set", hub.url, "--replica", bo).status == 0)
        #expect(try cli.run("remote", "set", hub.url, "--replica", anna).status == 0)
        let resumed = try cli.run("pull", "--replica", bo)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // Resumed after page 2, not from the start: exactly the rest comes.
        let held = try #require(try await registers(hub, token: token))
        let line = try #require(resumed.stdout.split(separator: "\n").first { $0.hasPrefix("pulled ") })
        let count = Int(line.split(separator: " ")[1]) ?? -1
        #expect(count == held - 20, "\(resumed.stdout)")
        #expect(try cli.run("export", "--replica", anna).stdout == (try cli.run("export", "--replica", bo).stdout))
        // Bo's own changes (its municipality record) are still to push; after that both agree.
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.status(bo)["in_step"] as? Bool == true)
        #expect(!resumed.stdout.contains("pulled 0 changes"))
    }

    @Test("a hub restored from an older backup: stale cursors are detected, replicas re-pull and re-push, nothing is lost")
    func restoredHub() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let fm = FileManager.default
        let first = try HubProcess(cli: cli)
        let (token, anna) = try setUp(cli, hub: first, venues: 3)
        let bo = try cli.replica("bo.kmk", "0484", hub: first, token: token)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        #expect(first.stop() == 0)
        try fm.copyItem(atPath: first.db, toPath: cli.path("backup.db"))

        let second = try HubProcess(cli: cli)
        for r in [anna, bo] { #expect(try cli.run("remote", "set", second.url, "--replica", r).status == 0) }
        #expect(try cli.run("venue", "add", "name=Efter backupen", "membership=member", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("venue", "add", "name=Bos krog", "membership=member", "--replica", bo).status == 0)
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(second.stop() == 0)

        // The operator restores the older backup: the hub lost Anna's and Bo's later pushes.
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: first.db + suffix) }
        try fm.copyItem(atPath: cli.path("backup.db"), toPath: first.db)
        let restored = try HubProcess(cli: cli)
        defer { restored.stop() }
        for r in [anna, bo] { #expect(try cli.run("remote", "set", restored.url, "--replica", r).status == 0) }
        let b = try cli.run("sync", "--replica", bo)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("restored from a backup"), "\(b.stdout)")
        let a = try cli.run("sync", "--replica", anna)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        let ea = try cli.run("export", "--replica", anna).stdout
        #expect(ea == (try cli.run("export", "--replica", bo).stdout))
        #expect(ea.contains("Efter backupen") && ea.contains("Bos krog"))
        for r in [anna, bo] { #expect(try cli.status(r)["in_step"] as? Bool == true) }
    }
}
