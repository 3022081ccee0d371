import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync criteria show|publish-default` (SPEC.md §12.1).
struct CriteriaGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "criteria",
        abstract: "The national KMK criteria: show them, or (styrgrupp, national replica) publish the default set.",
        discussion: """
            Criteria are national reference data. The styrgrupp edits them in its national replica \
            (kmk-sync init FILE --national) with the criteria-set and criterion commands, and pushes with its \
            styrgrupp token; every municipality's replica receives them read-only by pull.
            """,
        subcommands: [CriteriaShow.self, CriteriaPublishDefault.self, CriteriaNewVersion.self]
    )
}

struct CriteriaShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "List the criteria sets this replica holds and the one that applies.")
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("Show the set that applies on this date (default: today).", valueName: "YYYY-MM-DD")) var asOf: String?

    func run() throws {
        let replica = try options.open()
        let (sets, problems) = try replica.criteriaSets()
        let day = try reportDate(asOf)
        for s in sets {
            say("\(s.id)  \(s.name) version \(s.version), valid \(s.validFrom) to \(s.validUntil?.description ?? "(open)"), "
                + "\(s.criteria.count) criteria")
        }
        let applying = CriteriaSet.applying(on: day, from: sets)
        let set = applying ?? .kmkDefault
        say(applying == nil ? "On \(day) no set from the styrgrupp applies; reports use the built-in default:"
            : "On \(day) reports use \(set.name) version \(set.version):")
        var t = TextTable(header: ["code", "rule", "params", "", "text"])
        t.maxWidth = 90
        for c in set.criteria(.venue) + set.criteria(.municipality) {
            t.rows.append([c.code, c.rule, c.params.json, c.mandatory ? "must" : "should", c.textEN])
        }
        say(t.render())
        for p in problems { say("problem: \(p)") }
    }
}

struct CriteriaPublishDefault: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish-default",
        abstract: "Write the built-in default criteria set into the styrgrupp's national replica, to edit and push."
    )
    @OptionGroup var options: ReplicaOptions

    func run() throws {
        let replica = try options.open()
        guard replica.municipality.isNational else {
            throw CLIFailure.usage("criteria are written only in the styrgrupp's national replica (kmk-sync init FILE --national); "
                + "\(replica.municipality)'s replica receives them by pull")
        }
        let set = CriteriaSet.kmkDefault
        guard try replica.publishDefaultCriteria() else {
            say("the default set \(set.id) is already in this replica; edit it with kmk-sync criterion update, then push")
            return
        }
        say("wrote \(set.name) version \(set.version) with \(set.criteria.count) criteria (set \(set.id)); push it with kmk-sync push")
    }
}

struct CriteriaNewVersion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-version",
        abstract: "Copy a criteria set into a new version valid from a date, and close the old one the day before.",
        discussion: "Reports for dates before --valid-from keep the old criteria; edit the copy's criteria, then push."
    )
    @OptionGroup var options: ReplicaOptions
    @Option(help: ArgumentHelp("The set to copy.", valueName: "set-id")) var from: String
    @Option(help: ArgumentHelp("First day of the new version.", valueName: "YYYY-MM-DD")) var validFrom: String
    @Option(help: "Name of the new version (default: the old name).") var name: String?

    func run() throws {
        let replica = try options.open()
        guard replica.municipality.isNational else {
            throw CLIFailure.usage("criteria are written only in the styrgrupp's national replica (kmk-sync init FILE --national)")
        }
        guard let day = ISODate(validFrom) else { throw CLIFailure.usage("--valid-from '\(validFrom)' is not a date; use YYYY-MM-DD") }
        let (old, copy) = try replica.newCriteriaVersion(from: from, validFrom: day, name: name)
        let version = copy.version
        say("created \(copy.name) version \(version) (set \(copy.id)) valid from \(day) with \(copy.criteria.count) criteria; "
            + "\(old.name) version \(old.version) now ends \(day.adding(days: -1)). Edit the new criteria, then push")
        for c in copy.criteria { say("  \(c.id)  \(c.code)") }
    }
}
