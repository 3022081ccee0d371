import Foundation
import Testing

@Suite("kmk-sync local commands")
struct LocalCommandTests {
    @Test("a new user's session: init, add, set, delete, export, an sqlite3 UPDATE, log")
    func newUserSession() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("eskilstuna.kmk")
        let created = try cli.run("init", cli.path("eskilstuna.kmk"), "--municipality", "Eskilstuna")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("Eskilstuna (0484)"))

        var ids: [String] = []
        for name in ["Krogen Påhittad", "Nattklubb Exempel", "Bar Fiktiv"] {
            let r = try cli.run("venue", "add", "name=\(name)", "membership=member", "has_drug_policy=ja")
            #expect(r.status == 0, "\(r.stderr)")
            ids.append(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(ids.allSatisfy { $0.count == 36 })
        let set = try cli.run("set", "venue", ids[0], "staff_count=12", "door_staff_count=2")
        #expect(set.status == 0 && set.stdout.contains("updated venue"))
        #expect(try cli.run("delete", "venue", ids[2]).status == 0)

        let export = try cli.run("export")
        #expect(export.status == 0)
        #expect(export.stdout.hasPrefix("{\"format\":\"kmk-sync-export\",\"municipality\":\"0484\""))
        #expect(export.stdout.contains("Krogen Påhittad") && !export.stdout.contains("Bar Fiktiv"))

        let shell = try SQLiteShell.run(cli.path("eskilstuna.kmk"), "UPDATE venue SET staff_count = 15 WHERE id = '\(ids[0])';")
        #expect(shell.status == 0, "\(shell.stderr)")

        let log = try cli.run("log", "--limit", "5", "--json")
        #expect(log.status == 0)
        let first = log.stdout.split(separator: "\n")[1]
        #expect(first.contains("\"field\":\"staff_count\"") && first.contains("\"value\":15"), "\(first)")
        #expect(first.contains("\"clock\":\"") && first.contains("\"seq\":"))
        let table = try cli.run("log", "--limit", "3")
        #expect(table.stdout.contains("staff_count") && table.stdout.contains("local"))
    }

    @Test("errors name the field and allowed values, with documented exit codes")
    func errorsAndExitCodes() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "Narnia").status == 65)
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "1780").status == 0)
        let again = try cli.run("init", cli.path("a.kmk"), "--municipality", "1780")
        #expect(again.status == 73)
        #expect(again.stderr.contains("already exists"))

        let bad = try cli.run("venue", "add", "name=X", "membership=medlem")
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("membership") && bad.stderr.contains("applicant, member, left"))
        let missing = try cli.run("venue", "add", "name=X")
        #expect(missing.status == 65 && missing.stderr.contains("membership"))
        let unknownField = try cli.run("venue", "add", "namn=X")
        #expect(unknownField.status == 64 && unknownField.stderr.contains("has no field 'namn'"))
        // A wall clock that is not a time is a usage error (a bare "T" once crashed the parser);
        // an empty KMK_NOW is unset.
        cli.environment["KMK_NOW"] = "T"
        let badNow = try cli.run("venue", "list")
        #expect(badNow.status == 64 && badNow.stderr.contains("KMK_NOW='T' is not a time"), "\(badNow.stderr)")
        cli.environment["KMK_NOW"] = ""
        #expect(try cli.run("venue", "list").status == 0)
        cli.environment.removeValue(forKey: "KMK_NOW")
        let unknownEntity = try cli.run("set", "krog", "x")
        #expect(unknownEntity.status == 64)
        let date = try cli.run("training", "add", "held_on=2016-02-30", "organiser=police")
        #expect(date.status == 65 && date.stderr.contains("YYYY-MM-DD"))
        let noRecord = try cli.run("venue", "show", "11111111-1111-4111-8111-111111111111")
        #expect(noRecord.status == 66)
        let noReplica = try cli.run("venue", "list", "--replica", cli.path("none.kmk"))
        #expect(noReplica.status == 66 && noReplica.stderr.contains("kmk-sync init"))
        var noEnv = cli
        noEnv.environment["KMK_REPLICA"] = ""
        #expect(try noEnv.run("venue", "list").status == 64)
        #expect(try cli.run("--help").stdout.contains("75 temporary failure"))
    }

    @Test("porcelain for rounds and actions, lists and JSON")
    func roundsAndActions() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        cli.environment["KMK_NOW"] = "2016-05-10T12:00:00Z"
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "0484").status == 0)
        let venue = try cli.run("venue", "add", "name=Krogen Påhittad", "membership=member").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let round = try cli.run("round", "add", "venue=\(venue)", "held_on=2016-04-01", "time_of_day=evening",
                                "participants=police, municipality").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let action = try cli.run("round", "action", "add", round, "category=information", "due_on=2016-06-30")
        #expect(action.status == 0, "\(action.stderr)")
        let actionID = action.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("round", "action", "done", actionID).status == 0)
        let shown = try cli.run("action", "show", actionID)
        #expect(shown.stdout.contains("done") && shown.stdout.contains("2016-05-10"))
        let rounds = try cli.run("round", "list", "--json")
        #expect(rounds.stdout.contains("\"participants\":\"municipality,police\""))
        let list = try cli.run("venue", "list")
        #expect(list.stdout.split(separator: "\n").count == 2)
        #expect(list.stdout.hasPrefix("id "))
        // Deleting the venue leaves the round an orphan, flagged in lists.
        #expect(try cli.run("venue", "remove", venue).status == 0)
        #expect(try cli.run("round", "list").stdout.contains("orphan"))
        #expect(try cli.run("round", "list", "--json").stdout.contains("\"missing_references\":[\"venue\"]"))
        #expect(try cli.run("venue", "restore", venue).status == 0)
        #expect(!(try cli.run("round", "list").stdout.contains("orphan")))
    }

    @Test("import: a CSV venue list with a bad row writes nothing; a good one is imported")
    func csvImport() throws {
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_REPLICA"] = cli.path("a.kmk")
        #expect(try cli.run("init", cli.path("a.kmk"), "--municipality", "1283").status == 0)
        let bad = "namn;adress;medlemskap\nKrogen Ett;Storgatan 1;member\nKrogen Två;Storgatan 2;medlem\n"
        try bad.write(toFile: cli.path("bad.csv"), atomically: true, encoding: .utf8)
        let r = try cli.run("import", cli.path("bad.csv"))
        #expect(r.status == 65)
        #expect(r.stderr.contains("bad.csv:3") && r.stderr.contains("membership"))
        #expect(try cli.run("venue", "list", "--json").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let good = "namn;adress;medlemskap\nKrogen Ett;Storgatan 1;member\nKrogen Två;\"Storgatan 2; uppgång B\";applicant\n"
        try good.write(toFile: cli.path("good.csv"), atomically: true, encoding: .utf8)
        let ok = try cli.run("import", cli.path("good.csv"))
        #expect(ok.status == 0 && ok.stdout.contains("2 created"))
        #expect(try cli.run("venue", "list").stdout.contains("Storgatan 2; uppgång B"))
    }
}
