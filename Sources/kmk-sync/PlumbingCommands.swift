import Foundation
import ArgumentParser
import KMKModel
import KMKReplica

/// `kmk-sync set ENTITY ID field=value…`
struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Create or update one record of any entity.",
        discussion: "Prints 'created' or 'updated'. See `kmk-sync schema` for the entities and fields."
    )

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The entity, e.g. venue.") var entity: String
    @Argument(help: "The record id (a UUID; the kommunkod for municipality).") var id: String
    @Argument(help: ArgumentHelp("Field values.", valueName: "field=value")) var fields: [String] = []

    func run() throws {
        let spec = try Schema.current.entityNamed(entity)
        let values = try FieldAssignments.parse(fields, for: spec)
        let created = try options.open().set(spec.name, id: id, fields: values)
        say(created ? "created \(spec.name) \(id.lowercased())" : "updated \(spec.name) \(id.lowercased())")
    }
}

/// `kmk-sync delete ENTITY ID`
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete one record of any entity.")

    @OptionGroup var options: ReplicaOptions
    @Argument(help: "The entity, e.g. venue.") var entity: String
    @Argument(help: "The record id.") var id: String

    func run() throws {
        let spec = try Schema.current.entityNamed(entity)
        try options.open().delete(spec.name, id: id.lowercased())
    }
}

/// `kmk-sync schema [ENTITY]`
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Describe the entities and their fields.")

    @Argument(help: "Only this entity.") var entity: String?
    @Flag(help: "Print the data model as the Markdown tables in SPEC.md.") var markdown = false

    func run() throws {
        if markdown {
            say(Schema.current.markdown())
            return
        }
        let entities = try entity.map { [try Schema.current.entityNamed($0)] } ?? Schema.current.entities
        say(entities.map { e in
            "\(e.name) (\(e.scope.rawValue)):\n" + FieldAssignments.help(for: e)
        }.joined(separator: "\n\n"))
    }
}

extension Schema {
    /// The entity with this name (also with `-` for `_`), or a usage error listing them.
    func entityNamed(_ name: String) throws -> EntitySpec {
        let key = name.replacingOccurrences(of: "-", with: "_")
        if let e = entity(key) ?? entities.first(where: { $0.name.replacingOccurrences(of: "_", with: "") == key }) {
            return e
        }
        throw ModelError(.unknownEntity, "unknown entity '\(name)'; known entities: \(entityNames.joined(separator: ", "))")
    }
}
