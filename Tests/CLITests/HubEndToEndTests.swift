import Foundation
import KMKTestSupport
import KMKSync
import Testing

/// End to end: a real `kmk-sync hub serve` process on 127.0.0.1 and real replica files.
@Suite("hub end to end", .serialized)
struct HubEndToEndTests {
    @Test("two officials of one municipality edit offline, sync in either order, and converge", arguments: [false, true])
    func officialsConverge(boFirst: Bool) throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "Eskilstuna"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        let bo = try cli.replica("bo.kmk", "0484", hub: hub, token: token)
        let v = try cli.run("venue", "add", "name=Krogen Påhittad", "membership=member", "--replica", anna).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let first = try cli.run("sync", "--replica", anna)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("venue", "show", v, "--replica", bo).stdout.contains("Krogen Påhittad"))

        // Offline: the same field twice (Bo later), different fields, a new record each.
        #expect(try cli.run("venue", "update", v, "staff_count=10", "door_staff_count=2", "--replica", anna).status == 0)
        #expect(try cli.run("venue", "add", "name=Annas bar", "membership=applicant", "--replica", anna).status == 0)
        usleep(5_000)
        #expect(try cli.run("venue", "update", v, "staff_count=14", "--replica", bo).status == 0)
        #expect(try cli.run("training", "add", "title=KMK-utbildning", "held_on=2026-10-01", "organiser=both", "--replica", bo).status == 0)

        let order = boFirst ? [bo, anna, bo] : [anna, bo, anna]
        for r in order {
            let s = try cli.run("sync", "--replica", r)
            #expect(s.status == 0, "\(s.stderr)")
        }
        let ea = try cli.run("export", "--replica", anna).stdout
        let eb = try cli.run("export", "--replica", bo).stdout
        #expect(ea == eb)
        #expect(ea.contains("\"staff_count\":14") && ea.contains("\"door_staff_count\":2"))
        #expect(ea.contains("Annas bar") && ea.contains("KMK-utbildning"))
        for r in [anna, bo] {
            let status = try cli.status(r)
            #expect(status["in_step"] as? Bool == true, "\(status)")
            #expect(status["pending"] as? Int == 0)
            #expect(status["reachable"] as? Bool == true)
        }
        // The official whose edit lost sees it in the ledger.
        #expect(try cli.run("conflicts", "--replica", anna).stdout.contains("staff_count"))
    }

    @Test("another municipality's token can neither read nor write the first municipality's records")
    func scopes() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let kar = try cli.token(hub: hub, ["--municipality", "1780"], file: "kar.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: esk)
        let karlstad = try cli.replica("karlstad.kmk", "1780", hub: hub, token: kar)
        #expect(try cli.run("venue", "add", "name=Hemlig krog", "membership=member", "--replica", anna).status == 0)
        #expect(try cli.run("push", "--replica", anna).status == 0)
        let sumBefore = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=0484", token: esk)

        // Read: Karlstad's pull gets nothing of Eskilstuna's; the raw API neither.
        #expect(try cli.run("pull", "--replica", karlstad).status == 0)
        #expect(!(try cli.run("export", "--replica", karlstad).stdout.contains("Hemlig krog")))
        let raw = try await RawHTTP.send("GET", hub.url + "/v1/changes?schema=1", token: kar)
        #expect(raw.status == 200 && !raw.body.contains("0484") && !raw.body.contains("Hemlig"))
        let sum = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=0484", token: kar)
        #expect(sum.status == 403 && sum.body.contains("\"error\":\"forbidden\""))

        // Write: Eskilstuna's replica pushed with Karlstad's token is refused whole with 403.
        #expect(try cli.run("venue", "add", "name=Ny krog", "membership=member", "--replica", anna).status == 0)
        let pending = try cli.status(anna)["pending"] as? Int
        let refused = try cli.run("push", "--replica", anna, "--token-file", cli.path("kar.token"))
        #expect(refused.status == 77)
        // (The replica pushed for Eskilstuna before, so the hub names that first: asked for the
        // replica's last batch, GET /v1/replica, before any batch is sent.)
        #expect(refused.stderr.contains("403") && refused.stderr.contains("belongs to municipality Eskilstuna (0484), not to municipality Karlstad"),
                "\(refused.stderr)")
        #expect(try cli.status(anna)["pending"] as? Int == pending)
        let sumAfter = try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=0484", token: esk)
        #expect(sumAfter.body == sumBefore.body)
        #expect(try cli.run("status", "--replica", anna).stdout.contains("failed: the hub refused (HTTP 403"))
        // With its own token the same push goes through.
        #expect(try cli.run("push", "--replica", anna).status == 0)
    }

    @Test("401 for a wrong or revoked token, 400 for malformed JSON, 413 for an oversized body, schema mismatch refused")
    func refusals() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli, arguments: ["--max-batch-bytes", "8192", "--max-batch-changes", "20"])
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484", "--label", "anna"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", anna).status == 0)

        let wrong = try cli.run("push", "--replica", anna, "--token-file", cli.path("wrong.token"))
        #expect(wrong.status == 64 || wrong.status == 77)
        FileManager.default.createFile(atPath: cli.path("wrong.token"), contents: Data("kmk_\(String(repeating: "0", count: 64))".utf8),
                                       attributes: [.posixPermissions: 0o600])
        let bad = try cli.run("push", "--replica", anna, "--token-file", cli.path("wrong.token"))
        #expect(bad.status == 77 && bad.stderr.contains("401"), "\(bad.stderr)")
        let r401 = try await RawHTTP.send("GET", hub.url + "/v1/changes?schema=1", token: "nonsense")
        #expect(r401.status == 401 && r401.body.contains("\"error\":\"unauthorized\""))

        // A world-readable token file is refused before anything is sent.
        FileManager.default.createFile(atPath: cli.path("open.token"), contents: Data(token.utf8), attributes: [.posixPermissions: 0o644])
        let open = try cli.run("push", "--replica", anna, "--token-file", cli.path("open.token"))
        #expect(open.status == 77 && open.stderr.contains("chmod 600"))

        // Malformed JSON, a wrong change, an oversized body, too many changes, schema mismatch.
        let malformed = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data("{\"replica\":".utf8))
        #expect(malformed.status == 400 && malformed.body.contains("not valid JSON"))
        let replica = "11111111-2222-4333-8444-555555555555"
        let change = { (i: Int) in
            "{\"entity\":\"venue\",\"id\":\"\(RecordIDs.make(i))\",\"field\":\"name\",\"value\":\"\(String(repeating: "x", count: 150))\","
                + "\"clock\":\"0000010000000000\",\"origin\":\"\(replica)\",\"base\":\"0000000000000000\",\"municipality\":\"0484\"}"
        }
        let invalid = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":[{\"entity\":\"venue\"}]}"
        let r400 = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(invalid.utf8))
        #expect(r400.status == 400 && r400.body.contains("changes[0]"))
        let big = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":[" + (0..<30).map(change).joined(separator: ",") + "]}"
        let r413 = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(big.utf8))
        #expect(r413.status == 413 && r413.body.contains("too_large"))
        let many = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":["
            + (0..<21).map { change($0).replacingOccurrences(of: String(repeating: "x", count: 150), with: "x") }.joined(separator: ",") + "]}"
        let r413b = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(many.utf8))
        #expect(r413b.status == 413 && r413b.body.contains("at most 20"))
        let newer = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":2,\"changes\":[]}"
        let r409 = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(newer.utf8))
        #expect(r409.status == 409 && r409.body.contains("schema_mismatch") && r409.body.contains("upgrade the hub"))
        let older = try await RawHTTP.send("GET", hub.url + "/v1/changes?schema=0", token: token)
        #expect(older.status == 409 && older.body.contains("upgrade kmk-sync on this replica"))
        #expect(older.headers["kmk-hub"] != nil && older.headers["kmk-schema"] == "1")

        // A gzipped push body is accepted; a batch number that skips ahead gets 409 with the expected one.
        let small = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":[" + change(1) + "]}"
        let gz = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(Gzip.compress(Array(small.utf8))),
                                        headers: ["Content-Encoding": "gzip", "Content-Type": "application/json"])
        #expect(gz.status == 200 && gz.body.contains("\"duplicate\":false"), "\(gz.status) \(gz.body)")
        let again = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token, body: Data(small.utf8))
        #expect(again.status == 200 && again.body.contains("\"duplicate\":true"))
        let gap = try await RawHTTP.send("POST", hub.url + "/v1/push", token: token,
                                         body: Data(small.replacingOccurrences(of: "\"batch\":1", with: "\"batch\":5").utf8))
        #expect(gap.status == 409 && gap.body.contains("\"expected_batch\":2"))

        // Revoked: the same token that worked gets 401.
        #expect(try cli.run("push", "--replica", anna).status == 0)
        let list = try cli.run("hub", "token", "list", "--db", hub.db).stdout
        let id = try #require(list.split(separator: "\n").first { $0.contains("anna") }?.split(separator: " ").first)
        #expect(try cli.run("hub", "token", "revoke", "--db", hub.db, String(id)).status == 0)
        #expect(try cli.run("venue", "add", "name=Efter", "membership=member", "--replica", anna).status == 0)
        let revoked = try cli.run("push", "--replica", anna)
        #expect(revoked.status == 77 && revoked.stderr.contains("401"))

        let metrics = try await RawHTTP.send("GET", hub.url + "/metrics")
        #expect(metrics.body.contains("kmk_hub_requests_total{method=\"POST\",route=\"/v1/push\",status=\"413\"} 2"))
        #expect(metrics.body.contains("kmk_hub_request_duration_seconds_count{route=\"/v1/push\"}"))
        let health = try await RawHTTP.send("GET", hub.url + "/v1/health")
        #expect(health.status == 200 && health.body.contains("\"status\":\"ok\""))
    }

    @Test("a hub that is down gives exit 69; the replica is intact and its changes still pending")
    func hubDown() throws {
        var cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        #expect(hub.stop() == 0)
        #expect(try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", anna).status == 0)
        let pending = try cli.status(anna)["pending"] as? Int
        let export = try cli.run("export", "--replica", anna).stdout
        cli.environment["KMK_RETRY_BASE_MS"] = "10"
        for command in ["push", "pull", "sync"] {
            let r = try cli.run(command, "--replica", anna, "--retries", "3", "--timeout", "5")
            #expect(r.status == 69, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("unavailable after 3 attempts"))
        }
        #expect(try cli.run("export", "--replica", anna).stdout == export)
        let status = try cli.status(anna)
        #expect(status["pending"] as? Int == pending && (pending ?? 0) > 0)
        #expect(status["reachable"] as? Bool == false)
        #expect(try cli.run("status", "--replica", anna).stdout.contains("UNREACHABLE"))
    }

    @Test("SIGTERM stops the hub cleanly; SIGINT too")
    func gracefulStop() throws {
        let cli = try CLI()
        defer { cli.remove() }
        for signal in [SIGTERM, SIGINT] {
            let hub = try HubProcess(cli: cli)
            #expect(hub.stop(signal) == 0)
            #expect(hub.logText.contains("store closed"))
        }
    }

    @Test("a second concurrent run on the same replica exits 75")
    func locked() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        let fd = open(anna + ".lock", O_RDWR | O_CREAT, 0o600)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let r = try cli.run("sync", "--replica", anna)
        #expect(r.status == 75 && r.stderr.contains("another kmk-sync run"))
        flock(fd, LOCK_UN)
        close(fd)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
    }
}

