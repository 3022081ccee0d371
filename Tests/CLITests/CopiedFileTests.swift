import Foundation
import KMKTestSupport
import Testing

/// The replica file alone is the replica (SPEC.md §2): a person copies `eskilstuna.kmk` to a USB
/// stick, not its `-wal` file. After every kind of command the file must hold every committed
/// change, and a new file never takes in a WAL left from an earlier one.
@Suite("the .kmk file alone", .serialized)
struct CopiedFileTests {
    /// Copies only `file` (as `cp` does) into a folder of its own and lists the copy's venues.
    func venuesInCopy(_ cli: CLI, _ file: String, as name: String) throws -> String {
        let folder = cli.path("usb-\(name)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let copy = folder + "/copy.kmk"
        try FileManager.default.copyItem(atPath: file, toPath: copy)
        let listed = try cli.run("venue", "list", "--replica", copy)
        #expect(listed.status == 0, "\(name): \(listed.stderr)")
        let checked = try cli.run("check", "--offline", "--replica", copy)
        #expect(checked.status == 0, "\(name): check of the copy: \(checked.stdout) \(checked.stderr)")
        return listed.stdout
    }

    @Test("a copy of only the .kmk file, taken after each kind of command, holds that command's changes")
    func copyAfterEveryCommand() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let token = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let a = try cli.replica("a.kmk", "0484", hub: hub, token: token)
        let b = try cli.replica("b.kmk", "0484", hub: hub, token: token)
        #expect(try !venuesInCopy(cli, a, as: "init").contains("Krogen"))

        let add = try cli.run("venue", "add", "name=Krogen Kopia", "membership=member", "--replica", a)
        #expect(add.status == 0, "\(add.stderr)")
        let v = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try venuesInCopy(cli, a, as: "add").contains("Krogen Kopia"))
        #expect(try cli.run("venue", "update", v, "address=Storgatan 1", "--replica", a).status == 0)
        #expect(try cli.run("venue", "show", v, "--replica", a).stdout.contains("Storgatan 1"))
        let folder = cli.path("usb-update")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: a, toPath: folder + "/copy.kmk")
        #expect(try cli.run("venue", "show", v, "--replica", folder + "/copy.kmk").stdout.contains("Storgatan 1"))

        let csv = cli.path("venues.csv")
        try "namn;adress;medlemskap\nImporterad bar;Torget 2;member\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let imported = try cli.run("import", csv, "--replica", a)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try venuesInCopy(cli, a, as: "import").contains("Importerad bar"))

        // An edit by another program, stamped by the next kmk-sync command (here `status`).
        #expect(try SQLiteShell.run(a, "UPDATE venue SET address = 'Sqlitegatan 3' WHERE name = 'Importerad bar'").status == 0)
        #expect(try cli.run("status", "--replica", a).status == 0)
        let afterStatus = cli.path("usb-status")
        try FileManager.default.createDirectory(atPath: afterStatus, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: a, toPath: afterStatus + "/copy.kmk")
        let log = try cli.run("log", "--limit", "50", "--replica", afterStatus + "/copy.kmk")
        #expect(log.stdout.contains("Sqlitegatan 3"), "the stamp made by status is not in the copy: \(log.stdout)")

        let synced = try cli.run("sync", "--replica", a)
        #expect(synced.status == 0, "\(synced.stderr)")
        let pulled = try cli.run("sync", "--replica", b)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try venuesInCopy(cli, b, as: "sync").contains("Krogen Kopia"))

        #expect(try cli.run("delete", "venue", v, "--replica", a).status == 0)
        #expect(try !venuesInCopy(cli, a, as: "delete").contains("Krogen Kopia"))

        let bundle = cli.path("a.bundle")
        #expect(try cli.run("bundle", "create", "--out", bundle, "--replica", a).status == 0)
        let applied = try cli.run("bundle", "apply", bundle, "--replica", b)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try !venuesInCopy(cli, b, as: "bundle apply").contains("Krogen Kopia"))
        for file in [a, b] {
            let wal = (try? FileManager.default.attributesOfItem(atPath: file + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0, "\(file)-wal holds \(wal) bytes after the last command")
        }

        // The hub store after `hub serve` stops.
        hub.stop()
        let hubCopy = cli.path("hub-copy.db")
        try FileManager.default.copyItem(atPath: hub.db, toPath: hubCopy)
        let rows = try SQLiteShell.run(hubCopy, "SELECT count(*) FROM hub_register", readOnly: true)
        #expect((Int(rows.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0, "the hub store's copy is empty: \(rows)")
    }

    @Test("init refuses a path where a removed replica's -wal file is left, and says what it is")
    func leftoverWAL() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let a = cli.path("a.kmk")
        #expect(try cli.run("init", a, "--municipality", "0484").status == 0)
        #expect(try cli.run("venue", "add", "name=Gammal krog", "membership=member", "--replica", a).status == 0)
        // A program that had the file open is killed with a write in its WAL, and the file is removed.
        let script = """
            import sqlite3, os
            c = sqlite3.connect('\(a)', isolation_level=None)
            c.execute("PRAGMA wal_autocheckpoint = 0")
            c.execute("UPDATE venue SET address = 'Kvar 1'")
            os._exit(0)
            """
        let py = Process()
        py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py.arguments = ["python3", "-c", script]
        try ChildProcess.run(py)
        _ = ChildProcess.wait(py, seconds: 60)
        #expect(FileManager.default.fileExists(atPath: a + "-wal"))
        try FileManager.default.removeItem(atPath: a)

        let again = try cli.run("init", a, "--municipality", "1780")
        #expect(again.status == 73, "\(again.stdout) \(again.stderr)")
        #expect(again.stderr.contains("a.kmk-wal") && again.stderr.contains("write-ahead log"), "\(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: a), "init left a file behind")
    }
}
