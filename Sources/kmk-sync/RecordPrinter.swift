import Foundation
import KMKModel
import KMKReplica

/// Prints records as an aligned table, as one record's fields, or as JSON.
enum RecordPrinter {
    /// The columns a list shows: the id, then up to six fields in their described order.
    static func table(_ records: [Record], entity e: EntitySpec, replica: Replica) throws -> String {
        let shown = Array(e.fields.filter { !$0.localOnly || $0.name != "notes" }.prefix(6))
        var table = TextTable(header: ["id"] + shown.map(\.name) + ["flags"])
        for r in records {
            let missing = try replica.missingReferences(r)
            let flags = missing.isEmpty ? "" : "orphan (missing \(missing.joined(separator: ", ")))"
            table.rows.append([r.id] + shown.map { $0.display(r[$0.name]) } + [flags])
        }
        return table.render()
    }

    /// One record, a field per line.
    static func detail(_ r: Record, entity e: EntitySpec, replica: Replica) throws -> String {
        let width = max(2, e.fields.map(\.name.count).max() ?? 0)
        var lines = ["id" + String(repeating: " ", count: width - 2) + "  " + r.id]
        for f in e.fields {
            let mark = f.localOnly ? "  (local-only)" : ""
            lines.append(f.name + String(repeating: " ", count: width - f.name.count) + "  " + f.display(r[f.name]) + mark)
        }
        let missing = try replica.missingReferences(r)
        if !missing.isEmpty {
            lines.append("orphan: \(missing.joined(separator: ", ")) points at a record that was deleted or is missing")
        }
        return lines.joined(separator: "\n")
    }

    /// Records as a JSON array, one canonical record per line; orphans carry `"missing_references"`.
    static func json(_ records: [Record], replica: Replica) throws -> String {
        if records.isEmpty { return "[]" }
        var lines: [String] = []
        for r in records {
            var line = r.canonicalJSON()
            let missing = try replica.missingReferences(r)
            if !missing.isEmpty {
                line.removeLast()
                line += ",\"missing_references\":[" + missing.map(CanonicalJSON.string).joined(separator: ",") + "]}"
            }
            lines.append(line)
        }
        return "[\n" + lines.joined(separator: ",\n") + "\n]"
    }
}
