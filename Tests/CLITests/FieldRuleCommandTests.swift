import Foundation
import Testing

/// Issue 24 §2: the command line refuses what no replica can store with a message that names the
/// field and the limit (exit 65), never a raw SQLite message; and no command clears a required
/// field.
@Suite("kmk-sync: one field rule on the command line")
struct FieldRuleCommandTests {
    /// An error for a person: names the field and what to do, not SQLite's words.
    func expectPlain(_ r: CLI.Result, _ label: String, _ needles: [String]) {
        #expect(r.status == 65, "\(label): exit \(r.status), stderr \(r.stderr)")
        for needle in needles { #expect(r.stderr.contains(needle), "\(label): \(r.stderr)") }
        for raw in ["CHECK constraint", "SQLITE", "constraint failed"] {
            #expect(!r.stderr.contains(raw), "\(label): a raw SQLite message: \(r.stderr)")
        }
    }

    @Test("venue add: a name over 200 code points is refused naming the field and the limit, in any spelling")
    func overLimit() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "0484").status == 0)

        let ascii = try cli.run("venue", "add", "name=" + String(repeating: "a", count: 201), "membership=member")
        expectPlain(ascii, "201 letters", ["name", "201 characters long", "at most 200"])
        // 101 characters on screen, 202 code points: the replica's CHECK counts code points.
        let decomposed = try cli.run("venue", "add", "name=" + String(repeating: "e\u{301}", count: 101), "membership=member")
        expectPlain(decomposed, "101 decomposed é", ["name", "202 characters long", "at most 200"])
        let family = "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"
        let emoji = try cli.run("venue", "add", "name=" + String(repeating: family, count: 29), "membership=member")
        expectPlain(emoji, "29 ZWJ families", ["name", "203 characters long", "at most 200"])
        let rtl = try cli.run("venue", "add", "name=\u{202E}" + String(repeating: "b", count: 200), "membership=member")
        expectPlain(rtl, "RTL override", ["name", "201 characters long", "at most 200"])

        // At the limit in code points it is stored, and shown back unchanged.
        let fits = String(repeating: "e\u{301}", count: 100)
        let added = try cli.run("venue", "add", "name=" + fits, "membership=member")
        #expect(added.status == 0, "\(added.stderr)")
        let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // update and set take the same rule.
        let update = try cli.run("venue", "update", id, "address=" + String(repeating: "a\u{308}", count: 150))
        expectPlain(update, "update address", ["address", "300 characters long", "at most 200"])
        let set = try cli.run("set", "venue", id, "notes=" + String(repeating: "x", count: 10_001))
        expectPlain(set, "set notes", ["notes", "10001 characters long", "at most 10000"])
        #expect(try cli.run("venue", "show", id).stdout.contains(fits))
    }

    @Test("import: a NUL or an over-long cell is refused naming the field; nothing is written")
    func importNUL() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "0484").status == 0)
        // A command-line argument cannot hold a NUL; a file can.
        try Data("name,membership\nKrogen,member\nKro\u{0}gen,member\n".utf8).write(to: URL(fileURLWithPath: cli.path("nul.csv")))
        expectPlain(try cli.run("import", cli.path("nul.csv")), "CSV with NUL", ["name", "NUL", "remove it"])
        let long = "{\"format\":\"kmk-sync-export\",\"municipality\":\"0484\",\"schema\":1,\"records\":[{\"entity\":\"venue\","
            + "\"id\":\"019b7a3c-5de2-76f3-b90c-676ccd62e74a\",\"fields\":{\"name\":\"Kro\\u0000gen\",\"membership\":\"member\"}}]}"
        try long.write(toFile: cli.path("nul.json"), atomically: true, encoding: .utf8)
        expectPlain(try cli.run("import", cli.path("nul.json")), "JSON with \\u0000", ["name", "NUL"])
        let list = try cli.run("venue", "list", "--json")
        #expect(list.status == 0 && !list.stdout.contains("Krogen"), "nothing written: \(list.stdout)")
    }

    @Test("a required field cannot be cleared, by update, set or import")
    func requiredField() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "0484").status == 0)
        let added = try cli.run("venue", "add", "name=Krogen", "membership=member")
        let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        expectPlain(try cli.run("venue", "update", id, "name="), "update name=", ["name", "required"])
        expectPlain(try cli.run("venue", "update", id, "name=   "), "update name=spaces", ["name", "required"])
        expectPlain(try cli.run("set", "venue", id, "membership="), "set membership=", ["membership", "required"])
        let json = "{\"format\":\"kmk-sync-export\",\"municipality\":\"0484\",\"schema\":1,\"records\":[{\"entity\":\"venue\","
            + "\"id\":\"\(id)\",\"fields\":{\"name\":null,\"membership\":\"member\"}}]}"
        try json.write(toFile: cli.path("null.json"), atomically: true, encoding: .utf8)
        expectPlain(try cli.run("import", cli.path("null.json")), "import name null", ["name", "required"])
        // An export record is written whole: leaving a required field out would clear it.
        try json.replacingOccurrences(of: "\"name\":null,", with: "").write(toFile: cli.path("left-out.json"), atomically: true,
                                                                               encoding: .utf8)
        expectPlain(try cli.run("import", cli.path("left-out.json")), "import without name", ["name", "required"])
        #expect(try cli.run("venue", "show", id).stdout.contains("Krogen"))
    }

    @Test("hub check lists the values an older hub took that no replica can store, and what makes them storable")
    func hubCheck() throws {
        let cli = try CLI()
        defer { cli.remove() }
        let db = cli.path("hub.db")
        #expect(try cli.run("hub", "token", "create", "--db", db, "--municipality", "0484").status == 0)  // makes the store
        let clean = try cli.run("hub", "check", "--db", db)
        #expect(clean.status == 0 && clean.stdout.contains("ok"), "\(clean.stdout)\(clean.stderr)")
        // What a hub without the rule stored: venue 1 with a name of 150 characters but 300 code
        // points, venue 2 with its membership cleared. (Entity 2 is venue; field 1 name, 5 membership.)
        let long = String(repeating: "a\u{308}", count: 150)
        let id1 = "019b7a3c-5de2-76f3-b90c-676ccd62e701", id2 = "019b7a3c-5de2-76f3-b90c-676ccd62e702"
        let sql = """
            INSERT INTO hub_register (tbl, pk, col, muni, val, hlc, site, base, seq) VALUES
            (2, '\(id1)', 0, '0484', 1, 1000, 0, 0, 1), (2, '\(id1)', 1, '0484', '\(long)', 1000, 0, 0, 2),
            (2, '\(id1)', 5, '0484', 'member', 1000, 0, 0, 3),
            (2, '\(id2)', 0, '0484', 1, 1000, 0, 0, 4), (2, '\(id2)', 1, '0484', 'Krogen', 1000, 0, 0, 5),
            (2, '\(id2)', 5, '0484', NULL, 1000, 0, 0, 6);
            """
        let shell = try SQLiteShell.run(db, sql)
        #expect(shell.status == 0, "\(shell.stderr)")
        let found = try cli.run("hub", "check", "--db", db)
        #expect(found.status == 65, "\(found.stdout)\(found.stderr)")
        #expect(found.stdout.contains("0484 venue \(id1) name: field 'name' is 300 characters long; at most 200"), "\(found.stdout)")
        #expect(found.stdout.contains("0484 venue \(id2) membership: field 'membership' is required"), "\(found.stdout)")
        #expect(found.stdout.contains("kmk-sync set venue \(id1) name=") && found.stdout.contains("then kmk-sync sync"),
                "\(found.stdout)")
        #expect(found.stderr.contains("2 value(s) no replica can take: these municipalities' pulls stop at them (0484)"),
                "\(found.stderr)")
        #expect(try cli.run("hub", "check", "--db", cli.path("none.db")).status == 66)
    }
}