/// Deterministic record ids for raw protocol tests.
enum RecordIDs {
    static func make(_ i: Int) -> String {
        let hex = String(i, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }
}

/// A client written from SPEC.md alone, in Python with only the standard library, syncs with
/// the Swift clients through the hub.
@Suite("protocol: a second client from SPEC.md")
struct PythonClientTests {
    static let script = PackageDirectory.url("Tests/python/kmk_client.py").path

    func python(_ cli: CLI, _ args: [String]) throws -> CLI.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", PythonClientTests.script] + args
        p.currentDirectoryURL = cli.directory
        let out = Pipe()
        let err = Pipe()
        defer { ChildProcess.close(out, err) }
        p.standardOutput = out
        p.standardError = err
        try ChildProcess.run(p)
        let deadline = Date().addingTimeInterval(60)
        var exit = ChildProcess.wait(p, seconds: deadline.timeIntervalSinceNow)
        if exit == nil {
            p.terminate()
            Issue.record("the Python client did not finish within 60 s")
            exit = ChildProcess.wait(p, seconds: 30)
        }
        return CLI.Result(status: exit?.status ?? -1, stdout: String(decoding: ChildProcess.readAll(out.fileHandleForReading), as: UTF8.self),
                          stderr: String(decoding: ChildProcess.readAll(err.fileHandleForReading), as: UTF8.self))
    }

