import Foundation
import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync ENTITY add|list|show|update|remove|restore`, the same for every entity, with the
/// fields taken from the schema.
struct EntityGroup<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Tag.commandName,
            abstract: "Work with \(Tag.spec.name) records: \(Tag.spec.summary)",
            discussion: FieldAssignments.help(for: Tag.spec),
            subcommands: [
                AddRecord<Tag>.self, ListRecords<Tag>.self, ShowRecord<Tag>.self, UpdateRecord<Tag>.self,
                RemoveRecord<Tag>.self, RestoreRecord<Tag>.self,
            ],
            aliases: Tag.aliases
        )
    }
}

struct AddRecord<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "add", abstract: "Add a \(Tag.spec.name) and print its new id.",
                             discussion: FieldAssignments.help(for: Tag.spec))
    }

    @OptionGroup var options: ReplicaOptions
    @Argument(help: ArgumentHelp("Field values.", valueName: "field=value"))
    var fields: [String] = []

    func run() throws {
        let values = try FieldAssignments.parse(fields, for: Tag.spec)
        let replica = try options.open()
        say(try replica.insert(Tag.spec.name, fields: values))
    }
}

struct ListRecords<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List \(Tag.spec.name) records (an aligned table, or --json).")
    }

    @OptionGroup var options: ReplicaOptions
    @Flag(help: "Print JSON: one record per line, all fields.") var json = false
    @Option(help: ArgumentHelp("Only records whose field has this value.", valueName: "field=value"))
    var filter: [String] = []

    func run() throws {
        let replica = try options.open()
        let wanted = try FieldAssignments.parse(filter, for: Tag.spec)
        let records = try replica.records(Tag.spec.name).filter { r in wanted.allSatisfy { r[$0.key] == $0.value } }
        say(json ? try RecordPrinter.json(records, replica: replica)
                 : try RecordPrinter.table(records, entity: Tag.spec, replica: replica))
    }
}

struct ShowRecord<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "show", abstract: "Show every field of one \(Tag.spec.name).")
    }

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The record id.") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let replica = try options.open()
        guard let r = try replica.record(Tag.spec.name, id: id) else {
            throw ReplicaError(.notFound, "no \(Tag.spec.name) with id \(id); list them with: kmk-sync \(Tag.commandName) list")
        }
        say(json ? try RecordPrinter.json([r], replica: replica) : try RecordPrinter.detail(r, entity: Tag.spec, replica: replica))
    }
}

struct UpdateRecord<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "update", abstract: "Change fields of one \(Tag.spec.name).",
                             discussion: FieldAssignments.help(for: Tag.spec))
    }

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The record id.") var id: String
    @Argument(help: ArgumentHelp("Field values; an empty value clears a field.", valueName: "field=value"))
    var fields: [String]

    func run() throws {
        let values = try FieldAssignments.parse(fields, for: Tag.spec)
        let replica = try options.open()
        try replica.update(Tag.spec.name, id: id, fields: values)
    }
}

struct RemoveRecord<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "remove", abstract: "Delete one \(Tag.spec.name) (it can be restored).",
                             aliases: ["delete"])
    }

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The record id.") var id: String

    func run() throws {
        try options.open().delete(Tag.spec.name, id: id)
    }
}

struct RestoreRecord<Tag: EntityTag>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "restore",
                             abstract: "Re-create a deleted \(Tag.spec.name) with its last synced field values.")
    }

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The record id.") var id: String

    func run() throws {
        try options.open().restore(Tag.spec.name, id: id)
    }
}
