import Foundation
import KMKTestSupport
import Testing

/// Nightly operation (SPEC.md §10, §11): `sync --json`, `check`, `backup` and `hub backup`, and the
/// contrib/ units that call them.
@Suite("operating it", .serialized)
struct OperationsTests {
    func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("sync --json prints exactly one summary line, on success and when the hub is down")
    func syncJSON() throws {
        var cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", anna).status == 0)
        let ok = try cli.run("sync", "--json", "--replica", anna)
        #expect(ok.status == 0, "\(ok.stderr)")
        let lines = ok.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(ok.stdout)")
        let summary = json(String(lines.first ?? ""))
        #expect(summary["ok"] as? Bool == true && summary["exit"] as? Int == 0)
        #expect(summary["municipality"] as? String == "0484")
        #expect((summary["pushed"] as? Int ?? 0) >= 3, "a venue and the municipality profile: \(ok.stdout)")
        #expect(summary["pending"] as? Int == 0)
        #expect(summary["error"] is NSNull)

        #expect(hub.stop() == 0)
        #expect(try cli.run("venue", "add", "name=Nattbaren", "membership=member", "--replica", anna).status == 0)
        cli.environment["KMK_RETRY_BASE_MS"] = "5"
        let down = try cli.run("sync", "--json", "--retries", "2", "--timeout", "3", "--replica", anna)
        #expect(down.status == 69, "\(down.stderr)")
        let failed = json(down.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(failed["ok"] as? Bool == false && failed["exit"] as? Int == 69, "\(down.stdout)")
        #expect((failed["error"] as? String ?? "").contains("unavailable"))
        #expect((failed["pending"] as? Int ?? 0) > 0, "the new venue stays pending: \(down.stdout)")
    }

    @Test("check passes on a healthy replica, compares with the hub, and names what is wrong in a damaged one")
    func check() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "1780"], file: "ks.token")
        let kim = try cli.replica("kim.kmk", "1780", hub: hub, token: token)
        let fixture = PackageDirectory.url("Fixtures/1780-karlstad.json").path
        #expect(try cli.run("import", fixture, "--replica", kim).status == 0)

        let offline = try cli.run("check", "--offline", "--replica", kim)
        #expect(offline.status == 0, "\(offline.stdout)\(offline.stderr)")
        for name in ["integrity", "change log", "records", "cursors", "ledger", "quarantine"] { #expect(offline.stdout.contains("ok   \(name)")) }
        let before = try cli.run("check", "--replica", kim)
        #expect(before.status == 65, "nothing pushed yet, so the hub differs: \(before.stdout)")
        #expect(before.stdout.contains("changes not yet pushed"))
        #expect(try cli.run("sync", "--replica", kim).status == 0)
        let after = try cli.run("check", "--json", "--replica", kim)
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        let report = json(after.stdout)
        #expect(report["ok"] as? Bool == true)
        #expect((report["checks"] as? [[String: Any]])?.count == 8)

        // Damage behind kmk-sync's back, with its triggers off: a row that no change records, and a
        // ledger entry numbered past the ledger's counter, naming an unknown origin.
        let broken = cli.path("broken.kmk")
        #expect(try cli.run("backup", "--out", broken, "--replica", kim).status == 0)
        let damage = try SQLiteShell.run(broken, "DROP TRIGGER kmk_venue_insert; "
            + "INSERT INTO venue(id, name, membership) VALUES ('00000000-0000-4000-8000-00000000dead', 'Spöke', 'member'); "
            + "UPDATE kmk_meta SET value = 1 WHERE key = 'seq'; "
            + "INSERT INTO kmk_ledger (n, entity, pk, field, delete_won, win_val, win_hlc, win_site, lose_val, lose_hlc, lose_site, "
            + "resolved_at) VALUES (7, 'venue', '00000000-0000-4000-8000-00000000dead', 'name', 0, 'a', 2, 0, 'b', 1, 99, 3);")
        #expect(damage.status == 0, "\(damage.stderr)")
        let damaged = try cli.run("check", "--offline", "--replica", broken)
        #expect(damaged.status == 65, "\(damaged.stdout)")
        #expect(damaged.stdout.contains("FAIL change log") && damaged.stdout.contains("but the counter says 1"), "\(damaged.stdout)")
        #expect(damaged.stdout.contains("FAIL capture") && damaged.stdout.contains("kmk_venue_insert"), "\(damaged.stdout)")
        #expect(damaged.stdout.contains("FAIL records") && damaged.stdout.contains("1 venue rows have no live record"), "\(damaged.stdout)")
        #expect(damaged.stdout.contains("FAIL ledger") && damaged.stdout.contains("reaches entry 7 but kmk_meta.ledger.n says 0")
            && damaged.stdout.contains("1 ledger entries name an origin that is not in kmk_site"), "\(damaged.stdout)")
        #expect(damaged.stderr.contains("failed"))
    }

    @Test("backup copies a replica consistently; a replica restored from it syncs back everything it lacked")
    func replicaBackup() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let fm = FileManager.default
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("venue", "add", "name=Före", "membership=member", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        let copy = cli.path("anna-backup.kmk")
        let made = try cli.run("backup", "--out", copy, "--replica", anna)
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try SQLiteShell.integrity(copy) == "ok")
        #expect(try cli.run("backup", "--out", copy, "--replica", anna).status == 73, "never overwrites without --force")
        #expect(try cli.run("export", "--replica", copy).stdout == (try cli.run("export", "--replica", anna).stdout))

        // Work after the backup, pushed; then the laptop's disk dies and Anna restores the backup.
        #expect(try cli.run("venue", "add", "name=Efter", "membership=member", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: anna + suffix) }
        try fm.copyItem(atPath: copy, toPath: anna)
        #expect(!(try cli.run("export", "--replica", anna).stdout.contains("Efter")))
        #expect(try cli.run("venue", "add", "name=Nyss", "membership=member", "--replica", anna).status == 0)
        let s = try cli.run("sync", "--replica", anna)
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        let restored = try cli.run("export", "--replica", anna).stdout
        #expect(restored.contains("Efter") && restored.contains("Före") && restored.contains("Nyss"), "\(restored)")
        #expect(try cli.status(anna)["in_step"] as? Bool == true)
        #expect(try cli.run("check", "--replica", anna).status == 0)
        // A fresh replica pulls the same state: the hub holds all three.
        let fresh = try cli.replica("fresh.kmk", "0484", hub: hub, token: token)
        #expect(try cli.run("sync", "--replica", fresh).status == 0)
        #expect(try cli.run("export", "--replica", fresh).stdout == restored)
    }

    @Test("hub backup while the hub serves; after restoring that older backup, clients re-push and nothing is lost")
    func hubBackupRestore() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let fm = FileManager.default
        let hub = try HubProcess(cli: cli)
        let esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let ks = try cli.token(hub: hub, ["--municipality", "1780"], file: "ks.token")
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: esk)
        let bo = try cli.replica("bo.kmk", "0484", hub: hub, token: esk)
        let kim = try cli.replica("kim.kmk", "1780", hub: hub, token: ks)
        for (r, name) in [(anna, "Annas krog"), (kim, "Kims krog")] {
            #expect(try cli.run("venue", "add", "name=\(name)", "membership=member", "--replica", r).status == 0)
            #expect(try cli.run("sync", "--replica", r).status == 0)
        }
        let backup = cli.path("hub-backup.db")
        let b = try cli.run("hub", "backup", "--db", hub.db, "--out", backup)
        #expect(b.status == 0, "online, while the hub runs: \(b.stderr)")
        #expect(try SQLiteShell.integrity(backup) == "ok")
        #expect(try cli.run("hub", "backup", "--db", hub.db, "--out", backup).status == 73)

        // Work after the backup reaches the hub and other replicas.
        #expect(try cli.run("venue", "add", "name=Bos krog", "membership=member", "--replica", bo).status == 0)
        #expect(try cli.run("venue", "add", "name=Kims andra", "membership=member", "--replica", kim).status == 0)
        for r in [bo, kim, anna] { #expect(try cli.run("sync", "--replica", r).status == 0) }
        #expect(hub.stop() == 0)

        // The disk fails; the operator restores last night's backup.
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: hub.db + suffix) }
        try fm.copyItem(atPath: backup, toPath: hub.db)
        let restored = try HubProcess(cli: cli)
        defer { restored.stop() }
        for r in [anna, bo, kim] { #expect(try cli.run("remote", "set", restored.url, "--replica", r).status == 0) }
        for r in [anna, bo, kim] {
            let s = try cli.run("sync", "--json", "--replica", r)
            #expect(s.status == 0, "\(s.stderr)")
            #expect(json(s.stdout)["hub_restored"] as? Bool == true, "\(r): \(s.stdout)")
        }
        for r in [anna, bo, kim] { #expect(try cli.run("sync", "--replica", r).status == 0) }
        let ea = try cli.run("export", "--replica", anna).stdout
        #expect(ea == (try cli.run("export", "--replica", bo).stdout))
        #expect(ea.contains("Annas krog") && ea.contains("Bos krog"))
        let ek = try cli.run("export", "--replica", kim).stdout
        #expect(ek.contains("Kims krog") && ek.contains("Kims andra"))
        for r in [anna, bo, kim] { #expect(try cli.status(r)["in_step"] as? Bool == true) }
        let fresh = try cli.replica("fresh.kmk", "1780", hub: restored, token: ks)
        #expect(try cli.run("sync", "--replica", fresh).status == 0)
        #expect(try cli.run("export", "--replica", fresh).stdout == ek)
    }

    @Test("the contrib units and cron example call commands that exist, with the documented options")
    func contrib() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let root = PackageDirectory.url("contrib")
        var commands = 0
        for file in ["kmk-sync.service", "kmk-sync.timer", "crontab.example", "kmk-hub.service", "kmk-hub-backup.service"] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let range = line.range(of: "/usr/local/bin/kmk-sync ") else { continue }
                // The words up to the first shell operator or option value that names a path.
                let words = line[range.upperBound...].split(separator: " ").prefix { !$0.hasPrefix(">") && $0 != "&&" && $0 != ";" && !$0.hasSuffix("'") }
                var args: [String] = []
                var skipValue = false
                for w in words {
                    if skipValue { skipValue = false; continue }
                    if ["--db", "--out", "--host", "--port"].contains(w) { skipValue = true; continue }
                    args.append(String(w))
                }
                let r = try cli.run(args + ["--help"])
                #expect(r.status == 0, "\(file): kmk-sync \(args.joined(separator: " ")): \(r.stderr)")
                commands += 1
            }
        }
        #expect(commands >= 5)
        let unit = try String(contentsOf: root.appendingPathComponent("kmk-sync.service"), encoding: .utf8)
        #expect(unit.contains("SuccessExitStatus=69 75"))
        let timer = try String(contentsOf: root.appendingPathComponent("kmk-sync.timer"), encoding: .utf8)
        #expect(timer.contains("OnCalendar=") && timer.contains("Persistent=true"))
    }
}
