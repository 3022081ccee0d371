import Foundation
import KMKModel

/// Reads `field=value` arguments against an entity's description.
enum FieldAssignments {
    /// The values by field name. An empty value means NULL. Errors name the field and what it allows.
    static func parse(_ arguments: [String], for entity: EntitySpec) throws -> [String: Value] {
        var out: [String: Value] = [:]
        for arg in arguments {
            guard let eq = arg.firstIndex(of: "=") else {
                throw CLIFailure.usage("'\(arg)' is not field=value; \(entity.name) fields are: "
                    + entity.fields.map(\.name).joined(separator: ", "))
            }
            let name = String(arg[..<eq]).trimmingCharacters(in: .whitespaces)
            guard let spec = entity.field(name) else {
                throw ModelError(.unknownField, "\(entity.name) has no field '\(name)'; its fields are: "
                    + entity.fields.map(\.name).joined(separator: ", "))
            }
            guard out[name] == nil else { throw CLIFailure.usage("field '\(name)' is given twice") }
            out[name] = try spec.parse(String(arg[arg.index(after: eq)...]))
        }
        return out
    }

    /// A help text listing an entity's fields: name, kind, required, local-only.
    static func help(for e: EntitySpec) -> String {
        var lines = ["\(e.summary) Fields (give them as field=value; an empty value clears a field):"]
        for f in e.fields {
            var flags: [String] = []
            if f.required { flags.append("required") }
            if f.localOnly { flags.append("local-only: never leaves this replica") }
            let tail = flags.isEmpty ? "" : " [" + flags.joined(separator: "; ") + "]"
            lines.append("  \(f.name): \(f.summary). Takes \(f.kind.allowed).\(tail)")
        }
        return lines.joined(separator: "\n")
    }
}
