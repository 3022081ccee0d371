import Foundation
import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync round add|list|show|update|remove|restore` and `round action add|done|list`.
struct RoundGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Work with environment rounds (krogmiljöronder) and their actions.",
        discussion: FieldAssignments.help(for: .round),
        subcommands: [
            AddRecord<RoundTag>.self, ListRecords<RoundTag>.self, ShowRecord<RoundTag>.self, UpdateRecord<RoundTag>.self,
            RemoveRecord<RoundTag>.self, RestoreRecord<RoundTag>.self, RoundActionGroup.self,
        ]
    )
}

struct RoundActionGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "action",
        abstract: "Actions (åtgärder) decided at a round.",
        discussion: FieldAssignments.help(for: .action),
        subcommands: [RoundActionAdd.self, RoundActionDone.self, RoundActionList.self]
    )
}

struct RoundActionAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add an action to a round and print its id (status defaults to open).",
        discussion: FieldAssignments.help(for: .action))

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The round's id.") var round: String
    @Argument(help: ArgumentHelp("Field values, e.g. category=information due_on=2016-06-30.", valueName: "field=value"))
    var fields: [String] = []

    func run() throws {
        var values = try FieldAssignments.parse(fields, for: .action)
        values["round"] = try EntitySpec.action.field("round")!.parse(round)
        if values["status"] == nil { values["status"] = .text("open") }
        let replica = try options.open()
        say(try replica.insert(EntitySpec.action.name, fields: values))
    }
}

struct RoundActionDone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "done", abstract: "Mark an action done (or dropped) on a date.")

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The action's id.") var action: String
    @Option(help: "The date it was done (default: today).") var on: String?
    @Flag(help: "Mark it dropped instead of done.") var dropped = false

    func run() throws {
        let replica = try options.open()
        let date = try on.map { try EntitySpec.action.field("done_on")!.parse($0) }
            ?? .text(ISODate(unixMillis: Int64(try Environment.wallClock()())).description)
        try replica.update(EntitySpec.action.name, id: action,
                           fields: ["status": .text(dropped ? "dropped" : "done"), "done_on": date])
    }
}

struct RoundActionList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List actions, of one round or all.")

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "Only this round's actions.") var round: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let replica = try options.open()
        let records = try replica.records(EntitySpec.action.name).filter { round == nil || $0["round"].text == round?.lowercased() }
        say(json ? try RecordPrinter.json(records, replica: replica)
                 : try RecordPrinter.table(records, entity: .action, replica: replica))
    }
}
