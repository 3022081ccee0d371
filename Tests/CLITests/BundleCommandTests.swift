import Foundation
import KMKTestSupport
import Testing

@Suite("kmk-sync bundle and conflicts")
struct BundleCommandTests {
    @Test("two officials swap bundles on a USB stick; a tampered bundle is refused; conflicts show who lost")
    func officials() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_NOW"] = "2016-05-02T08:00:00Z"
        let a = cli.path("anna.kmk")
        let b = cli.path("bo.kmk")
        #expect(try cli.run("init", a, "--municipality", "0484").status == 0)
        #expect(try cli.run("init", b, "--municipality", "0484").status == 0)
        let v = try cli.run("venue", "add", "name=Krogen Påhittad", "membership=member", "contact_person=Anna A",
                            "--replica", a).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("bundle", "create", "--replica", a, "--out", cli.path("a1.bundle")).status == 0)
        #expect(!(try String(contentsOfFile: cli.path("a1.bundle"), encoding: .utf8)).contains("Anna A"))
        #expect(try cli.run("bundle", "apply", "--replica", b, cli.path("a1.bundle")).status == 0)
        // Both edit the same field offline; Bo's edit is later and wins.
        cli.environment["KMK_NOW"] = "2016-05-03T08:00:00Z"
        #expect(try cli.run("venue", "update", v, "staff_count=10", "--replica", a).status == 0)
        cli.environment["KMK_NOW"] = "2016-05-03T09:00:00Z"
        #expect(try cli.run("venue", "update", v, "staff_count=14", "--replica", b).status == 0)
        #expect(try cli.run("bundle", "create", "--replica", b, "--out", cli.path("b1.bundle")).status == 0)
        // A tampered copy is refused and changes nothing.
        var tampered = try String(contentsOfFile: cli.path("b1.bundle"), encoding: .utf8)
        tampered = tampered.replacingOccurrences(of: "\"value\":14", with: "\"value\":41")
        try tampered.write(toFile: cli.path("bad.bundle"), atomically: true, encoding: .utf8)
        let before = try cli.run("export", "--replica", a).stdout
        let refused = try cli.run("bundle", "apply", "--replica", a, cli.path("bad.bundle"))
        #expect(refused.status == 65 && refused.stderr.contains("checksum"))
        #expect(try cli.run("export", "--replica", a).stdout == before)
        let applied = try cli.run("bundle", "apply", "--replica", a, cli.path("b1.bundle"))
        #expect(applied.status == 0 && applied.stdout.contains("1 conflicts"))
        let conflicts = try cli.run("conflicts", "--replica", a)
        #expect(conflicts.stdout.contains("staff_count") && conflicts.stdout.contains("this replica"))
        let json = try cli.run("conflicts", "--json", "--replica", a)
        #expect(json.stdout.contains("\"loser\":{") && json.stdout.contains("\"value\":10"))
        #expect(try cli.run("conflicts", "--since", "2030-01-01", "--replica", a).stdout.contains("no conflicts"))
    }
}

@Suite("kmk-sync demo")
struct DemoTests {
    @Test("the demo converges, shows the ledger, and cleans up unless --keep")
    func demo() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let root = PackageDirectory.url("Fixtures").path
        let r = try cli.run("demo", "--fixtures", root, "--keep", cli.path("kept"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("converged: yes"))
        #expect(r.stdout.contains("kept 20 by Bo, lost 18 by Anna"))
        #expect(r.stdout.contains("refused by the hub (HTTP 403)"))
        #expect(r.stdout.contains("kept deleted by Anna, lost 1 by Bo"))
        #expect(!r.stdout.contains("≠ hub"))
        #expect(r.stdout.contains("Helsingborg") && r.stdout.contains("Kalmar") && r.stdout.contains("Karlstad"))
        #expect(r.stdout.contains("styrgrupp pushed 164 changes (18 criteria)"))
        #expect(r.stdout.contains("Karlstad     8 members, 0 green"))
        #expect(r.stdout.contains("Karlstad's own offline report agrees: yes"))
        #expect(FileManager.default.fileExists(atPath: cli.path("kept/anna.kmk")))
        #expect(FileManager.default.fileExists(atPath: cli.path("kept/hub.db")))
        // Without --keep nothing is left behind in the temporary folder.
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? [])
        #expect(try cli.run("demo", "--fixtures", root).status == 0)
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? [])
        #expect(after.subtracting(before).filter { $0.hasPrefix("kmk-demo-") }.isEmpty)
    }
}
