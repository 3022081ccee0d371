import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// Restores and copies as an operator and a coordinator make them (SPEC.md §2, "Copies and
/// restores", §10 "Backups", §11.4): every later sync succeeds and nothing written is lost.
@Suite("restores and copies", .serialized)
struct RestoreTests {
    /// A hub, the styrgrupp publishing the default criteria, and two replicas of Eskilstuna that
    /// synced them: the set-up of the reproduction in the no-write-lost issue.
    struct World {
        let cli: CLI
        var hub: HubProcess
        let esk: String
        let styr: String
        let a: String
        let b: String
        let national: String

        init() throws {
            cli = try CLI()
            hub = try HubProcess(cli: cli)
            esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
            styr = try cli.token(hub: hub, ["--styrgrupp"], file: "styr.token")
            national = cli.path("styrgrupp.kmk")
            #expect(try cli.run("init", national, "--national").status == 0)
            #expect(try cli.run("remote", "set", hub.url, "--replica", national).status == 0)
            FileManager.default.createFile(atPath: national + ".token", contents: Data(styr.utf8), attributes: [.posixPermissions: 0o600])
            #expect(try cli.run("criteria", "publish-default", "--replica", national).status == 0)
            let s = try cli.run("sync", "--replica", national)
            #expect(s.status == 0, "\(s.stderr)")
            a = try cli.replica("a.kmk", "0484", hub: hub, token: esk)
            b = try cli.replica("b.kmk", "0484", hub: hub, token: esk)
        }

        func sync(_ replica: String, _ args: String...) throws -> [String: Any] {
            let r = try cli.run(["sync", "--json", "--replica", replica] + args)
            let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
            #expect(r.status == 0, "sync of \(replica) exited \(r.status): \(r.stdout) \(r.stderr)")
            return json
        }

        func add(_ replica: String, _ name: String) throws -> String {
            let r = try cli.run("venue", "add", "name=\(name)", "membership=member", "--replica", replica)
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Every replica shows every name, `check` passes on each, and each equals the hub.
        func expectConverged(_ replicas: [String], names: [String]) throws {
            for r in replicas { _ = try sync(r) }
            for r in replicas { _ = try sync(r) }
            var exports: [String] = []
            for r in replicas {
                let list = try cli.run("venue", "list", "--replica", r).stdout
                for n in names { #expect(list.contains(n), "\(r) lacks \(n)") }
                let check = try cli.run("check", "--replica", r)
                #expect(check.status == 0, "check of \(r): \(check.stdout) \(check.stderr)")
                exports.append(try cli.run("export", "--replica", r).stdout)
            }
            #expect(Set(exports).count == 1, "the replicas differ")
        }
    }

    @Test("the hub restored from hub backup: every later sync exits 0 and nothing is lost")
    func hubRestored() throws {
        var w = try World()
        defer { w.cli.remove() }
        let v1 = try w.add(w.a, "Före backup")
        #expect(try w.cli.run("venue", "update", v1, "notes=lokal anteckning", "--replica", w.a).status == 0)
        _ = try w.sync(w.a)
        _ = try w.sync(w.b)
        // A conflict, so that both ledgers hold an entry: both officials set the staff count.
        #expect(try w.cli.run("venue", "update", v1, "staff_count=10", "--replica", w.a).status == 0)
        usleep(5_000)
        #expect(try w.cli.run("venue", "update", v1, "staff_count=12", "--replica", w.b).status == 0)
        _ = try w.sync(w.a)
        _ = try w.sync(w.b)
        _ = try w.sync(w.a)
        let ledger = try w.cli.run("conflicts", "--json", "--replica", w.a).stdout
        #expect(ledger.contains("staff_count"), "\(ledger)")
        let backup = w.cli.path("hub-backup.db")
        #expect(try w.cli.run("hub", "backup", "--db", w.hub.db, "--out", backup).status == 0)
        _ = try w.add(w.a, "Efter backup A")
        _ = try w.add(w.b, "Efter backup B")
        _ = try w.sync(w.a)
        _ = try w.sync(w.b)
        // The operator restores the store as `hub backup --help` says: stop, copy over, start.
        w.hub.stop()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.hub.db + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: w.hub.db)
        w.hub = try HubProcess(cli: w.cli)
        defer { w.hub.stop() }
        for r in [w.a, w.b, w.national] {
            #expect(try w.cli.run("remote", "set", w.hub.url, "--replica", r).status == 0)
        }
        let first = try w.sync(w.a)
        #expect(first["hub_restored"] as? Bool == true, "\(first)")
        _ = try w.sync(w.national)
        try w.expectConverged([w.a, w.b], names: ["Före backup", "Efter backup A", "Efter backup B"])
        #expect(try w.cli.run("venue", "show", v1, "--replica", w.a).stdout.contains("lokal anteckning"))
        #expect(try w.cli.run("venue", "show", v1, "--replica", w.b).stdout.contains("12"))
        #expect(try w.cli.run("conflicts", "--json", "--replica", w.a).stdout == ledger, "the ledger changed")
        let check = try w.cli.run("check", "--replica", w.national)
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }

    @Test("a hub restored from a backup taken after the replica's last pull: found by the batch numbers, hub_restored true")
    func hubRestoredFoundByBatchGap() throws {
        var w = try World()
        defer { w.cli.remove() }
        _ = try w.add(w.a, "Före backup")
        _ = try w.sync(w.a)
        let backup = w.cli.path("hub-backup.db")
        #expect(try w.cli.run("hub", "backup", "--db", w.hub.db, "--out", backup).status == 0)
        // Pushed, not pulled: the pull cursor still names a commit the backup holds.
        _ = try w.add(w.a, "Efter backup")
        #expect(try w.cli.run("push", "--replica", w.a).status == 0)
        w.hub.stop()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.hub.db + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: w.hub.db)
        w.hub = try HubProcess(cli: w.cli)
        defer { w.hub.stop() }
        for r in [w.a, w.b, w.national] { #expect(try w.cli.run("remote", "set", w.hub.url, "--replica", r).status == 0) }
        let first = try w.sync(w.a)
        #expect(first["hub_restored"] as? Bool == true, "\(first)")
        try w.expectConverged([w.a, w.b], names: ["Före backup", "Efter backup"])
    }

    @Test("a replica restored from backup and edited: syncs exit 0, nothing is lost, local-only data kept")
    func replicaRestored() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        let v = try w.add(w.a, "Före backup")
        #expect(try w.cli.run("venue", "update", v, "notes=lokal anteckning", "--replica", w.a).status == 0)
        _ = try w.sync(w.a)
        _ = try w.sync(w.b)
        let backup = w.cli.path("a-backup.kmk")
        #expect(try w.cli.run("backup", "--out", backup, "--replica", w.a).status == 0)
        _ = try w.add(w.a, "Efter backup, sedan förlorad fil")
        _ = try w.sync(w.a)
        _ = try w.add(w.b, "Från kollegan")
        _ = try w.sync(w.b)
        // The laptop's file is lost; the coordinator restores the backup as the README says and edits.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.a + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: w.a)
        _ = try w.add(w.a, "Efter återställning")
        let json = try w.sync(w.a)
        #expect(json["ok"] as? Bool == true, "\(json)")
        try w.expectConverged([w.a, w.b], names: ["Före backup", "Efter backup, sedan förlorad fil", "Från kollegan", "Efter återställning"])
        #expect(try w.cli.run("venue", "show", v, "--replica", w.a).stdout.contains("lokal anteckning"))
    }