    @Test("the Python client and two Swift replicas edit, sync and converge")
    func converge() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        let bo = try cli.replica("bo.kmk", "0484", hub: hub, token: token)
        let v = try cli.run("venue", "add", "name=Krogen Påhittad", "membership=member", "--replica", anna).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        let py = { (args: [String]) in try self.python(cli, [cli.path("py.json"), hub.url, token, "0484"] + args) }
        let added = try py(["add-venue", "Pythonbaren"])
        #expect(added.status == 0, "\(added.stderr)")
        let pyVenue = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try py(["sync"]).status == 0)
        // Python renames Anna's venue; Bo (Swift) renames Python's venue.
        #expect(try py(["rename", v, "Krogen Påhittad (ny ägare)"]).status == 0)
        let s = try py(["sync"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("venue", "update", pyVenue, "name=Pythonbaren & kök", "--replica", bo).status == 0)
        #expect(try cli.run("sync", "--replica", bo).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        #expect(try py(["sync"]).status == 0)

        let list = try py(["venues"])
        let names = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: String]
        #expect(names == [v: "Krogen Påhittad (ny ägare)", pyVenue: "Pythonbaren & kök"], "\(list.stdout)")
        let export = try cli.run("export", "--replica", anna).stdout
        #expect(export == (try cli.run("export", "--replica", bo).stdout))
        #expect(export.contains("Krogen Påhittad (ny ägare)") && export.contains("Pythonbaren & kök"))
        #expect(try cli.status(anna)["in_step"] as? Bool == true)
    }
}