    @Test("the styrgrupp's replica restored from backup and edited: syncs exit 0, its criteria reach every municipality")
    func nationalReplicaRestored() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        let criteria = CriteriaSet.kmkDefault.criteria
        let first = criteria[0].id, second = criteria[1].id
        let backup = w.cli.path("styr-backup.kmk")
        #expect(try w.cli.run("backup", "--out", backup, "--replica", w.national).status == 0)
        #expect(try w.cli.run("criterion", "update", first, "text_sv=Efter backup", "--replica", w.national).status == 0)
        _ = try w.sync(w.national)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: w.national + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: w.national)
        #expect(try w.cli.run("criterion", "update", second, "text_sv=Efter återställning", "--replica", w.national).status == 0)
        _ = try w.sync(w.national)
        _ = try w.sync(w.national)
        _ = try w.sync(w.a)
        for r in [w.national, w.a] {
            #expect(try w.cli.run("criterion", "show", first, "--replica", r).stdout.contains("Efter backup"), "\(r)")
            #expect(try w.cli.run("criterion", "show", second, "--replica", r).stdout.contains("Efter återställning"), "\(r)")
            let check = try w.cli.run("check", "--replica", r)
            #expect(check.status == 0, "\(r): \(check.stdout) \(check.stderr)")
        }
    }

    @Test("a replica rebuilt from its export (with local-only data) into a new file: syncs, keeps the notes")
    func rebuiltFromExport() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        let v = try w.add(w.a, "Med anteckning")
        #expect(try w.cli.run("venue", "update", v, "notes=lokal anteckning", "--replica", w.a).status == 0)
        _ = try w.sync(w.a)
        let export = w.cli.path("a-export.json")
        #expect(try w.cli.run("export", "--include-local", "--out", export, "--replica", w.a).status == 0)
        #expect(try String(contentsOfFile: export, encoding: .utf8).contains("criteria_set"), "the export holds the pulled criteria")
        // The laptop is replaced: a new replica from the export, as the README says.
        let rebuilt = try w.cli.replica("ny.kmk", "0484", hub: w.hub, token: w.esk)
        let imported = try w.cli.run("import", export, "--replica", rebuilt)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("national") || imported.stderr.contains("national"), "\(imported.stdout) \(imported.stderr)")
        _ = try w.sync(rebuilt)
        try w.expectConverged([w.a, rebuilt, w.b], names: ["Med anteckning"])
        #expect(try w.cli.run("venue", "show", v, "--replica", rebuilt).stdout.contains("lokal anteckning"))
        #expect(try w.cli.run("criteria", "show", "--replica", rebuilt).status == 0)
    }

    @Test("a copy made with cp and used beside its original: both sync, neither wedges or loses data")
    func copyBesideOriginal() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        _ = try w.add(w.a, "Original")
        _ = try w.sync(w.a)
        _ = try w.add(w.a, "Osynkad i originalet")
        let copy = w.cli.path("kopia.kmk")
        try FileManager.default.copyItem(atPath: w.a, toPath: copy)
        try FileManager.default.copyItem(atPath: w.a + ".token", toPath: copy + ".token")
        _ = try w.add(w.a, "Bara i originalet")
        _ = try w.add(copy, "Bara i kopian")
        let ids = [w.a, copy].map { try? w.cli.run("status", "--json", "--replica", $0).stdout }
        #expect(ids[0] != ids[1])
        for _ in 0..<2 {
            _ = try w.sync(copy)
            _ = try w.sync(w.a)
        }
        try w.expectConverged([w.a, copy, w.b], names: ["Original", "Osynkad i originalet", "Bara i originalet", "Bara i kopian"])
        let statusA = try w.cli.status(w.a)
        let statusCopy = try w.cli.status(copy)
        #expect(statusA["replica"] as? String != statusCopy["replica"] as? String, "the copy kept its original's replica id")
    }

    @Test("check and status advise sync --full when the replica and the hub differ, and it repairs them")
    func fullResync() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        _ = try w.add(w.a, "Krog ett")
        _ = try w.sync(w.a)
        // The hub loses a register (an operator's mistake): nothing is pending, yet they differ.
        let deleted = try SQLiteShell.run(w.hub.db, "DELETE FROM hub_register WHERE tbl = 2 AND col = 0")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let check = try w.cli.run("check", "--replica", w.a)
        #expect(check.status == 65)
        #expect(check.stdout.contains("sync --full"), "\(check.stdout)")
        #expect(try w.cli.run("status", "--replica", w.a).stdout.contains("sync --full"))
        _ = try w.sync(w.a, "--full")
        let again = try w.cli.run("check", "--replica", w.a)
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
    }

    @Test("a change on the hub that replicas cannot apply is set aside; the rest of its page is applied and syncs go on")
    func quarantinedOnPull() throws {
        let w = try World()
        defer { w.cli.remove(); w.hub.stop() }
        let v = try w.add(w.a, "Krogen Bra")
        _ = try w.sync(w.a)
        // A value no replica can take, put straight into the hub store (as a hub before the
        // one-rule fix accepted): a new register with the next sequence number and its commit.
        let bad = """
            INSERT INTO hub_register (tbl, pk, col, muni, val, hlc, site, base, seq)
              SELECT tbl, '0d0d0d0d-0000-4000-8000-000000000001', 5, muni, 'inte ett medlemskap', hlc, site, 0,
                     (SELECT max(seq) + 1 FROM hub_register)
              FROM hub_register WHERE pk = '\(v)' AND col = 0;
            INSERT INTO hub_commit (first_seq, last_seq, tag, at)
              SELECT (SELECT max(last_seq) + 1 FROM hub_commit), max(seq), 'handmade', 0 FROM hub_register;
            UPDATE hub_meta SET value = (SELECT max(seq) FROM hub_register) WHERE key = 'seq';
            """
        w.hub.stop()
        let edit = try SQLiteShell.run(w.hub.db, bad)
        #expect(edit.status == 0, "\(edit.stderr)")
        let hub = try HubProcess(cli: w.cli)
        defer { hub.stop() }
        for r in [w.a, w.b] { #expect(try w.cli.run("remote", "set", hub.url, "--replica", r).status == 0) }
        let json = try w.sync(w.b)
        #expect(json["ok"] as? Bool == true, "\(json)")
        #expect((json["quarantined"] as? Int ?? 0) >= 1, "\(json)")
        #expect(try w.cli.run("venue", "show", v, "--replica", w.b).stdout.contains("Krogen Bra"))
        let status = try w.cli.run("status", "--replica", w.b)
        #expect(status.stdout.contains("set aside"), "\(status.stdout)")
        #expect(!status.stdout.lowercased().contains("sqlite"))
        _ = try w.add(w.a, "Senare krog")
        _ = try w.sync(w.a)
        _ = try w.sync(w.b)
        #expect(try w.cli.run("venue", "list", "--replica", w.b).stdout.contains("Senare krog"))
    }
}
